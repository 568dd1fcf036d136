"""The Whoosh adapter on a temporary directory: phrase matching, totals, filters, upserts."""
from __future__ import annotations

import datetime as dt
import random

import pytest
from whoosh import query as Q

from archive.extraction import normalise
from archive.indexing.analysis import bigram_tokens, runs
from archive.indexing.base import IndexedDocument
from archive.indexing.phrase import BigramPhrase
from archive.indexing.query import SearchQuery, parse_terms
from archive.indexing.whoosh_index import WhooshIndex
from bench.corpus import generate

WHEN = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def item(doc_id, text, agency="A1", district="D1", when=WHEN, number=None):
    return IndexedDocument(doc_id, "c-" + doc_id, number or f"号{doc_id}", normalise(text), f"{doc_id}.pdf",
                           "当事人", "", agency, district, "C", "penalty", "decision", "penalty_decision",
                           "", when, when)


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory):
    docs = generate(300, seed=3)
    index = WhooshIndex(tmp_path_factory.mktemp("ix"))
    index.upsert([IndexedDocument(d.doc_id, d.doc_id, d.case_number, normalise(d.text), "x.pdf", d.party_name,
                                  d.party_id, d.agency, d.district, "C", d.kind, d.stage, d.form, "行政处罚决定书",
                                  d.completed_at, d.completed_at) for d in docs])
    return index, docs


def test_bigram_phrase_finds_exactly_what_whooshs_phrase_and_ctrl_f_find(corpus_index):
    index, docs = corpus_index
    rng = random.Random(5)
    searcher = index._current_searcher()
    for _ in range(60):
        d = rng.choice(docs)
        text = normalise(d.text)
        start = rng.randrange(len(text) - 12)
        phrase = text[start:start + rng.randint(3, 12)]
        tokens = [t for t, _, _ in bigram_tokens(phrase)]
        if len(tokens) < 2:
            continue
        ours = {h["doc_id"] for h in searcher.search(BigramPhrase("content", tokens), limit=None)}
        theirs = {h["doc_id"] for h in searcher.search(Q.Phrase("content", tokens), limit=None)}
        assert ours == theirs, phrase
        if [r[0] for r in runs(phrase)] == [phrase]:
            # a phrase of one CJK run: exactly the documents where Ctrl-F finds it
            assert ours == {x.doc_id for x in docs if phrase in normalise(x.text)}, phrase


def test_phrase_with_repeated_words(tmp_path):
    index = WhooshIndex(tmp_path)
    index.upsert([item("a", "哈哈哈哈大笑"), item("b", "哈哈大笑，哈哈"), item("c", "哈哈哈")])
    total = lambda q: index.search(SearchQuery(terms=parse_terms(q))).total
    assert total("哈哈哈哈") == 1 and total("哈哈哈") == 2 and total("哈哈大笑") == 2


def test_totals_are_exact_beyond_the_first_page(corpus_index):
    index, docs = corpus_index
    phrase = "重大行政执法决定法制审核"
    truth = sum(phrase in normalise(d.text) for d in docs)
    assert truth > 40
    page = index.search(SearchQuery(terms=parse_terms(phrase), per_page=5, page=2))
    assert page.total == truth and len(page.hits) == 5


def test_upsert_replaces_by_id_and_scope_filters_inside_the_query(tmp_path):
    index = WhooshIndex(tmp_path)
    index.upsert([item("a", "责令停产停业", agency="A1", district="D1"),
                  item("b", "责令停产停业", agency="A2", district="D2")])
    index.upsert([item("a", "警告", agency="A1", district="D1")])
    assert index.doc_count() == 2
    r = index.search(SearchQuery(terms=parse_terms("停产停业")))
    assert [h.doc_id for h in r.hits] == ["b"]
    scoped = index.search(SearchQuery(terms=parse_terms("停产停业"), scope=["D1"]))
    assert scoped.total == 0 and scoped.hits == []
    assert index.search(SearchQuery(scope=[])).total == 0


