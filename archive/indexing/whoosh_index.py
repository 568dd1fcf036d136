"""``WhooshIndex``: the search-index port on Whoosh (the whoosh-reloaded fork).

The engine the project started on, kept as a supported choice (``ARCHIVE_SEARCH_ENGINE=whoosh``)
that passes the same contract suite as tantivy; pure Python, so it decodes every posting in the
interpreter and is the slower of the two at scale (see ``bench/search.py``).
Generations and their swap: :mod:`archive.indexing.generations`.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Iterable

from whoosh import index as windex
from whoosh import query as Q
from whoosh import scoring
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, TEXT, Schema
from whoosh.reading import ReaderClosed
from whoosh.writing import AsyncWriter

from archive.indexing.analysis import query_tokens, slot_positions, words
from archive.indexing.base import Hit, HitPage, IndexedDocument
from archive.indexing.generations import GenerationEngine
from archive.indexing.phrase import BigramPhrase
from archive.indexing.query import SearchQuery, Term


class SlotTokenizer(Tokenizer):
    """Whoosh tokenizer emitting the shared analysis' unigrams and bigrams at their positions."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kw):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
        for text, pos, s, e in slot_positions(value):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            yield t


class WordTokenizer(Tokenizer):
    """Whoosh tokenizer emitting rjieba words (ranking only; no phrase positions needed)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kw):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
        for pos, w in enumerate(words(value), start_pos):
            t.text = w
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = pos
            yield t


SEARCH_FIELDS = ("content", "filename", "meta")


def _match_only(field: TEXT) -> TEXT:
    # Bigram fields decide what matches; ranking comes from the word field. Not scoring them
    # spares Whoosh a per-posting field-length lookup at indexing and at search time.
    field.scorable = False
    return field


class GramBM25F(scoring.BM25F):
    """BM25F, with the bigram fields (match only, no lengths of their own) scored by BM25 over
    the document's word count: a term that is no word of its own (a single character, part of
    a word, a code) still ranks by how often it occurs and in how short a text."""

    def scorer(self, searcher, fieldname, text, qf=1):
        if searcher.schema[fieldname].scorable:
            return super().scorer(searcher, fieldname, text, qf)
        return _GramScorer(searcher, fieldname, text, self.B, self.K1)


class _GramScorer(scoring.BaseScorer):
    def __init__(self, searcher, fieldname: str, text, B: float, K1: float) -> None:
        parent = searcher.get_parent()
        self.idf = parent.idf(fieldname, text)
        self.avgfl = parent.avg_field_length("words") or 1
        self.searcher, self.B, self.K1 = searcher, B, K1

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        return self.idf * (self.K1 + 1)  # BM25's bound as the term frequency grows

    def score(self, matcher) -> float:
        length = self.searcher.doc_field_length(matcher.id(), "words", 1) or 1
        return scoring.bm25(self.idf, matcher.weight(), length, self.avgfl, self.B, self.K1)


def make_schema() -> Schema:
    """Fields: bigram text fields for matching, a word field for ranking, ids for filters."""
    bigram = SlotTokenizer()
    return Schema(
        doc_id=ID(stored=True, unique=True),
        case_id=ID(stored=True),
        case_number=ID(stored=True),
        content=_match_only(TEXT(analyzer=bigram, phrase=True)),
        words=TEXT(analyzer=WordTokenizer(), phrase=False),
        filename=_match_only(TEXT(analyzer=bigram, phrase=True)),
        meta=_match_only(TEXT(analyzer=bigram, phrase=True)),  # case number, party, form name
        party_id=ID(),
        agency=ID(stored=True),
        district=ID(),
        city=ID(),
        kind=ID(),
        stage=ID(),
        form=ID(),
        completed=DATETIME(sortable=True),
        uploaded=DATETIME(sortable=True),
        superseded=ID(),  # "1" on earlier versions; absent on current documents
    )


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    # Whoosh stores naive datetimes; the index keeps UTC.
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value else None


def _fields(doc: IndexedDocument) -> dict:
    when = _naive_utc(doc.completed_at) or _naive_utc(doc.uploaded_at)
    extra = {"superseded": "1"} if doc.superseded else {}
    return extra | dict(
        doc_id=doc.doc_id, case_id=doc.case_id, case_number=doc.case_number,
        content=doc.content, words=doc.content + "\n" + doc.filename, filename=doc.filename,
        meta="\n".join([doc.case_number, doc.party_name, doc.party_id, doc.form_name]),
        party_id=doc.party_id.lower(), agency=doc.agency, district=doc.district, city=doc.city,
        kind=doc.kind, stage=doc.stage, form=doc.form, completed=when,
        uploaded=_naive_utc(doc.uploaded_at),
    )


def _write_all(writer, add, docs: Iterable[IndexedDocument], optimize: bool = False) -> int:
    """Write every document with ``add`` and commit once; cancel on any error."""
    n = 0
    try:
        for doc in docs:
            add(**_fields(doc))
            n += 1
    except BaseException:
        writer.cancel()
        raise
    writer.commit(optimize=optimize) if optimize else writer.commit()
    return n


def _term_query(field: str, term: str) -> Q.Query:
    tokens = query_tokens(term)
    if len(tokens) == 1:
        return Q.Term(field, tokens[0][1])
    return BigramPhrase(field, [t for _, t in tokens], [p for p, _ in tokens])


def term_match(term: Term) -> Q.Query:
    """A term matches when it stands, characters together, in any searchable field."""
    return Q.Or([_term_query(f, term.text) for f in SEARCH_FIELDS])


def _with_current_fields(ix: windex.Index) -> windex.Index:
    """Add fields a newer release defines (e.g. ``superseded``) to an index made by an older
    one; existing documents simply lack them. Skipped while another process writes."""
    from whoosh.index import LockError

    wanted = make_schema()
    missing = [n for n in wanted.names() if n not in ix.schema.names()]
    if not missing:
        return ix
    try:
        writer = ix.writer()
    except LockError:
        return ix
    for name in missing:
        writer.add_field(name, wanted[name])
    writer.commit()
    return windex.open_dir(ix.storage.folder) if hasattr(ix.storage, "folder") else ix


class WhooshIndex(GenerationEngine[windex.Index]):
    """Whoosh index generations under ``root``; one writer at a time (the worker)."""

    engine = "whoosh"

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self._local = threading.local()  # one searcher per thread: Whoosh readers share file handles

    def _create(self, d: Path) -> None:
        windex.create_in(str(d), make_schema())

    def _open(self, d: Path) -> windex.Index:
        return _with_current_fields(windex.open_dir(str(d)))

    def _empty(self) -> windex.Index:
        from whoosh.filedb.filestore import RamStorage

        return RamStorage().create_index(make_schema())  # in memory

    def _current_searcher(self):
        """A searcher kept open between queries and refreshed when the index changed (opening
        one per query costs more than many queries). A generation swapped out and removed
        between the pointer and the read is read again from the new pointer."""
        for attempt in range(3):
            try:
                return self._searcher_once()
            except (windex.EmptyIndexError, OSError):
                if attempt == 2:
                    raise
                self._forget()
                self._drop_searcher()
        raise AssertionError("unreachable")

    def _drop_searcher(self) -> None:
        """Close this thread's searcher, once: a searcher closed before opening its successor
        failed is never closed again (Whoosh raises ReaderClosed on a second close)."""
        searcher, self._local.searcher, self._local.ix = getattr(self._local, "searcher", None), None, None
        if searcher is not None and not searcher.is_closed:
            try:
                searcher.close()
            except ReaderClosed:
                pass

    def _searcher_once(self):
        ix = self._index()
        local = self._local
        if getattr(local, "ix", None) is not ix:
            self._drop_searcher()  # the generation was swapped out
            local.searcher = ix.searcher(weighting=GramBM25F())
            local.ix = ix
        elif not local.searcher.up_to_date():
            try:
                local.searcher = local.searcher.refresh()
            except TypeError:  # Whoosh cannot reuse the reader of a then-empty index: open anew
                local.searcher.close()
                local.searcher = ix.searcher(weighting=GramBM25F())
        return local.searcher

    # -- the port ----------------------------------------------------------------------
    def upsert(self, docs: Iterable[IndexedDocument]) -> int:
        """Add or replace documents keyed by doc_id, in one commit (the worker's path)."""
        self.writable_dir()
        ix = self._index()
        writer = AsyncWriter(ix)
        # Replaced entries stay in their segments until a merge drops them; Whoosh merges only
        # small segments, so once they are half as many as the live ones everything is merged into one.
        return _write_all(writer, writer.update_document, docs, optimize=ix.doc_count_all() > 1.5 * ix.doc_count() + 50)

    def bulk_load(self, docs: Iterable[IndexedDocument], into: Path, procs: int = 1) -> int:
        """Fill a new, not yet live generation (``archive reindex``): plain adds, no look-up of
        an older copy, and ``procs`` processes writing segments side by side."""
        writer = windex.open_dir(str(into)).writer(limitmb=256, procs=procs, multisegment=procs > 1)
        return _write_all(writer, writer.add_document, docs)

    def delete(self, doc_ids: Iterable[str]) -> None:
        """Remove documents by id."""
        self.writable_dir()
        writer = AsyncWriter(self._index())
        for doc_id in doc_ids:
            writer.delete_by_term("doc_id", doc_id)
        writer.commit()

    def doc_count(self) -> int:
        """Number of live documents."""
        return self._index().doc_count()

    def build_query(self, sq: SearchQuery) -> tuple[Q.Query, Q.Query | None]:
        """(query, filter) for a parsed search; the scope is part of the filter."""
        required = [term_match(t) for t in sq.terms if not t.exclude]
        excluded = [term_match(t) for t in sq.terms if t.exclude]
        filters: list[Q.Query] = []
        if sq.scope is not None:
            allowed: list[Q.Query] = [Q.Term(f, c) for c in sq.scope for f in ("agency", "district", "city")]
            allowed += [Q.Term("case_id", c) for c in sq.case_scope]
            filters.append(Q.Or(allowed or [Q.Term("agency", "\x00nothing")]))
        if sq.agency:
            filters.append(Q.Or([Q.Term(f, sq.agency) for f in ("agency", "district", "city")]))
        for name in ("kind", "stage", "form"):
            value = getattr(sq, name)
            if value:
                filters.append(Q.Term(name, value))
        if sq.date_from or sq.date_to:
            between = sq.completed_between()
            if between is None:
                return Q.NullQuery, None
            filters.append(Q.DateRange("completed", *(b.replace(tzinfo=None) for b in between)))
        base: Q.Query = Q.And(required) if required else Q.Every()
        if excluded:
            base = Q.AndNot(base, Q.Or(excluded))
        if required:
            ranking = [Q.Term("words", w) for t in sq.terms if not t.exclude for w in words(t.text)]
            if ranking:
                base = Q.AndMaybe(base, Q.Or(ranking))
        return base, (Q.And(filters) if filters else None)

    def search(self, sq: SearchQuery) -> HitPage:
        """Run the query; relevance or date order; one page."""
        query, flt = self.build_query(sq)
        # Scope, filters and the version mask are part of the query itself, never Whoosh's
        # ``filter``/``mask`` arguments: Whoosh counts a result's length from the bare query
        # (``Results._load_docs``), so a filter there would leak totals from outside the scope.
        if flt is not None:
            query = Q.And([query, Q.ConstantScoreQuery(flt, 0.0)])
        if sq.versions != "all":
            query = Q.AndNot(query, Q.Term("superseded", "1"))
        for attempt in range(3):
            try:
                return self._search_once(sq, query)
            except (ReaderClosed, OSError):  # the generation went away under the read: read the new one
                if attempt == 2:
                    raise
                self._forget()
                self._drop_searcher()
        raise AssertionError("unreachable")

    def _search_once(self, sq: SearchQuery, query) -> HitPage:
        searcher = self._current_searcher()
        kwargs: dict = {"limit": sq.page * sq.per_page}
        if sq.sort in ("date_desc", "date_asc") or not any(not t.exclude for t in sq.terms):
            kwargs["sortedby"] = "completed"
            kwargs["reverse"] = sq.sort != "date_asc"
        # (TopCollector(usequality=False) would save the counting pass, but in Whoosh 2.7.5 its
        # count is wrong under AndMaybe: the plain path is kept.)
        results = searcher.search(query, **kwargs)
        # The count runs segment by segment, as the collector does: Whoosh's own ``len(results)``
        # matches over all segments at once after a top-N search, and undercounted phrase queries on
        # multi-segment indexes (a few documents short, found on the benchmark's bulk-loaded index).
        total = results.scored_length() if results.scored_length() < kwargs["limit"] else \
            sum(1 for _ in searcher.docs_for_query(query))
        start = (sq.page - 1) * sq.per_page
        hits = [Hit(h["doc_id"], float(h.score or 0.0)) for h in results[start:start + sq.per_page]]
        return HitPage(total=total, hits=hits)
