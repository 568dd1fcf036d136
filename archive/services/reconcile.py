"""Reconcile the object store with the database: orphans and missing objects."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.models import Document, DocumentVersion
from archive.services.amendments import pending_application
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
    # a document destroyed at the end of its retention (销毁) is gone on purpose
    known = {(d.object_key, d.version_id): d.id for d in session.scalars(
        select(Document).where(Document.disposed_at.is_(None)))}
    # earlier versions that approved amendments superseded are catalogued too
    known |= {(k, v): doc_id for k, v, doc_id in session.execute(
        select(DocumentVersion.object_key, DocumentVersion.version_id, DocumentVersion.document_id)
        .join(Document, Document.id == DocumentVersion.document_id).where(Document.disposed_at.is_(None)))}
    report.checked_rows = len(known)
    seen = set()
    for key, version in store.keys("cases/"):
        if key.count("/") != 3 or "/documents/" not in key:
            continue
        report.checked_objects += 1
        seen.add((key, version))
        if (key, version) not in known:
            info = store.stat(key, version)
            if pending_application(session, key.rsplit("/", 1)[-1], info.metadata):
                continue  # an approved amendment's version, catalogued when its job runs
            report.orphans.append({"key": key, "version_id": version, "size": info.size,
                                   "metadata": info.metadata})
    for (key, version), doc_id in known.items():
        if (key, version) not in seen:
            try:
                store.stat(key, version)
            except ObjectNotFound:
                report.missing.append({"document_id": doc_id, "key": key, "version_id": version})
    return report


def repair(session: Session, store: ObjectStore, settings, report: ReconcileReport) -> list[str]:
    """Catalogue orphan documents from their metadata (their case from its manifest if it is
    missing too) and rewrite missing or stale case manifests. Missing objects cannot be
    repaired: ``archive fixity`` records them and warns the district office."""
    from archive.models import Case
    from archive.services.rebuild import _document_versions, manifest_key, restore_case, restore_document, write_manifest

    done = []
    for key in sorted({o["key"] for o in report.orphans}):
        meta = next(o["metadata"] for o in report.orphans if o["key"] == key)
        doc_id, case_id = meta.get("doc-id"), meta.get("case-id")
        if not doc_id or session.get(Document, doc_id) is not None:
            done.append(f"{key}: not repaired (a version of a known document written outside the archive; "
                        "see archive fixity)")
            continue
        if session.get(Case, case_id) is None:
            restore_case(session, store, case_id, meta)
        restore_document(session, store, key, _document_versions(store, key))
        session.commit()
        done.append(f"{key}: document {doc_id} catalogued and queued for indexing")
    for case in session.scalars(select(Case)):
        from archive.models import CasePeriod

        n_periods = session.scalar(select(func.count()).select_from(CasePeriod).where(CasePeriod.case_id == case.id))
        stages = ",".join(s.stage for s in sorted(case.stages, key=lambda s: s.id)) + f";periods={n_periods}"
        try:
            stale = store.stat(manifest_key(case.id)).metadata.get("stages", "") != stages
        except ObjectNotFound:
            stale = True
        if stale:
            write_manifest(session, store, settings, case)
            done.append(f"{manifest_key(case.id)}: manifest written")
    return done
