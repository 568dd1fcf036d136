"""Search: parse the query, run it in the index (scope inside), highlight from the stored text."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive.errors import BadQuery
from archive.extraction.normalise import display_text
from archive.indexing.base import SearchIndex
from archive.indexing.query import QuerySyntaxError, SearchQuery, highlight, parse_terms
from archive.models import Document

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
    ids = [h.doc_id for h in page.hits]
    docs = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_(ids)).options(selectinload(Document.case)))} if ids else {}
    hits = []
    for h in page.hits:
        doc = docs.get(h.doc_id)
        if doc is None:  # indexed but gone from the database: never show what cannot be read
            continue
        fragments = highlight(display_text(doc.text_content or ""), sq.terms)
        name_marks = highlight(doc.filename, sq.terms, context=100, max_fragments=1)
        hits.append({
            "document_id": doc.id, "case_id": doc.case_id, "case_number": doc.case.number,
            "filename": doc.filename, "stage": doc.stage, "form": doc.form_code,
            "agency": doc.case.agency_code, "party_name": doc.case.party_name,
            "uploaded_at": doc.uploaded_at, "score": round(h.score, 4),
            "highlights": {"content": fragments, "filename": name_marks},
        })
    return {"total": page.total, "page": sq.page, "per_page": sq.per_page, "hits": hits}
