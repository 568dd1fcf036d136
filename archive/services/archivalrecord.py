"""The archival record of a case in the object store (``archival/<case id>.json``): what the
database knows of its 归档 (档号, 保管期限, status, metadata as filed), its appraisals (鉴定) and,
once a disposal is approved, the tombstone of the 销毁 — the case manifest and every document
with its SHA-256 and size (the 销毁清册 entry). A new version is written at each change (filed,
kept longer, transferred, disposing, disposed); ``rebuild`` restores the archival state from
the newest. It lies outside ``cases/<id>/`` so that the disposal, which removes every version
under that prefix, leaves it; it is retained as long as the archive keeps anything permanent."""
from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Appraisal, ArchivalFile, Case, Document
from archive.services.objects import IngestSettings
from archive.storage.base import ObjectNotFound, ObjectStore

SCHEMA = "case-archive/archival/1"
PREFIX = "archival/"


def record_key(case_id: str) -> str:
    return f"{PREFIX}{case_id}.json"


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def appraisal_view(a: Appraisal) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "status": a.status, "archival_no": a.archival_no,
            "retention_before": a.retention_before, "until_before": _iso(a.until_before),
            "retention_after": a.retention_after, "until_after": _iso(a.until_after), "reason": a.reason,
            "proposed_by": a.proposed_by, "proposed_role": a.proposed_role, "proposed_at": _iso(a.proposed_at),
            "decided_by": a.decided_by, "decided_role": a.decided_role, "decided_at": _iso(a.decided_at),
            "decision_note": a.decision_note, "disposed_at": _iso(a.disposed_at),
            "register": json.loads(a.register or "{}"), "register_sha256": a.register_sha256}


def document_view(d: Document) -> dict[str, Any]:
    return {"id": d.id, "stage": d.stage, "form_code": d.form_code, "filename": d.filename,
            "media_type": d.media_type, "size": d.size, "sha256": d.sha256, "sm3": d.sm3,
            "object_key": d.object_key, "version_id": d.version_id, "uploaded_at": _iso(d.uploaded_at),
            "uploader": d.uploader, "version_no": d.version_no, "disposed_at": _iso(d.disposed_at)}


def build(session: Session, case_id: str, manifest: dict | None) -> dict[str, Any] | None:
    """The record as the database has it now (None: the case is not filed). ``manifest`` (the
    case's, for a disposal, whose ``case.json`` goes with the rest) and the documents are
    included once a disposal is under way."""
    row = session.get(ArchivalFile, case_id)
    if row is None:
        return None
    appraisals = session.scalars(select(Appraisal).where(Appraisal.case_id == case_id).order_by(Appraisal.id)).all()
    body: dict[str, Any] = {
        "schema": SCHEMA, "case_id": case_id,
        "file": {"archival_no": row.archival_no, "agency_code": row.agency_code, "year": row.year,
                 "retention": row.retention, "piece": row.piece, "retain_until": _iso(row.retain_until),
                 "status": row.status, "filed_at": _iso(row.filed_at), "filed_by": row.filed_by,
                 "metadata": json.loads(row.metadata_json or "{}")},
        "appraisals": [appraisal_view(a) for a in appraisals],
    }
    if row.status in ("disposing", "disposed"):
        case = session.get(Case, case_id)
        assert case is not None
        body["manifest"] = manifest
        body["documents"] = [document_view(d) for d in sorted(case.documents, key=lambda d: (d.uploaded_at, d.id))]
    return body


def write(session: Session, store: ObjectStore, settings: IngestSettings, case_id: str, manifest: dict | None,
          now: dt.datetime) -> str | None:
    """Store a new version of the case's record (its ``revision`` one above the versions
    already stored); returns its version id, None when the case is not filed."""
    body = build(session, case_id, manifest)
    if body is None:
        return None
    key = record_key(case_id)
    body["revision"] = sum(1 for k, _ in store.keys(key) if k == key) + 1
    body["written_at"] = now.isoformat()
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    put = store.put(key, io.BytesIO(data), len(data),
                    {"schema": SCHEMA, "case-id": case_id, "status": body["file"]["status"]},
                    "application/json", settings.until(now, None))
    return put.version_id


def newest(store: ObjectStore, key: str) -> dict[str, Any] | None:
    """The newest version of a record (the highest revision; the later write on a tie)."""
    best: dict[str, Any] | None = None
    for k, version in store.keys(key):
        if k != key:
            continue
        try:
            body = json.loads(b"".join(store.open(k, version)).decode("utf-8"))
        except (ObjectNotFound, ValueError):
            continue
        if body.get("schema") != SCHEMA:
            continue
        if best is None or (body.get("revision", 0), body.get("written_at", "")) > \
                (best.get("revision", 0), best.get("written_at", "")):
            best = body
    return best


def all_records(store: ObjectStore) -> dict[str, dict[str, Any]]:
    """Every case's newest record, by case id."""
    keys = sorted({k for k, _ in store.keys(PREFIX) if k.endswith(".json")})
    out = {}
    for key in keys:
        body = newest(store, key)
        if body is not None:
            out[body["case_id"]] = body
    return out
