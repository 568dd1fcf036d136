"""The search contract, run against every engine (tantivy and Whoosh) on a temporary directory:
Ctrl-F recall and precision, totals, scope and filters inside the query, upserts, generations,
index hygiene; then what only one engine needs (Whoosh's phrase matcher, old schemas)."""
from __future__ import annotations

import datetime as dt
import random
import tempfile
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.extraction import normalise
from archive.indexing.analysis import query_tokens
from archive.indexing.base import IndexedDocument
from archive.indexing.engines import ENGINES, make_index
from archive.indexing.query import SearchQuery, parse_terms, term_pattern
from bench.corpus import generate

WHEN = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def item(doc_id, text, agency="A1", district="D1", when=WHEN, number=None, kind="penalty"):
    return IndexedDocument(doc_id, "c-" + doc_id, number or f"号{doc_id}", normalise(text), f"{doc_id}.pdf",
                           "当事人", "", agency, district, "C", kind, "decision", "penalty_decision",
                           "", when, when)


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def new_index(engine, tmp_path):
    made = []

    def factory():
        ix = make_index(engine, tmp_path / f"ix{len(made)}")
        made.append(ix)
        return ix

    yield factory
    for ix in made:
        ix.close()


def totals_while(index, q: str, action, readers: int = 3) -> list[int]:
    """Totals of ``q`` seen by reader threads searching while ``action()`` runs; a reader's error fails."""
    import threading

    totals, errors, stop = [], [], threading.Event()

    def reader():
        try:
            while not stop.is_set():
                totals.append(index.search(SearchQuery(terms=parse_terms(q))).total)
        except Exception as exc:  # pragma: no cover - what the tests look for
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    try:
        action()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [] and totals
    return totals


def ids(index, q, **kw):
    page = index.search(SearchQuery(terms=parse_terms(q), per_page=100, **kw))
    assert page.total == len(page.hits) or page.total > 100
    return {h.doc_id for h in page.hits}


@pytest.fixture(scope="module", params=ENGINES)
def corpus_index(request, tmp_path_factory):
    docs = generate(300, seed=3)
    index = make_index(request.param, tmp_path_factory.mktemp("ix"))
    index.upsert([IndexedDocument(d.doc_id, d.doc_id, d.case_number, normalise(d.text), "x.pdf", d.party_name,
                                  d.party_id, d.agency, d.district, "C", d.kind, d.stage, d.form, "行政处罚决定书",
                                  d.completed_at, d.completed_at) for d in docs])
    yield index, docs
    index.close()


def test_random_phrases_find_exactly_what_ctrl_f_finds(corpus_index):
    """Substrings of the corpus, cut anywhere (a single character, mid-word, across punctuation):
    the hits are exactly the documents where the term's pattern stands in the text."""
    index, docs = corpus_index
    rng = random.Random(5)
    texts = {d.doc_id: normalise(d.text) for d in docs}
    for _ in range(80):
        d = rng.choice(docs)
        text = texts[d.doc_id]
        start = rng.randrange(len(text) - 12)
        phrase = text[start:start + rng.randint(1, 12)].replace('"', " ")
        if not phrase.strip() or not query_tokens(phrase):
            continue
        truth = {i for i, t in texts.items() if term_pattern(phrase).search(t)}
        assert d.doc_id in truth
        page = index.search(SearchQuery(terms=parse_terms(f'"{phrase}"'), per_page=1000))
        assert page.total == len(truth), phrase
        assert {h.doc_id for h in page.hits} == truth, phrase


def test_phrase_with_repeated_words(new_index):
    index = new_index()
    index.upsert([item("a", "哈哈哈哈大笑"), item("b", "哈哈大笑，哈哈"), item("c", "哈哈哈")])
    total = lambda q: index.search(SearchQuery(terms=parse_terms(q))).total
    assert total("哈哈哈哈") == 1 and total("哈哈哈") == 2 and total("哈哈大笑") == 2 and total("哈") == 3


