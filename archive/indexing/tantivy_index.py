"""``TantivyIndex``: the search-index port on tantivy (Rust, through the ``tantivy`` package).

The analysis is the project's own (:mod:`archive.indexing.analysis`), computed once in Python:
each text field receives its slot tokens joined by spaces and tantivy's whitespace tokenizer
gives every token the next position, so unigrams stand at even positions and bigrams (or the
filler) at odd ones, exactly as in the Whoosh engine. Queries are built directly (terms and
phrases with explicit offsets), never through a query parser.

Matching fields are scored zero; ranking comes from BM25 over the rjieba ``words`` field, as in
the Whoosh engine. Scope, filters and the version mask are clauses of the one query, so the
count is exact and scoped.

Writing: one batch opens the generation afresh, deletes each document's old entry by ``doc_id``,
adds the new one, commits, collects unreferenced files and waits for its merges — a long-lived
writer left merged-away segments on disk in another archive (paperless-ngx #13679).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import multiprocessing
from pathlib import Path
from typing import Any, Iterable

import tantivy

from archive.indexing.analysis import query_tokens, slot_tokens, words
from archive.indexing.base import Hit, HitPage, IndexedDocument
from archive.indexing.generations import GenerationEngine
from archive.indexing.query import SearchQuery, Term

SEARCH_FIELDS = ("content", "filename", "meta")
KEYWORDS = ("case_id", "agency", "district", "city", "kind", "stage", "form", "superseded")
WRITE_HEAP = 64 * 1024 * 1024  # per batch of the worker
BULK_HEAP = 64 * 1024 * 1024  # for a rebuild, split between the writer's threads; more buys no speed (bench.search) but memory
# Tokens arrive analysed (lower-cased, short): split on spaces and nothing else, which spares
# tantivy's "whitespace" analyzer its lower-casing of every token. Registered on every opening.
TOKENIZER = "archive_slots"
GRAM_WEIGHT = 0.2  # the grams' BM25 beside the words' (see build_query)
RANK_BY_WORDS_MAX = 20_000  # candidates up to which rjieba words rank (see build_query)


def open_index(d: Path) -> tantivy.Index:
    """The tantivy index in ``d`` with the project's tokenizer registered."""
    ix = tantivy.Index.open(str(d))
    ix.register_tokenizer(TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    return ix
UTC = dt.timezone.utc


def make_schema() -> tantivy.Schema:
    """Slot-token fields with positions for matching, a word field for ranking, keywords for filters."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", stored=True, tokenizer_name="raw", index_option="basic")
    for name in SEARCH_FIELDS:
        sb.add_text_field(name, tokenizer_name=TOKENIZER, index_option="position")
    sb.add_text_field("words", tokenizer_name=TOKENIZER, index_option="freq")
    for name in KEYWORDS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    sb.add_date_field("completed", indexed=True, fast=True)
    return sb.build()


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def fields_json(doc: IndexedDocument) -> str:
    """:func:`fields` as the JSON tantivy parses itself (outside the GIL): what the bulk
    loader's analysing processes hand to the writer."""
    out = fields(doc)
    if "completed" in out:
        out["completed"] = out["completed"].isoformat()
    return json.dumps(out, ensure_ascii=False)


def fields(doc: IndexedDocument) -> dict[str, Any]:
    """The analysed fields of one document (run in the bulk loader's worker processes)."""
    meta = "\n".join([doc.case_number, doc.party_name, doc.party_id, doc.form_name])
    out: dict[str, Any] = {
        "doc_id": doc.doc_id, "case_id": doc.case_id,
        "content": " ".join(slot_tokens(doc.content)), "filename": " ".join(slot_tokens(doc.filename)),
        "meta": " ".join(slot_tokens(meta)),
        "words": " ".join(words(doc.content + "\n" + doc.filename)),
        "agency": doc.agency, "district": doc.district, "city": doc.city, "kind": doc.kind,
        "stage": doc.stage, "form": doc.form, "completed": _utc(doc.completed_at or doc.uploaded_at),
    }
    if doc.superseded:
        out["superseded"] = "1"
    return {k: v for k, v in out.items() if v not in ("", None)}


class TantivyIndex(GenerationEngine[tantivy.Index]):
    """Tantivy index generations under ``root``; one writer at a time (the worker)."""

    engine = "tantivy"

    def __init__(self, root: str | Path) -> None:
        self.schema = make_schema()
        self._meta_stamp: int | None = None
        super().__init__(root)

    def _create(self, d: Path) -> None:
        tantivy.Index(self.schema, path=str(d))

    def _open(self, d: Path) -> tantivy.Index:
        return open_index(d)

    def _empty(self) -> tantivy.Index:
        return tantivy.Index(self.schema)  # in memory

    # -- writing -------------------------------------------------------------------------
    def _write(self, d: Path, docs: Iterable[IndexedDocument] = (), deletes: Iterable[str] = ()) -> int:
        writer = open_index(d).writer(heap_size=WRITE_HEAP, num_threads=1)
        n = 0
        try:
            for doc_id in deletes:
                writer.delete_documents_by_term("doc_id", doc_id)
            for doc in docs:
                writer.delete_documents_by_term("doc_id", doc.doc_id)
                writer.add_document(tantivy.Document(**fields(doc)))
                n += 1
            writer.commit()
            writer.garbage_collect_files()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        self._reload(d)
        return n

    def _reload(self, d: Path) -> None:
        with self._lock:
            if self._ix is not None and self._ix_dir == d:
                self._ix.reload()

    def upsert(self, docs: Iterable[IndexedDocument]) -> int:
        """Add or replace documents keyed by doc_id, in one commit (the worker's path)."""
        return self._write(self.writable_dir(), docs=docs)

    def delete(self, doc_ids: Iterable[str]) -> None:
        """Remove documents by id."""
        self._write(self.writable_dir(), deletes=list(doc_ids))

    def bulk_load(self, docs: Iterable[IndexedDocument], into: Path, procs: int = 1) -> int:
        """Fill a new, not yet live generation (``archive reindex``): ``procs`` processes
        analyse, tantivy's threads write; plain adds, no look-up of an older copy."""
        pool = multiprocessing.get_context("fork").Pool(procs) if procs > 1 else None
        writer = open_index(into).writer(heap_size=BULK_HEAP, num_threads=max(1, procs))
        n = 0
        try:
            analysed = pool.imap(fields_json, docs, chunksize=32) if pool else map(fields_json, docs)
            for line in analysed:
                writer.add_json(line)
                n += 1
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            writer.wait_merging_threads()
            raise
        finally:
            if pool:
                pool.terminate()
                pool.join()
        # One more pass collects what the merges left behind.
        gc = open_index(into).writer(heap_size=15_000_000, num_threads=1)
        gc.garbage_collect_files()
        gc.wait_merging_threads()
        return n

    # -- reading -------------------------------------------------------------------------
    def _searcher(self) -> tantivy.Searcher:
        """A searcher that sees every commit made so far, by this process or another one (the
        worker): tantivy's own reload follows commits only after a delay, so a change of
        ``meta.json`` since the last look reloads at once (one stat per search)."""
        for attempt in range(3):
            ix = self._index()
            d = self._ix_dir
            try:
                stamp = os.stat(d / "meta.json").st_mtime_ns if d else None
                if stamp != self._meta_stamp:
                    ix.reload()
                    self._meta_stamp = stamp
                return ix.searcher()
            except (FileNotFoundError, ValueError):
                if attempt == 2:
                    raise
                self._forget()  # the generation was swapped out and removed: read the pointer again
        raise AssertionError("unreachable")

    def doc_count(self) -> int:
        return self._searcher().num_docs

    def _match(self, term: Term) -> tantivy.Query:
        """A term matches when it stands, characters together, in any searchable field."""
        tokens = query_tokens(term.text)
        per_field = []
        for name in SEARCH_FIELDS:
            if len(tokens) == 1:
                q = tantivy.Query.term_query(self.schema, name, tokens[0][1])
            else:
                q = tantivy.Query.phrase_query(self.schema, name, list[str | tuple[int, str]](tokens))
            per_field.append((tantivy.Occur.Should, q))
        return tantivy.Query.boolean_query(per_field)

    def _any(self, names: Iterable[str], values: list[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Should, tantivy.Query.term_set_query(self.schema, name, values)) for name in names])

    def _upper_bound(self, searcher: tantivy.Searcher, term: Term) -> int:
        """At most this many documents can match ``term`` (from the term dictionary, no search)."""
        tokens = [t for _, t in query_tokens(term.text)]
        return sum(min(searcher.doc_freq(name, t) for t in tokens) for name in SEARCH_FIELDS)

    def build_query(self, sq: SearchQuery, searcher: tantivy.Searcher | None = None) -> tantivy.Query | None:
        """The one query for a parsed search (terms, scope, filters, versions); None when the
        scope allows nothing.

        Ranking: BM25 over the rjieba words of the terms, as in the Whoosh engine, while at most
        ``RANK_BY_WORDS_MAX`` documents can match; beyond that (a common phrase in most of the
        archive) the terms' own BM25 over their grams ranks, which costs nothing extra, where
        the word clause would be looked up for every one of the matches.
        """
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        required = [t for t in sq.terms if not t.exclude]
        searcher = searcher or self._searcher()
        by_words = bool(required) and min(self._upper_bound(searcher, t) for t in required) <= RANK_BY_WORDS_MAX
        for t in required:
            match = self._match(t)
            # With words ranking, the grams' own BM25 still counts, weighted down: it ranks the
            # hits the words give nothing for (a single character, part of a word or a code),
            # by how often the term occurs and in how short a text, and breaks the words' ties.
            clauses.append((tantivy.Occur.Must, tantivy.Query.boost_query(match, GRAM_WEIGHT) if by_words else match))
        if not required:
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(tantivy.Query.all_query(), 0.0)))
        for t in sq.terms:
            if t.exclude:
                clauses.append((tantivy.Occur.MustNot, self._match(t)))
        ranking = [w for t in required for w in words(t.text)] if by_words else []
        if ranking:
            clauses.append((tantivy.Occur.Should, tantivy.Query.boolean_query([
                (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "words", w)) for w in ranking])))
        filters: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if sq.scope is not None:
            allowed = [(tantivy.Occur.Should, self._any(("agency", "district", "city"), list(sq.scope)))] \
                if sq.scope else []
            if sq.case_scope:
                allowed.append((tantivy.Occur.Should, self._any(("case_id",), list(sq.case_scope))))
            if not allowed:
                return None
            filters.append((tantivy.Occur.Must, tantivy.Query.boolean_query(allowed)))
        if sq.agency:
            filters.append((tantivy.Occur.Must, self._any(("agency", "district", "city"), [sq.agency])))
        for name in ("kind", "stage", "form"):
            value = getattr(sq, name)
            if value:
                filters.append((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, name, value)))
        if sq.date_from or sq.date_to:
            between = sq.completed_between()
            if between is None:
                return None
            filters.append((tantivy.Occur.Must, tantivy.Query.range_query(
                self.schema, "completed", tantivy.FieldType.Date, *between)))
        if filters:  # they restrict, they do not rank
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(tantivy.Query.boolean_query(filters), 0.0)))
        if sq.versions != "all":
            clauses.append((tantivy.Occur.MustNot, tantivy.Query.term_query(self.schema, "superseded", "1")))
        return tantivy.Query.boolean_query(clauses)

    def search(self, sq: SearchQuery) -> HitPage:
        """Run the query; relevance or date order; one page; the count is exact and scoped. A
        generation swapped out and removed under a running search is searched again in the new one."""
        for attempt in range(3):
            try:
                return self._search_once(sq)
            except ValueError:
                if attempt == 2:
                    raise
                self._forget()
        raise AssertionError("unreachable")

    def _search_once(self, sq: SearchQuery) -> HitPage:
        searcher = self._searcher()
        query = self.build_query(sq, searcher)
        if query is None:
            return HitPage(total=0, hits=[])
        kwargs: dict[str, Any] = {"limit": sq.per_page, "offset": (sq.page - 1) * sq.per_page, "count": True}
        if sq.sort in ("date_desc", "date_asc") or not any(not t.exclude for t in sq.terms):
            kwargs["order_by_field"] = "completed"
            kwargs["order"] = tantivy.Order.Asc if sq.sort == "date_asc" else tantivy.Order.Desc
        result = searcher.search(query, **kwargs)
        hits = []
        for score, address in result.hits:
            doc_id = searcher.doc(address)["doc_id"][0]
            hits.append(Hit(doc_id, float(score) if isinstance(score, (int, float)) and "order_by_field" not in kwargs
                            else 0.0))
        return HitPage(total=getattr(result, "count", None) or 0, hits=hits)  # (missing from the type stub)
