"""Search: parse the query, run it in the index (scope inside), highlight from the stored text."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload

from archive.errors import BadQuery
from archive.extraction.normalise import display_text
from archive.indexing.base import SearchIndex
from archive.indexing.query import QuerySyntaxError, SearchQuery, highlight, parse_terms
from archive.models import Document, DocumentVersion

HIGHLIGHT_CHARS = 200_000  # snippets are looked for in this much of a text, however long it is
SORTS = {"relevance": "relevance", "date": "date_desc", "date_desc": "date_desc", "date_asc": "date_asc"}


def build_query(q: str | None, **filters) -> SearchQuery:
    """A SearchQuery from request parameters; syntax errors become BadQuery."""
    try:
        terms = parse_terms(q or "")
    except QuerySyntaxError as exc:
        raise BadQuery(str(exc), {"q": [str(exc)]}) from exc
    sort = SORTS.get(filters.pop("sort", None) or "relevance")
    if sort is None:
        raise BadQuery("unknown sort", {"sort": [f"请从列表中选择 / one of {', '.join(SORTS)}"]})
    return SearchQuery(terms=terms, sort=sort, **filters)


QUICK_CHARS = 4_000  # most hits show their terms early: their snippets come from this much text


def snippets(quick: str, length: int, sq: SearchQuery, rest) -> list[str]:
    """Highlighted fragments of a hit's text: from its first QUICK_CHARS characters when the
    terms stand there, else from its first HIGHLIGHT_CHARS, read then by ``rest()``."""
    found = highlight(display_text(quick), sq.terms)
    if found or length <= QUICK_CHARS:
        return found
    return highlight(display_text(rest() or ""), sq.terms)


def search(session: Session, index: SearchIndex, sq: SearchQuery) -> dict:
    """{total, page, per_page, hits:[…]} with highlighted snippets for the page's hits."""
    page = index.search(sq)
    ids = [h.doc_id.split("@v")[0] for h in page.hits]
    # Snippets come from the beginning of each text only: a hit's cost never grows with its size.
    docs = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_(ids))
        .options(selectinload(Document.case), defer(Document.text_content)))} if ids else {}
    texts = {i: (t, n or 0) for i, t, n in session.execute(
        select(Document.id, func.substr(Document.text_content, 1, QUICK_CHARS), func.length(Document.text_content))
        .where(Document.id.in_(ids)))} if ids else {}
    old = {(v.document_id, v.version_no): v for v in session.scalars(
        select(DocumentVersion).where(DocumentVersion.document_id.in_(ids)).options(defer(DocumentVersion.text_content)))} \
        if any("@v" in h.doc_id for h in page.hits) else {}
    old_texts = {(d, n): (t, size or 0) for d, n, t, size in session.execute(
        select(DocumentVersion.document_id, DocumentVersion.version_no,
               func.substr(DocumentVersion.text_content, 1, QUICK_CHARS), func.length(DocumentVersion.text_content))
        .where(DocumentVersion.document_id.in_(ids)))} if old else {}

    def rest(doc_id: str, version_no: int | None):
        """The first HIGHLIGHT_CHARS of a text whose terms are not in its first QUICK_CHARS."""
        if version_no is None:
            return session.scalar(select(func.substr(Document.text_content, 1, HIGHLIGHT_CHARS))
                                  .where(Document.id == doc_id))
        return session.scalar(select(func.substr(DocumentVersion.text_content, 1, HIGHLIGHT_CHARS)).where(
            DocumentVersion.document_id == doc_id, DocumentVersion.version_no == version_no))
    hits = []
    for h in page.hits:
        doc_id, _, version = h.doc_id.partition("@v")
        doc = docs.get(doc_id)
        src = old.get((doc_id, int(version))) if version.isdigit() else doc
        if doc is None or src is None:  # indexed but gone from the database: never show what cannot be read
            continue
        quick, length = (texts.get(doc_id) if src is doc else old_texts.get((doc_id, src.version_no))) or ("", 0)
        fragments = snippets(quick or "", length, sq,
                             lambda: rest(doc_id, None if src is doc else src.version_no))
        name_marks = highlight(src.filename, sq.terms, context=100, max_fragments=1)
        hits.append({
            "document_id": doc.id, "case_id": doc.case_id, "case_number": doc.case.number,
            "filename": src.filename, "stage": doc.stage, "form": doc.form_code,
            "agency": doc.case.agency_code, "party_name": doc.case.party_name,
            "uploaded_at": src.uploaded_at, "version": src.version_no, "current": src is doc,
            "score": round(h.score, 4), "highlights": {"content": fragments, "filename": name_marks},
        })
    return {"total": page.total, "page": sq.page, "per_page": sq.per_page, "hits": hits}
