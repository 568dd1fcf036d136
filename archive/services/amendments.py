"""Amendments (更正): the only way a stored document changes. The agency that uploaded it asks,
with a reason and the corrected file; the supervising level (the district office, or the city
office for agencies directly under the city) approves or rejects; never the requester.
Approval adds a version; the earlier one stays stored, retained, readable and searchable."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.db import compare_and_set, get_or_404, lock_row
from archive.errors import Conflict, REQUIRED, TooLarge, ValidationFailed
from archive.extraction import detect_media_type
from archive.jobs import enqueue
from archive.models import Amendment, Case, Document, DocumentVersion, Organisation, new_id
from archive.auth import policy
from archive.clock import now as server_now
from archive.services.caller import Caller
from archive.services.holds import hold_new
from archive.services import examinations
from archive.services.renditions import enqueue_for
from archive.services.objects import HashingSpool, IngestSettings, clean_filename, object_metadata
from archive.storage.base import ObjectStore

log = logging.getLogger(__name__)


def amendment_key(case_id: str, key_id: str) -> str:
    return f"cases/{case_id}/amendments/{key_id}"


def request(session: Session, store: ObjectStore, settings: IngestSettings, doc: Document, *, by: str,
            reason: str, filename: str | None, spool: HashingSpool) -> Amendment:
    """File an amendment request; the corrected file is stored (retained) until it is decided."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("say why the document must be corrected", {"reason": [REQUIRED]})
    if spool.size == 0:
        raise ValidationFailed("empty file", {"file": ["the corrected file is empty"]})
    if spool.size > settings.max_bytes:
        raise TooLarge(f"file larger than {settings.max_bytes} bytes")
    pending = session.scalar(select(Amendment.id).where(Amendment.document_id == doc.id,
                                                        Amendment.status == "pending"))
    if pending is not None:
        raise Conflict(f"amendment {pending} for this document is still pending")
    case: Case = doc.case
    spool.seek(0)
    media_type = detect_media_type(spool)
    spool.seek(0)
    now = server_now()
    key = amendment_key(case.id, new_id())
    meta = {"schema": "case-archive/1", "object": "amendment", "doc-id": doc.id, "case-id": case.id,
            "sha256": spool.sha256, "sm3": spool.sm3, "size": str(spool.size), "filename": clean_filename(filename),
            "requested-by": by, "requested-at": now.isoformat()}
    put = store.put(key, spool, spool.size, meta, media_type, settings.until(now, case.procedure))
    hold_new(session, store, case.id, key, put.version_id)
    a = Amendment(document_id=doc.id, case_id=case.id, agency_code=case.agency_code, reason=reason,
                  requested_by=by, requested_at=now, object_key=key, version_id=put.version_id,
                  filename=clean_filename(filename), media_type=media_type, size=spool.size,
                  sha256=spool.sha256, sm3=spool.sm3, status="pending")
    session.add(a)
    try:
        session.flush()  # the partial unique index keeps one pending amendment per document
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("another amendment for this document is still pending") from exc
    return a


def supervising_role(session: Session, agency_code: str) -> tuple[str, str | None]:
    """(role, organisation code) of the level that approves amendments for ``agency_code``."""
    agency = session.get(Organisation, agency_code)
    parent = session.get(Organisation, agency.parent_code) if agency and agency.parent_code else None
    if parent is not None and parent.level == "district":
        return "district_office", parent.code
    return "city_office", parent.code if parent is not None else None


def decide(session: Session, a: Amendment, *, by: str, approve: bool, note: str) -> Amendment:
    """Approve or reject (who may: ``policy.decides_amendment``), exactly once: a compare-and-set
    on the pending status, so of any number of concurrent decisions one succeeds and the others
    are refused (Conflict).

    Approval only records the decision and a durable job (committed by the caller together);
    the new version is written by :func:`apply_approved` after the commit, so a failed commit
    never leaves an object behind, and a failure after it is retried by the worker."""
    if a.status != "pending":
        raise Conflict(f"the amendment was {a.status} already")
    note = (note or "").strip()
    if not approve and not note:
        raise ValidationFailed("a rejection states its reason", {"note": ["驳回时请写明理由 / required when rejecting"]})
    now = server_now()
    if not compare_and_set(session, update(Amendment).where(Amendment.id == a.id, Amendment.status == "pending")
        .values(status="approved" if approve else "rejected", decided_by=by, decided_at=now,
                decision_note=note or None)):
        session.rollback()
        raise Conflict("the amendment was decided already")
    if approve:
        enqueue(session, "amend", a.document_id)
    session.flush()
    session.refresh(a)
    return a


