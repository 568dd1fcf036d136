"""Documents as the caller may see them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from archive.errors import NotFound
from archive.models import Document
from archive.services.caller import Caller


def scoped_document(c: Caller, doc_id: str) -> Document:
    """The document if its case is in the caller's scope; else 404 (refusal audited)."""
    # one query for the document and its case, found or not (no timing difference)
    doc = c.session.scalar(select(Document).where(Document.id == doc_id).options(joinedload(Document.case)))
    if doc is None:
        raise NotFound("no such document")
    if not c.may_read(doc.case.agency_code, doc.case_id):
        c.refuse("document", doc_id, visible=False, why="outside your scope")
    return doc