def test_totals_are_exact_beyond_the_first_page(corpus_index):
    index, docs = corpus_index
    phrase = "重大行政执法决定法制审核"
    truth = sum(phrase in normalise(d.text) for d in docs)
    assert truth > 40
    page = index.search(SearchQuery(terms=parse_terms(phrase), per_page=5, page=2))
    assert page.total == truth and len(page.hits) == 5


def test_upsert_replaces_by_id_and_scope_filters_inside_the_query(new_index):
    index = new_index()
    index.upsert([item("a", "责令停产停业", agency="A1", district="D1"),
                  item("b", "责令停产停业", agency="A2", district="D2")])
    index.upsert([item("a", "警告", agency="A1", district="D1")])
    assert index.doc_count() == 2
    r = index.search(SearchQuery(terms=parse_terms("停产停业")))
    assert [h.doc_id for h in r.hits] == ["b"]
    scoped = index.search(SearchQuery(terms=parse_terms("停产停业"), scope=["D1"]))
    assert scoped.total == 0 and scoped.hits == []
    assert index.search(SearchQuery(scope=[])).total == 0
    many = [item(f"m{i}", f"第{i}份：责令改正") for i in range(30)]
    index.upsert(many)
    index.upsert(many[:20])  # replaced entries are not counted twice, on any page size
    for per_page in (5, 20, 100):
        page = index.search(SearchQuery(terms=parse_terms("责令改正"), per_page=per_page, page=2))
        assert page.total == 30 and len(page.hits) == min(per_page, 30 - per_page) if per_page < 30 else page.total == 30


def test_single_character_query_finds_it_anywhere_in_a_run(new_index):
    index = new_index()
    index.upsert([item("a", "决定书"), item("b", "罚"), item("c", "警告"), item("d", "行政处罚决定")])
    assert ids(index, "书") == {"a"}
    assert ids(index, "罚") == {"b", "d"}
    assert ids(index, "定") == {"a", "d"}


def test_bulk_load_into_a_new_generation_then_swap(new_index):
    index = new_index()
    index.upsert([item("old", "旧的内容")])
    gen = index.new_generation()
    assert index.bulk_load((item(str(i), f"第{i}份行政处罚决定书") for i in range(50)), gen, procs=2) == 50
    assert index.doc_count() == 1
    index.swap_to(gen)
    assert index.doc_count() == 50
    assert index.search(SearchQuery(terms=parse_terms("处罚决定"))).total == 50


def test_searches_from_many_threads_while_the_writer_writes(new_index):
    index = new_index()
    index.upsert([item(f"s{i}", f"第{i}份责令停产停业决定") for i in range(20)])

    def write():
        for batch in range(5):
            index.upsert([item(f"w{batch}-{i}", "责令停产停业") for i in range(10)])

    counts = totals_while(index, "停产停业", write, readers=4)
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


def test_totals_inside_the_scope_for_single_tokens_codes_and_filters(new_index):
    """Scope and filters live in the query (Whoosh counts ``len(results)`` from the bare query)."""
    index = new_index()
    code = "91120222MA05T8XK3Q"
    index.upsert([item("mine", f"信用代码{code}，责令停产", agency="A1", district="D1")] +
                 [item(f"other{i}", f"信用代码{code}，责令停产", agency="A2", district="D2") for i in range(25)])
    for q in (code, "停产", "责令停产", "产", "MA05T8", "q"):
        mine = index.search(SearchQuery(terms=parse_terms(q), scope=["A1"]))
        assert (mine.total, [h.doc_id for h in mine.hits]) == (1, ["mine"]), q
        named = index.search(SearchQuery(terms=parse_terms(q), scope=["A1"], agency="A2"))
        assert (named.total, named.hits) == (0, []), q
        assert index.search(SearchQuery(terms=parse_terms(q), kind="inspection")).total == 0, q


def test_a_searcher_opened_on_an_empty_index_sees_later_documents(new_index):
    index = new_index()
    assert index.search(SearchQuery(terms=parse_terms("警告"))).total == 0
    index.upsert([item("a", "警告")])
    assert index.search(SearchQuery(terms=parse_terms("警告"))).total == 1