def _stored_copy(store: ObjectStore, key: str, known: set[str], amendment_id: int) -> str | None:
    """The version of ``key`` an earlier, interrupted application of the amendment wrote."""
    for k, version_id in store.keys(key):
        if k == key and version_id not in known and \
                store.stat(key, version_id).metadata.get("amendment-id") == str(amendment_id):
            return version_id
    return None


def apply_approved(session: Session, store: ObjectStore, amendment_id: int) -> bool:
    """Make an approved amendment's file the document's new version; idempotent.

    The document row is locked while the version is written, so two runs (the request and the
    worker) never both write one. If the object was written but the commit failed, the next
    run finds that version by its metadata (``amendment-id``) instead of writing another.
    Returns True when this call applied it."""
    a = session.get(Amendment, amendment_id)
    if a is None or a.status != "approved":
        return False
    lock_row(session, Case, a.case_id)  # as uploads and complaint links do: the hold is decided under it
    lock_row(session, Document, a.document_id)
    session.refresh(a)
    if a.new_version_no is not None:
        session.rollback()
        return False
    doc = session.get(Document, a.document_id)
    if doc is None:  # pragma: no cover - rows are never deleted
        return False
    session.refresh(doc)
    case: Case = doc.case
    now = server_now()
    known = {doc.version_id} | set(session.scalars(select(DocumentVersion.version_id).where(
        DocumentVersion.document_id == doc.id)))
    version_id = _stored_copy(store, doc.object_key, known, a.id)
    old = DocumentVersion(
        document_id=doc.id, version_no=doc.version_no, object_key=doc.object_key, version_id=doc.version_id,
        filename=doc.filename, media_type=doc.media_type, size=doc.size, sha256=doc.sha256, sm3=doc.sm3,
        uploaded_at=_version_time(session, doc), uploader=doc.uploader, text_content=doc.text_content,
        superseded_at=a.decided_at or now, amendment_id=a.id)
    new_no = doc.version_no + 1
    doc.filename, doc.media_type, doc.size, doc.sha256, doc.sm3 = a.filename, a.media_type, a.size, a.sha256, a.sm3
    doc.version_no = new_no
    if version_id is None:
        completed = next((s.completed_at for s in case.stages if s.stage == doc.stage), None)
        meta = object_metadata(case, doc, completed) | {"version-no": str(new_no), "amendment-id": str(a.id),
                                                        "amended-at": (a.decided_at or now).isoformat()}
        spool = HashingSpool()
        for chunk in store.open(a.object_key, a.version_id):
            spool.write(chunk)
        if spool.sha256 != a.sha256:
            session.rollback()
            raise Conflict("the stored corrected file no longer matches its checksum; run `archive fixity`")
        spool.seek(0)
        # retained as long as the corrected file, which was retained by the case's procedure
        until = store.stat(a.object_key, a.version_id).retain_until
        if until is None:
            session.rollback()
            raise Conflict("the corrected file carries no retention date; run `archive fixity`")
        version_id = store.put(doc.object_key, spool, spool.size, meta, doc.media_type, until).version_id
    session.add(old)
    doc.version_id = version_id
    hold_new(session, store, case.id, doc.object_key, version_id)
    doc.text_status, doc.text_content, doc.text_reason, doc.page_count = "pending", None, None, None
    doc.ocr_confidence = doc.ocr_engine = None  # the new version is read afresh (by OCR if a scan)
    a.new_version_no = new_no
    case.changed_at = now
    enqueue(session, "versions", doc.id)
    enqueue_for(session, doc)  # the new version's rendition
    examinations.enqueue_for(session, doc)  # and its examination
    session.commit()
    return True


def pending_application(session: Session, doc_id: str, metadata: dict[str, str]) -> bool:
    """True when an object version of the document was written by an approved amendment whose
    application has not committed yet (the archive's own work in progress, not an alteration)."""
    amendment_id = metadata.get("amendment-id", "")
    if not amendment_id.isdecimal() or len(amendment_id) > 12:
        return False
    a = session.get(Amendment, int(amendment_id))
    return a is not None and a.document_id == doc_id and a.status == "approved" and a.new_version_no is None


