"""Search: parse the query, run it in the index (scope inside), highlight from the stored text."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive.errors import BadQuery
from archive.extraction.normalise import display_text
from archive.indexing.base import SearchIndex
from archive.indexing.query import QuerySyntaxError, SearchQuery, highlight, parse_terms
from archive.models import Document, DocumentVersion

SORTS = {"relevance": "relevance", "date": "date_desc", "date_desc": "date_desc", "date_asc": "date_asc"}


def build_query(q: str | None, **filters) -> SearchQuery:
    """A SearchQuery from request parameters; syntax errors become BadQuery."""
    try:
        terms = parse_terms(q or "")
    except QuerySyntaxError as exc:
        raise BadQuery(str(exc), {"q": [str(exc)]}) from exc
    sort = SORTS.get(filters.pop("sort", None) or "relevance")
    if sort is None:
        raise BadQuery("unknown sort", {"sort": [f"one of {', '.join(SORTS)}"]})
    return SearchQuery(terms=terms, sort=sort, **filters)


def search(session: Session, index: SearchIndex, sq: SearchQuery) -> dict:
    """{total, page, per_page, hits:[…]} with highlighted snippets for the page's hits."""
    page = index.search(sq)
    ids = [h.doc_id.split("@v")[0] for h in page.hits]
    docs = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_(ids)).options(selectinload(Document.case)))} if ids else {}
    old = {(v.document_id, v.version_no): v for v in session.scalars(
        select(DocumentVersion).where(DocumentVersion.document_id.in_(ids)))} \
        if any("@v" in h.doc_id for h in page.hits) else {}
    hits = []
    for h in page.hits:
        doc_id, _, version = h.doc_id.partition("@v")
        doc = docs.get(doc_id)
        src = old.get((doc_id, int(version))) if version.isdigit() else doc
        if doc is None or src is None:  # indexed but gone from the database: never show what cannot be read
            continue
        fragments = highlight(display_text(src.text_content or ""), sq.terms)
        name_marks = highlight(src.filename, sq.terms, context=100, max_fragments=1)
        hits.append({
            "document_id": doc.id, "case_id": doc.case_id, "case_number": doc.case.number,
            "filename": src.filename, "stage": doc.stage, "form": doc.form_code,
            "agency": doc.case.agency_code, "party_name": doc.case.party_name,
            "uploaded_at": src.uploaded_at, "version": src.version_no, "current": src is doc,
            "score": round(h.score, 4), "highlights": {"content": fragments, "filename": name_marks},
        })
    return {"total": page.total, "page": sq.page, "per_page": sq.per_page, "hits": hits}