# -- Ctrl-F at the edges -------------------------------------------------------------------

EDGES = {
    "plate": "违法车辆车牌京A·12345，停放于路口。",
    "plate2": "另查明津B 6P789号车辆未年检。",
    "decision": "当事人应缴纳罚款。逾期不缴纳罚款的，每日加处罚款。",
    "licence": "吊销食品经营许可证。",
    "scattered": "京城A区的12345号房屋，B座6P，789室；款项：逾期。",
    "filler": "款项逾期，编号111。",  # one character where a query has punctuation
}


@pytest.mark.parametrize("q, expected", [
    ("京A·12345", {"plate"}), ("京A 12345", {"plate"}), ("牌京A", {"plate"}), ("A·1234", {"plate"}),
    ("2345", {"plate", "scattered"}), ("津B 6P789", {"plate2"}), ("B 6P7", {"plate2"}), ("6p78", {"plate2"}),
    ("罚", {"decision"}), ("证", {"licence"}), ("款。逾期", {"decision"}), ("罚款。逾", {"decision"}),
    ("。逾期不", {"decision"}), ("京", {"plate", "scattered"}),
    ("京A12345", set()), ("京A·123456", set()), ("款逾期", set()), ("京A·12 345", set()), ("期不缴纳罚", {"decision"}),
    ("营许", {"licence"}), ("可证。", {"licence"}), ("款项", {"scattered", "filler"}),
    ("1--1", set()), ("11", {"filler"}), ("号1", {"filler"}),
])
def test_every_substring_ctrl_f_would_find_and_nothing_scattered(new_index, q, expected):
    index = new_index()
    index.upsert([item(k, v) for k, v in EDGES.items()])
    truth = {k for k, v in EDGES.items() if term_pattern(q).search(normalise(v))}
    assert ids(index, f'"{q}"') == expected == truth


def ctrl_f(term: str, doc: IndexedDocument) -> bool:
    """Whether the term's pattern stands in any searchable field of the document."""
    pattern = term_pattern(term)
    return any(pattern.search(normalise(t)) for t in (
        doc.content, doc.filename, "\n".join([doc.case_number, doc.party_name, doc.party_id, doc.form_name])))


# A small alphabet makes repeated and overlapping pieces likely.
ALPHABET = "行政处罚决定书罚款逾期不缴京津冀某" + "AB6Px12" + "，。·（）〔〕 -\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=60), min_size=1, max_size=6),
       data=st.data())
def test_property_every_substring_finds_its_document_alone_and_with_filters(engine, texts, data):
    with tempfile.TemporaryDirectory() as tmp:
        index = make_index(engine, tmp)
        docs = [item(f"d{i}", t, agency=f"A{i % 2}", district=f"D{i % 2}", kind=("penalty", "inspection")[i % 2])
                for i, t in enumerate(texts)]
        index.upsert(docs)
        try:
            for _ in range(4):
                d = data.draw(st.sampled_from(docs))
                if not d.content:
                    continue
                start = data.draw(st.integers(0, len(d.content) - 1))
                end = data.draw(st.integers(start + 1, len(d.content)))
                sub = d.content[start:end].replace('"', " ")
                if not query_tokens(sub):
                    continue  # punctuation and spaces only: not a search (the parser says so)
                q = f'"{sub}"'
                truth = {x.doc_id for x in docs if ctrl_f(sub, x)}
                assert d.doc_id in truth
                assert ids(index, q) == truth, sub
                assert d.doc_id in ids(index, q, agency=d.agency, kind=d.kind), sub
                assert d.doc_id in ids(index, q, scope=[d.district]), sub
                assert d.doc_id in ids(index, q, date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 1)), sub
                others = {x.doc_id for x in docs if x.agency != d.agency}
                assert not ids(index, q, scope=[d.agency]) & others
        finally:
            index.close()


