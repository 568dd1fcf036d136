"""One very long text against a search engine: how much slower a search gets when it hits it.

    python -m bench.large_text [--engine tantivy|whoosh] [--docs 2000] [--sizes 0,1048576,5242880] [--repeat 15]

Indexes ``--docs`` synthetic decisions (``bench/corpus.py``) plus, for each size, one document
of that many characters in which the query phrase recurs every 25 characters (a worst case),
then prints the median search time and its ratio to the run without the long text, and the time
to highlight one hit in the bounded window the search service uses.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time

from archive.extraction import normalise
from archive.indexing.base import IndexedDocument
from archive.indexing.query import SearchQuery, highlight, parse_terms
from archive.indexing.engines import ENGINES, make_index
from archive.services.search import HIGHLIGHT_CHARS
from bench.corpus import generate

WHEN = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
UNIT = "经查，当事人存在违法行为，责令停产停业，并处罚款。"
QUERY = "停产停业"


def _item(i: int, text: str) -> IndexedDocument:
    return IndexedDocument(f"d{i}", f"c{i}", f"号{i}", normalise(text), f"{i}.pdf", "当事人", "", "A1", "D1", "C",
                           "penalty", "decision", "penalty_decision", "", WHEN, WHEN)


def _median_search(engine: str, texts: list[str], big_chars: int, repeat: int) -> tuple[float, int]:
    index = make_index(engine, tempfile.mkdtemp(prefix="bench-large-"))
    items = [_item(i, t) for i, t in enumerate(texts)]
    if big_chars:
        items.append(_item(len(texts), (UNIT * (big_chars // len(UNIT) + 1))[:big_chars]))
    index.upsert(items)
    times, total = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        total = index.search(SearchQuery(terms=parse_terms(QUERY), per_page=20)).total
        times.append(time.perf_counter() - t)
    return statistics.median(times), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=ENGINES, default="tantivy")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--sizes", default="0,1048576,5242880", help="characters of the long text, comma-separated")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    texts = [d.text for d in generate(args.docs, seed=5)]
    base = None
    for size in (int(s) for s in args.sizes.split(",")):
        median, total = _median_search(args.engine, texts, size, args.repeat)
        base = base or median
        print(f"long text {size:>9} chars: search median {median * 1000:7.1f} ms  ×{median / base:5.1f}  "
              f"(total {total})")
    big = (UNIT * (5 * 1024**2 // len(UNIT) + 1))[:5 * 1024**2]
    t = time.perf_counter()
    highlight(big[:HIGHLIGHT_CHARS], parse_terms(QUERY))
    print(f"highlighting one hit in its first {HIGHLIGHT_CHARS} characters: {(time.perf_counter() - t) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
