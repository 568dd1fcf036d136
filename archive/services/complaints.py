"""Complaints (投诉举报) and the legal hold they put on the cases they concern.

While any open complaint links a case, every stored version of its documents (and of their
amendment files) carries an S3 legal hold, which no credential can delete through; closing
the last such complaint lifts it."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.db import compare_and_set, get_or_404, lock_row
from archive.errors import Conflict, REQUIRED, ValidationFailed
from archive.jobs import enqueue
from archive.models import (
    Amendment, Case, Complaint, ComplaintAttachment, ComplaintLink, ComplaintStep, Document, DocumentVersion,
    Job, Organisation,
)
from archive.auth import policy
from archive.clock import SHANGHAI, now as server_now
from archive.services.caller import Caller
from archive.services.holds import case_held, hold_new  # noqa: F401  (hold_new: callers know it here)
from archive.storage.base import ObjectStore, StorageError

log = logging.getLogger(__name__)


def case_objects(session: Session, case_id: str) -> list[tuple[str, str]]:
    """Every (key, version id) stored for the case: documents, earlier versions, amendment files
    (none once the case was destroyed at the end of its retention: 销毁)."""
    from archive.models import ArchivalFile

    filed = session.get(ArchivalFile, case_id)
    if filed is not None and filed.status == "disposed":
        return []
    out = [(k, v) for k, v in session.execute(select(Document.object_key, Document.version_id)
                                              .where(Document.case_id == case_id))]
    out += [(k, v) for k, v in session.execute(
        select(DocumentVersion.object_key, DocumentVersion.version_id)
        .join(Document, Document.id == DocumentVersion.document_id).where(Document.case_id == case_id))]
    out += [(k, v) for k, v in session.execute(select(Amendment.object_key, Amendment.version_id)
                                               .where(Amendment.case_id == case_id))]
    return out


def sync_hold(session: Session, store: ObjectStore, case_id: str) -> bool:
    """Put or lift the legal hold on all the case's objects to match its complaints; idempotent."""
    on = case_held(session, case_id)
    for key, version in case_objects(session, case_id):
        store.set_legal_hold(key, version, on)
    return on


def _district_of(session: Session, agency_code: str | None) -> str | None:
    org = session.get(Organisation, agency_code) if agency_code else None
    if org is None:
        return None
    parent = session.get(Organisation, org.parent_code) if org.parent_code else None
    return parent.code if parent is not None and parent.level == "district" else None


def create(session: Session, data: dict, *, by: str, default_district: str | None) -> Complaint:
    errors: dict[str, list[str]] = {}
    for f in ("complainant", "text"):
        if not (data.get(f) or "").strip():
            errors[f] = [REQUIRED]
    received: dt.datetime = data["received_at"]
    if received > server_now() + dt.timedelta(minutes=5):
        errors["received_at"] = ["不能晚于当前时间 / a complaint cannot be received in the future"]
    agency = data.get("agency")
    if agency and session.get(Organisation, agency) is None:
        errors["agency"] = [f"no organisation {agency}"]
    if errors:
        raise ValidationFailed("the complaint is not complete", errors)
    now = server_now()
    c = Complaint(received_at=received, complainant=data["complainant"].strip(),
                  contact=(data.get("contact") or "").strip()[:200] or None, agency_code=agency or None,
                  district_code=_district_of(session, agency) or default_district, text=data["text"].strip(),
                  status="open", created_by=by, created_at=now)
    session.add(c)
    session.flush()
    return c


def link(session: Session, store: ObjectStore, complaint: Complaint, case: Case, *, by: str) -> ComplaintLink:
    """Link a case; its objects go on legal hold before the link is committed."""
    if complaint.status != "open":
        raise Conflict("the complaint is closed")
    # Uploads into the case lock its row before deciding on a hold: after this lock, every
    # version either is in case_objects below or will find the link when its upload commits.
    lock_row(session, Case, case.id)
    existing = session.scalar(select(ComplaintLink).where(ComplaintLink.complaint_id == complaint.id,
                                                          ComplaintLink.case_id == case.id))
    if existing is not None:
        return existing
    ln = ComplaintLink(complaint_id=complaint.id, case_id=case.id, linked_by=by, linked_at=server_now())
    session.add(ln)
    session.flush()
    sync_hold(session, store, case.id)  # a storage failure raises: nothing is committed
    return ln