def _version_time(session: Session, doc: Document) -> dt.datetime:
    """When the current version was stored: the upload, or the approval that made it current
    (when the version before it was superseded; the same figure a rebuild finds in metadata)."""
    replaced = session.scalar(select(func.max(DocumentVersion.superseded_at)).where(
        DocumentVersion.document_id == doc.id))
    return replaced or doc.uploaded_at


def versions(session: Session, doc: Document) -> list[dict]:
    """Every version, oldest first, the current one last."""
    out = [{"version": v.version_no, "current": False, "filename": v.filename, "media_type": v.media_type,
            "size": v.size, "sha256": v.sha256, "sm3": v.sm3, "version_id": v.version_id, "stored_at": v.uploaded_at,
            "superseded_at": v.superseded_at, "amendment_id": v.amendment_id}
           for v in session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc.id)
                                    .order_by(DocumentVersion.version_no))]
    out.append({"version": doc.version_no, "current": True, "filename": doc.filename, "media_type": doc.media_type,
                "size": doc.size, "sha256": doc.sha256, "sm3": doc.sm3, "version_id": doc.version_id,
                "stored_at": _version_time(session, doc), "superseded_at": None, "amendment_id": None})
    return out


def get(session: Session, amendment_id: int) -> Amendment:
    return get_or_404(session, Amendment, amendment_id, "amendment")


def view(a: Amendment) -> dict:
    return {"id": a.id, "document_id": a.document_id, "case_id": a.case_id, "agency": a.agency_code,
            "reason": a.reason, "requested_by": a.requested_by, "requested_at": a.requested_at,
            "filename": a.filename, "media_type": a.media_type, "size": a.size, "sha256": a.sha256,
            "status": a.status, "decided_by": a.decided_by, "decided_at": a.decided_at,
            "decision_note": a.decision_note, "new_version_no": a.new_version_no}


# -- use cases: the API and the pages call these with the request's Caller ----------------------

def scoped(c: Caller, amendment_id: int) -> Amendment:
    """The amendment if its agency is in the caller's scope; else the 404 a missing id gets."""
    a = get(c.session, amendment_id)
    if not policy.reads_agency(c.principal, a.agency_code):
        c.refuse("amendment", str(amendment_id), visible=False, why="outside your scope")
    return a


def ask(c: Caller, doc: Document, filename: str | None, spool, reason: str) -> Amendment:
    """The document's agency asks for a correction: the corrected file is stored (retained,
    waiting for the decision) and the request committed; one pending request per document."""
    if not policy.writes_agency(c.principal, doc.case.agency_code):
        c.refuse("document", doc.id, visible=True, why="amendments are requested by the document's agency")
    with c.transaction():
        a = request(c.session, c.store, c.settings, doc, by=c.username, reason=reason, filename=filename, spool=spool)
    c.audit("amendment.request", "amendment", str(a.id), document_id=doc.id, sha256=a.sha256, reason=a.reason)
    return a


def decide_as(c: Caller, a: Amendment, *, approve: bool, note: str) -> Amendment:
    """The supervising level decides (never the requester): the decision committed exactly once,
    then an approval writes the new version (or the queued job does, if the store fails now)."""
    session, p = c.session, c.principal
    role, _ = supervising_role(session, a.agency_code)
    if not policy.decides_amendment(p, role, a.agency_code, a.requested_by):
        why = "the requester never decides their own amendment" if p.username == a.requested_by \
            else f"amendments of {a.agency_code} are decided by its {role}, not a {p.role}"
        c.refuse("amendment", str(a.id), visible=True, why=why)
    with c.transaction():
        decide(session, a, by=p.username, approve=approve, note=note)
    if a.status == "approved":
        # After the commit; if the store fails now, the queued job applies it later.
        try:
            apply_approved(session, c.store, a.id)
        except Exception as exc:  # noqa: BLE001 - the decision stands; the worker retries
            session.rollback()
            log.warning("amendment %s approved; its new version will be written by the worker: %s", a.id, exc)
        session.refresh(a)
    c.audit("amendment.decide", "amendment", str(a.id), document_id=a.document_id, status=a.status,
            note=a.decision_note, version=a.new_version_no)
    return a
