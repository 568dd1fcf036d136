"""The upload use case: one file into a case's stage (object first, then the row with its
audit entry and the case's deadline check, in one commit); the API and the upload page both
store files through here."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.clock import SHANGHAI
from archive.deadlines.warnings import check_case_in
from archive.models import Case, Document, WarningRecord
from archive.services.caller import Caller
from archive.services.ingest import ingest, ingest_stream
from archive.services.objects import HashingSpool


def store_spool(c: Caller, case: Case, spool: HashingSpool, filename: str | None, *, stage: str, form: str,
                expected_sha256: str | None = None, allow_duplicate: bool = False, **audit_detail) -> Document:
    """Ingest a file spooled already (``ingest``), audited and checked as every upload is; the
    document carries the warnings the upload raised (a late upload)."""
    doc = ingest(c.session, c.store, c.settings, case, stage=stage, form=form, filename=filename,
                 spool=spool, expected_sha256=expected_sha256, uploader=c.username,
                 before_commit=audited(c, case, **audit_detail), allow_duplicate=allow_duplicate)
    return stored(c, doc)


def store_stream(c: Caller, case: Case, source, filename: str, *, stage: str, form: str,
                 expected_sha256: str | None = None, allow_duplicate: bool = False) -> Document:
    """Ingest a file while it arrives (``ingest_stream``: no spool), audited and checked alike."""
    doc = ingest_stream(c.session, c.store, c.settings, case, stage=stage, form=form, filename=filename,
                        source=source, expected_sha256=expected_sha256, uploader=c.username,
                        before_commit=audited(c, case), allow_duplicate=allow_duplicate)
    return stored(c, doc)


def audited(c: Caller, case: Case, **audit_detail):
    """What is committed with the document's row: the upload's audit entry, and the case's
    deadline check (a late upload's warning; a check that fails is undone alone)."""
    def add(session: Session, doc: Document) -> None:
        c.audit_in(session, "document.upload", "document", doc.id, case_id=case.id, sha256=doc.sha256,
                   size=doc.size, filename=doc.filename, **audit_detail)
        check_case_in(session, case.id)
    return add


def stored(c: Caller, doc: Document) -> Document:
    """After a document was stored (audited and checked with it): carry the warnings the
    upload raised (a late upload) on the answer."""
    doc.warnings = raised_by(c.session, doc.case_id, doc.id)  # type: ignore[attr-defined]
    return doc


def raised_by(session: Session, case_id: str, doc_id: str) -> list[str]:
    """The warnings an upload raised (a late upload), as the uploader should read them."""
    doc = session.get(Document, doc_id)
    if doc is None:
        return []
    day = doc.uploaded_at.astimezone(SHANGHAI).date().isoformat()
    return list(session.scalars(select(WarningRecord.message).where(
        WarningRecord.case_id == case_id, WarningRecord.rule == "late_upload",
        WarningRecord.fact_key.in_([f"late:{doc.stage}:{day}", f"doc:{doc_id}"]))))