def close(session: Session, store: ObjectStore, complaint: Complaint, *, by: str, handling: str,
          outcome: str) -> list[str]:
    """Close with what was done and the outcome; lift the hold of cases no other open complaint
    names. Returns the case ids whose hold was lifted."""
    if complaint.status != "open":
        raise Conflict("the complaint is closed already")
    if not outcome.strip() or not handling.strip():
        raise ValidationFailed("record the handling and the outcome", {"outcome": [REQUIRED], "handling": [REQUIRED]})
    now = server_now()
    if not compare_and_set(session, update(Complaint).where(Complaint.id == complaint.id, Complaint.status == "open")
                          .values(status="closed", closed_by=by, closed_at=now, handling=handling.strip(),
                                  outcome=outcome.strip())):
        session.rollback()
        raise Conflict("the complaint is closed already")
    case_ids = list(session.scalars(select(ComplaintLink.case_id).where(ComplaintLink.complaint_id == complaint.id)))
    # Holds are lifted only after the close is committed (a failed commit leaves them on); the
    # jobs committed with it lift them again if this process dies or the store fails first.
    jobs = {case_id: enqueue(session, "hold", case_id) for case_id in case_ids}
    session.commit()
    session.refresh(complaint)
    released, synced = [], []
    for case_id in case_ids:
        try:
            if not sync_hold(session, store, case_id):
                released.append(case_id)
            synced.append(jobs[case_id].id)
        except StorageError as exc:
            log.warning("lifting the hold of case %s waits for the worker: %s", case_id, exc)
    if synced:  # done here; the others stay queued
        session.execute(update(Job).where(Job.id.in_(synced), Job.done_at.is_(None)).values(done_at=server_now(), attempts=1))
    session.commit()
    return released


def add_step(session: Session, complaint: Complaint, *, by: str, done_on: dt.date, text: str) -> ComplaintStep:
    """Record one step of the handling (appended, never changed); only while the complaint is open."""
    if complaint.status != "open":
        raise Conflict("the complaint is closed")
    errors: dict[str, list[str]] = {}
    if not (text or "").strip():
        errors["text"] = ["请写明办理情况 / required"]
    if done_on > server_now().astimezone(SHANGHAI).date():
        errors["done_on"] = ["不能晚于今天 / in the future"]
    elif done_on < complaint.received_at.astimezone(SHANGHAI).date():
        errors["done_on"] = ["不能早于收到投诉的日期 / before the complaint was received"]
    if errors:
        raise ValidationFailed("the handling step is not complete", errors)
    step = ComplaintStep(complaint_id=complaint.id, done_on=done_on, text=text.strip()[:5000], recorded_by=by,
                         recorded_at=server_now())
    session.add(step)
    session.flush()
    return step


def attach(session: Session, store: ObjectStore, settings, complaint: Complaint, *, by: str, filename: str | None,
           spool) -> ComplaintAttachment:
    """Store a file that came with the complaint: the object first (a retained version under
    ``complaints/<id>/attachments/<attachment id>``, never overwritten), then its row."""
    from archive.models import new_id
    from archive.services.attachments import store_file

    a = store_file(store, settings, ComplaintAttachment(id=new_id(), complaint_id=complaint.id),
                   key_prefix=f"complaints/{complaint.id}/attachments", metadata={"complaint-id": str(complaint.id)},
                   by=by, filename=filename, spool=spool)
    session.add(a)
    session.flush()
    return a


def get(session: Session, complaint_id: int) -> Complaint:
    return get_or_404(session, Complaint, complaint_id, "complaint")


def view(session: Session, c: Complaint) -> dict:
    links = session.execute(select(ComplaintLink, Case.number).join(Case, Case.id == ComplaintLink.case_id)
                            .where(ComplaintLink.complaint_id == c.id).order_by(ComplaintLink.id)).all()
    files = session.scalars(select(ComplaintAttachment).where(ComplaintAttachment.complaint_id == c.id)
                            .order_by(ComplaintAttachment.uploaded_at, ComplaintAttachment.id)).all()
    steps = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == c.id)
                            .order_by(ComplaintStep.done_on, ComplaintStep.id)).all()
    return {"id": c.id, "received_at": c.received_at, "complainant": c.complainant, "contact": c.contact,
            "agency": c.agency_code,
            "attachments": [{"id": f.id, "filename": f.filename, "media_type": f.media_type, "size": f.size,
                             "sha256": f.sha256, "uploaded_by": f.uploaded_by, "uploaded_at": f.uploaded_at}
                            for f in files],
            "steps": [{"id": st.id, "done_on": st.done_on, "text": st.text, "recorded_by": st.recorded_by,
                       "recorded_at": st.recorded_at} for st in steps],
            "district": c.district_code, "text": c.text, "status": c.status, "handling": c.handling,
            "outcome": c.outcome, "created_by": c.created_by, "created_at": c.created_at,
            "closed_by": c.closed_by, "closed_at": c.closed_at,
            "cases": [{"case_id": ln.case_id, "case_number": number, "linked_by": ln.linked_by,
                       "linked_at": ln.linked_at, "held": case_held(session, ln.case_id)} for ln, number in links]}


