"""Legal holds: every version stored for a case under an open complaint is held, so that
nothing a complaint may rest on can be changed or removed while it is open."""
from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from archive.models import Complaint, ComplaintLink
from archive.storage.base import ObjectStore


def case_held(session: Session, case_id: str) -> bool:
    """True while an open complaint links the case."""
    return bool(session.scalar(select(exists().where(
        ComplaintLink.case_id == case_id, ComplaintLink.complaint_id == Complaint.id, Complaint.status == "open"))))


def hold_new(session: Session, store: ObjectStore, case_id: str, key: str, version_id: str) -> None:
    """A version stored for a case under an open complaint is held like the others."""
    if case_held(session, case_id):
        store.set_legal_hold(key, version_id, True)