def test_filters_sort_versions_and_exclusion_agree_between_engines(tmp_path):
    docs = [item(f"d{i}", f"第{i}号决定：责令停产停业" + ("，并处罚款" if i % 3 == 0 else ""),
                 agency=f"A{i % 2}", district="D1", when=WHEN + dt.timedelta(days=i * 10),
                 kind=("penalty", "inspection")[i % 2]) for i in range(30)]
    docs.append(replace(item("d0@v1", "旧版本：责令停产停业"), superseded=True))
    results = {}
    for engine in ENGINES:
        index = make_index(engine, tmp_path / engine)
        index.upsert(docs)
        s = lambda q="", **kw: index.search(SearchQuery(terms=parse_terms(q) if q else [], per_page=100, **kw))
        results[engine] = {
            "all": s("停产停业").total, "versions": s("停产停业", versions="all").total,
            "excl": {h.doc_id for h in s("停产停业 -罚款").hits}, "kind": s("停产", kind="inspection").total,
            "agency": s("停产", agency="A1").total, "nothing": s("停产", scope=[]).total,
            "dates": [h.doc_id for h in s("停产停业", date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 4, 30),
                                           sort="date_asc").hits],
            "newest": [h.doc_id for h in s(sort="date_desc").hits][:3],
            "page2": [h.doc_id for h in index.search(SearchQuery(terms=parse_terms("停产"), sort="date_asc", page=2,
                                                                 per_page=5)).hits],
        }
        index.close()
    t, w = results["tantivy"], results["whoosh"]
    assert t == w
    assert t["all"] == 30 and t["versions"] == 31 and t["kind"] == 15 and t["agency"] == 15 and t["nothing"] == 0
    assert t["excl"] == {f"d{i}" for i in range(30) if i % 3}
    assert t["dates"] == ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]
    assert t["newest"] == ["d29", "d28", "d27"] and t["page2"] == ["d5", "d6", "d7", "d8", "d9"]


# -- generations and hygiene -----------------------------------------------------------------