# -- use cases: the API and the pages call these with the request's Caller ----------------------

def ensure_handler(c: Caller) -> None:
    """Only the roles that handle complaints reach them (else 403, audited)."""
    if not policy.handles_complaints(c.principal):
        c.refuse("complaint", "-", visible=True, why=f"a {c.principal.role} does not handle complaints")


def scoped_complaint(c: Caller, complaint_id: int, *, open_only: bool = True) -> Complaint:
    """The complaint if the caller handles complaints and may see it (else 403/404); 409 when
    ``open_only`` and it is closed."""
    ensure_handler(c)
    complaint = get(c.session, complaint_id)
    if not policy.reads_complaint(c.principal, complaint.district_code, complaint.agency_code):
        c.refuse("complaint", str(complaint_id), visible=False, why="outside your scope")
    if open_only and complaint.status != "open":
        raise Conflict("the complaint is closed")
    return complaint


def view_complaint(c: Caller, complaint_id: int) -> Complaint:
    complaint = scoped_complaint(c, complaint_id, open_only=False)
    c.audit("complaint.view", "complaint", str(complaint_id))
    return complaint


def record(c: Caller, data: dict, cases: list[Case]) -> Complaint:
    """Record a complaint; the cases it names (each in the caller's scope) are linked at once
    (their objects go on legal hold)."""
    ensure_handler(c)
    p = c.principal
    if data.get("agency") and not policy.reads_agency(p, data["agency"]):
        c.refuse("agency", data["agency"], visible=False, why="outside your scope")

    def work() -> Complaint:
        agency = data.get("agency") or (cases[0].agency_code if cases else None)
        complaint = create(c.session, {**data, "agency": agency}, by=p.username,
                           default_district=p.scope_code if p.agencies is not None else None)
        for case in cases:
            link(c.session, c.store, complaint, case, by=p.username)
        return complaint
    complaint = _in(c, work)
    c.audit("complaint.create", "complaint", str(complaint.id), cases=[x.id for x in cases])
    return complaint


def link_case(c: Caller, complaint_id: int, case_id: str) -> tuple[Complaint, Case]:
    """Link a case found while handling; its objects go on legal hold."""
    complaint = scoped_complaint(c, complaint_id)
    case = c.case_for(c.session.get(Case, case_id), case_id)
    _in(c, lambda: link(c.session, c.store, complaint, case, by=c.username))
    c.audit("complaint.link", "complaint", str(complaint_id), case_id=case.id)
    return complaint, case


def log_step(c: Caller, complaint_id: int, done_on: dt.date, text: str) -> Complaint:
    """Add a step to the handling log (办理记录): the day and what was done; appended only."""
    complaint = scoped_complaint(c, complaint_id)
    step = _in(c, lambda: add_step(c.session, complaint, by=c.username, done_on=done_on, text=text))
    c.audit("complaint.step", "complaint", str(complaint_id), step=step.id, done_on=str(step.done_on))
    return complaint


def attach_file(c: Caller, complaint_id: int, filename: str, spool) -> ComplaintAttachment:
    """Store a file that came with the complaint, write-once like a document."""
    complaint = scoped_complaint(c, complaint_id)
    a = _in(c, lambda: attach(c.session, c.store, c.settings, complaint, by=c.username,
                                     filename=filename, spool=spool))
    c.audit("complaint.attach", "complaint", str(complaint_id), attachment=a.id, sha256=a.sha256, filename=a.filename)
    return a


def close_complaint(c: Caller, complaint_id: int, handling: str, outcome: str) -> tuple[Complaint, list[str]]:
    """Close with the handling and the outcome; holds no other open complaint needs are lifted."""
    complaint = scoped_complaint(c, complaint_id)
    released = _in(c, lambda: close(c.session, c.store, complaint, by=c.username, handling=handling,
                                           outcome=outcome))
    c.audit("complaint.close", "complaint", str(complaint_id), released=released)
    return complaint, released


def _in(c: Caller, work):
    """``work()`` in the caller's transaction; its result."""
    with c.transaction():
        return work()