def test_single_character_query_finds_it_anywhere_in_a_run(tmp_path):
    index = WhooshIndex(tmp_path)
    index.upsert([item("a", "决定书"), item("b", "罚"), item("c", "警告")])
    assert {h.doc_id for h in index.search(SearchQuery(terms=parse_terms("书"))).hits} == {"a"}
    assert {h.doc_id for h in index.search(SearchQuery(terms=parse_terms("罚"))).hits} == {"b"}


def test_bulk_load_into_a_new_generation_then_swap(tmp_path):
    index = WhooshIndex(tmp_path)
    index.upsert([item("old", "旧的内容")])
    gen = index.new_generation()
    assert index.bulk_load((item(str(i), f"第{i}份行政处罚决定书") for i in range(50)), gen, procs=2) == 50
    assert index.doc_count() == 1
    index.swap_to(gen)
    assert index.doc_count() == 50
    assert index.search(SearchQuery(terms=parse_terms("处罚决定"))).total == 50


def test_searches_from_many_threads_while_the_writer_writes(tmp_path):
    import threading

    index = WhooshIndex(tmp_path)
    index.upsert([item(f"s{i}", f"第{i}份责令停产停业决定") for i in range(20)])
    errors, counts = [], []

    def reader():
        try:
            for _ in range(30):
                counts.append(index.search(SearchQuery(terms=parse_terms("停产停业"))).total)
        except Exception as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for batch in range(5):
        index.upsert([item(f"w{batch}-{i}", "责令停产停业") for i in range(10)])
    for t in threads:
        t.join()
    assert errors == []
    assert min(counts) >= 20 and max(counts) <= 70
    assert index.search(SearchQuery(terms=parse_terms("停产停业"))).total == 70


def test_an_index_made_before_a_field_existed_gains_it(tmp_path):
    """Indexes written by an older release lack ``superseded``: opening adds it, old entries stay."""
    from whoosh import index as windex
    from whoosh.fields import Schema

    from archive.indexing.whoosh_index import WhooshIndex, make_schema

    idx = WhooshIndex(tmp_path)
    gen = idx.current_dir()
    old = Schema(**{n: make_schema()[n] for n in make_schema().names() if n != "superseded"})
    for f in gen.iterdir():
        f.unlink()
    windex.create_in(str(gen), old)
    from dataclasses import replace

    idx.upsert([item("d1", "本机关决定罚款五万元"), replace(item("d2@v1", "本机关决定罚款三万元"), superseded=True)])
    assert "superseded" in windex.open_dir(str(gen)).schema.names()
    assert [h.doc_id for h in idx.search(SearchQuery(terms=parse_terms("罚款"))).hits] == ["d1"]
    assert sorted(h.doc_id for h in idx.search(SearchQuery(terms=parse_terms("罚款"), versions="all")).hits) == \
        ["d1", "d2@v1"]


def test_totals_inside_the_scope_for_single_tokens_codes_and_filters(tmp_path):
    """Whoosh counts ``len(results)`` from the bare query: scope and filters live in the query."""
    index = WhooshIndex(tmp_path)
    code = "91120222MA05T8XK3Q"
    index.upsert([item("mine", f"信用代码{code}，责令停产", agency="A1", district="D1")] +
                 [item(f"other{i}", f"信用代码{code}，责令停产", agency="A2", district="D2") for i in range(25)])
    for q in (code, "停产", "责令停产", "产"):
        mine = index.search(SearchQuery(terms=parse_terms(q), scope=["A1"]))
        assert (mine.total, [h.doc_id for h in mine.hits]) == (1, ["mine"]), q
        named = index.search(SearchQuery(terms=parse_terms(q), scope=["A1"], agency="A2"))
        assert (named.total, named.hits) == (0, []), q
        assert index.search(SearchQuery(terms=parse_terms(q), kind="inspection")).total == 0, q


def test_a_searcher_opened_on_an_empty_index_sees_later_documents(tmp_path):
    index = WhooshIndex(tmp_path)
    assert index.search(SearchQuery(terms=parse_terms("警告"))).total == 0
    index.upsert([item("a", "警告")])
    assert index.search(SearchQuery(terms=parse_terms("警告"))).total == 1