def _size(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_updating_the_same_documents_keeps_the_index_small(new_index):
    """Old segments are collected after commits and merges: 40 rounds of updates to the same
    200 documents leave the directory within a small factor of a fresh build."""
    docs = [item(f"d{i}", f"第{i}份决定书：当事人销售超过保质期的食品，责令改正，处罚款人民币{i * 100}元。")
            for i in range(200)]
    fresh = new_index()
    fresh.upsert(docs)
    fresh_size = _size(fresh.current_dir())
    index = new_index()
    for round_ in range(40):
        index.upsert(docs[(round_ * 50) % 200:(round_ * 50) % 200 + 50])
    index.upsert(docs)
    assert index.doc_count() == 200
    assert _size(index.current_dir()) < 3 * fresh_size
    assert index.stats().size_bytes == _size(index.current_dir()) and index.stats().documents == 200


def test_a_generation_built_by_an_older_analysis_is_stale(new_index):
    index = new_index()
    index.current_dir()
    assert not index.is_stale()  # created current on first use
    (index.current_dir() / "ANALYSIS").write_text("1")
    assert index.is_stale() and index.stats().stale
    gen = index.new_generation()
    index.swap_to(gen)
    assert not index.is_stale()


def test_a_failed_bulk_load_leaves_the_live_generation_answering(new_index):
    index = new_index()
    index.upsert([item("live", "旧的内容")])
    live = index.current_dir()

    def broken():
        yield item("x", "新的内容")
        raise RuntimeError("storage went away")

    gen = index.new_generation()
    with pytest.raises(RuntimeError):
        index.bulk_load(broken(), gen)
    index.discard(gen)
    assert index.current_dir() == live and not gen.exists()
    assert ids(index, "旧的") == {"live"}


def test_readers_never_lose_the_live_generation_while_it_is_swapped(new_index):
    """A reader that reads the pointer just before a swap removes that generation reads it
    again; it never starts an empty generation of its own over the live one."""
    index = new_index()
    docs = [item(f"d{i}", "责令停产停业") for i in range(5)]
    index.upsert(docs)

    def swaps():
        for _ in range(15):
            gen = index.new_generation()
            index.bulk_load(iter(docs), gen)
            index.swap_to(gen)

    assert set(totals_while(index, "停产停业", swaps)) == {5}
    assert [p.name for p in index.current_dir().parent.glob("gen-*")] == [index.current_dir().name]


def test_a_whoosh_reader_that_fails_to_open_the_swapped_in_generation_tries_again(tmp_path, monkeypatch):
    """The searcher of the old generation is closed before the new one opens; when that open
    fails (the new generation was swapped out in turn), the next try does not close the old
    searcher a second time (Whoosh raised ReaderClosed: the flaky reader of the test above)."""
    from whoosh.index import FileIndex

    index = make_index("whoosh", tmp_path)
    docs = [item(f"d{i}", "责令停产停业") for i in range(3)]
    index.upsert(docs)
    assert index.search(SearchQuery(terms=parse_terms("停产"))).total == 3
    gen = index.new_generation()
    index.bulk_load(iter(docs), gen)
    index.swap_to(gen)
    opened, failures = FileIndex.searcher, []

    def failing_once(self, **kwargs):
        if not failures:
            failures.append(1)
            raise FileNotFoundError("the generation went away")
        return opened(self, **kwargs)

    monkeypatch.setattr(FileIndex, "searcher", failing_once)
    assert index.search(SearchQuery(terms=parse_terms("停产"))).total == 3 and failures == [1]
    index.close()


def test_a_commit_by_another_writer_is_seen_by_the_next_search(engine, tmp_path):
    """The worker writes through its own index object (another process in production): the
    web side's next search sees the commit, without waiting for a reload timer."""
    reader, writer = make_index(engine, tmp_path), make_index(engine, tmp_path)
    assert reader.search(SearchQuery(terms=parse_terms("停产停业"))).total == 0
    for i in range(3):
        writer.upsert([item(f"d{i}", "责令停产停业")])
        assert reader.search(SearchQuery(terms=parse_terms("停产停业"))).total == i + 1
    reader.close()
    writer.close()


@pytest.mark.parametrize("date_from,date_to,expected", [
    (dt.date(2026, 3, 20), None, {"d2", "d3"}),             # from without to
    (None, dt.date(2026, 3, 15), {"d0", "d1"}),             # to without from
    (dt.date(1, 1, 1), None, {"d0", "d1", "d2", "d3"}),     # the far past, as a form may send it
    (None, dt.date(9999, 12, 31), {"d0", "d1", "d2", "d3"}),  # and the far future
    (dt.date(1, 1, 1), dt.date(1, 12, 31), set()),
])
def test_open_and_extreme_date_ranges(new_index, date_from, date_to, expected):
    """A date filter with one end open, or ends outside what an engine can store, answers what
    it means on every engine (tantivy refused dates before 1677 and after 2262 with an error)."""
    index = new_index()
    index.upsert([item(f"d{i}", "责令停产停业", when=WHEN + dt.timedelta(days=i * 10)) for i in range(4)])
    assert ids(index, "停产", date_from=date_from, date_to=date_to) == expected


def test_hits_of_part_of_a_word_rank_by_how_often_and_where_the_term_stands(new_index):
    """A single character or a code fragment is no word of its own: the hits still rank, by the
    grams' own BM25 (more occurrences, shorter text first), on every engine."""
    index = new_index()
    index.upsert([
        item("once", "本案处以罚款。" + "其他与本案无关的内容。" * 20),
        item("thrice", "罚款一千元；另罚没违法所得；再罚。"),
        item("code-long", "统一社会信用代码 91120222MA05K3LX2Q。" + "无关内容。" * 30),
        item("code-short", "代码 91120222MA05K3LX2Q"),
    ])
    hits = index.search(SearchQuery(terms=parse_terms("罚"))).hits
    assert [h.doc_id for h in hits] == ["thrice", "once"] and hits[0].score > hits[1].score > 0
    hits = index.search(SearchQuery(terms=parse_terms("MA05K3"))).hits
    assert [h.doc_id for h in hits] == ["code-short", "code-long"] and hits[0].score > hits[1].score
