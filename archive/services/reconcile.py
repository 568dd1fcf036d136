"""Reconcile the object store with the database: orphans and missing objects."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Document
from archive.storage.base import ObjectNotFound, ObjectStore


@dataclass
class ReconcileReport:
    """Objects without a row (e.g. a crash between the object write and the commit), and rows
    whose object version is gone."""

    orphans: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    checked_objects: int = 0
    checked_rows: int = 0


def reconcile(session: Session, store: ObjectStore) -> ReconcileReport:
    """Compare every stored document version with the catalog."""
    report = ReconcileReport()
    known = {(d.object_key, d.version_id): d.id for d in session.scalars(select(Document))}
    report.checked_rows = len(known)
    seen = set()
    for key, version in store.keys("cases/"):
        if "/documents/" not in key:
            continue
        report.checked_objects += 1
        seen.add((key, version))
        if (key, version) not in known:
            info = store.stat(key, version)
            report.orphans.append({"key": key, "version_id": version, "size": info.size,
                                   "metadata": info.metadata})
    for (key, version), doc_id in known.items():
        if (key, version) not in seen:
            try:
                store.stat(key, version)
            except ObjectNotFound:
                report.missing.append({"document_id": doc_id, "key": key, "version_id": version})
    return report
