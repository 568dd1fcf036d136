"""Search benchmark: the project's Whoosh index against tantivy fed the same tokens.

    python -m bench.search [--docs 100000] [--queries 200]

Each engine runs in its own process so that its peak memory (max RSS) is its own. Prints
indexing docs/s, index size, peak memory, query p50/p95 and the Whoosh/tantivy ratios.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _percentiles(samples: list[float], kinds: list[str] | None = None) -> dict:
    s = sorted(samples)
    out = {"p50_ms": statistics.median(s) * 1000, "p95_ms": s[max(0, int(len(s) * 0.95) - 1)] * 1000,
           "max_ms": s[-1] * 1000}
    if kinds:
        out["by_kind"] = {k: statistics.median([t for t, kk in zip(samples, kinds) if kk == k]) * 1000
                          for k in dict.fromkeys(kinds)}
    return out


def run_whoosh(n: int, nq: int, workdir: Path, procs: int = 2) -> dict:
    from archive.extraction import normalise
    from archive.indexing.base import IndexedDocument
    from archive.indexing.query import SearchQuery, parse_terms
    from archive.indexing.whoosh_index import WhooshIndex
    from bench.corpus import generate, iter_docs, queries

    qs = queries(generate(min(n, 5000)), nq)
    index = WhooshIndex(workdir / "whoosh")
    target = index.new_generation()

    def items():
        for d in iter_docs(n):
            yield IndexedDocument(
                doc_id=d.doc_id, case_id=d.doc_id, case_number=d.case_number, content=normalise(d.text),
                filename="行政处罚决定书.pdf", party_name=d.party_name, party_id=d.party_id, agency=d.agency,
                district=d.district, city="C", kind=d.kind, stage=d.stage, form=d.form,
                form_name="行政处罚决定书", completed_at=d.completed_at, uploaded_at=d.completed_at)

    t0 = time.perf_counter()
    index.bulk_load(items(), target, procs=procs)
    build = time.perf_counter() - t0
    index.swap_to(target)
    times, totals = [], []
    for q in qs:
        sq = SearchQuery(terms=parse_terms(q["q"]), agency=q.get("agency") or q.get("district"),
                         date_from=q.get("from"), date_to=q.get("to"))
        t = time.perf_counter()
        page = index.search(sq)
        times.append(time.perf_counter() - t)
        totals.append(page.total)
    return {"engine": "whoosh", "procs": procs, "docs": n, "docs_per_s": n / build, "build_s": build,
            "index_mb": _dir_size(index.current_dir()) / 1e6, "totals": totals,
            **_percentiles(times, [q["kind"] for q in qs])}


def run_tantivy(n: int, nq: int, workdir: Path) -> dict:
    import datetime as dt

    import tantivy

    from archive.extraction import normalise
    from archive.indexing.analysis import bigram_tokens, words
    from archive.indexing.query import parse_terms
    from bench.corpus import generate, iter_docs, queries

    qs = queries(generate(min(n, 5000)), nq)
    sb = tantivy.SchemaBuilder()
    for name in ("content", "meta"):
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("words", tokenizer_name="whitespace", index_option="freq")
    for name in ("doc_id", "agency", "district"):
        sb.add_text_field(name, stored=name == "doc_id", tokenizer_name="raw")
    sb.add_date_field("completed", indexed=True, fast=True)
    schema = sb.build()
    path = workdir / "tantivy"
    path.mkdir()
    ix = tantivy.Index(schema, path=str(path))
    t0 = time.perf_counter()
    writer = ix.writer(heap_size=256 * 1024 * 1024, num_threads=2)
    for d in iter_docs(n):
        text = normalise(d.text)
        writer.add_document(tantivy.Document(
            content=" ".join(t for t, _, _ in bigram_tokens(text)),
            meta=" ".join(t for t, _, _ in bigram_tokens(f"{d.case_number}\n{d.party_name}\n{d.party_id}")),
            words=" ".join(words(text)), doc_id=d.doc_id, agency=d.agency, district=d.district,
            completed=d.completed_at.replace(tzinfo=None)))
    writer.commit()
    writer.wait_merging_threads()
    build = time.perf_counter() - t0
    ix.reload()
    searcher = ix.searcher()
    times, totals = [], []
    for q in qs:
        t = time.perf_counter()
        must = []
        for term in parse_terms(q["q"]):
            toks = [t_ for t_, _, _ in bigram_tokens(term.text)]
            per_field = []
            for field in ("content", "meta"):
                if len(toks) == 1:
                    per_field.append(tantivy.Query.term_query(schema, field, toks[0]))
                else:
                    per_field.append(tantivy.Query.phrase_query(schema, field, toks))
            must.append((tantivy.Occur.Must, tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in per_field])))
        scope = q.get("agency") or q.get("district")
        if scope:
            must.append((tantivy.Occur.Must, tantivy.Query.boolean_query([
                (tantivy.Occur.Should, tantivy.Query.term_query(schema, f, scope)) for f in ("agency", "district")])))
        if q.get("from"):
            must.append((tantivy.Occur.Must, tantivy.Query.range_query(
                schema, "completed", tantivy.FieldType.Date,
                dt.datetime.combine(q["from"], dt.time.min), dt.datetime.combine(q["to"], dt.time.max))))
        result = searcher.search(tantivy.Query.boolean_query(must), limit=20, count=True)
        [searcher.doc(addr)["doc_id"] for _, addr in result.hits]
        times.append(time.perf_counter() - t)
        totals.append(result.count)
    return {"engine": "tantivy", "docs": n, "docs_per_s": n / build, "build_s": build,
            "index_mb": _dir_size(path) / 1e6, "totals": totals,
            **_percentiles(times, [q["kind"] for q in qs])}


def child(engine: str, n: int, nq: int) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    try:
        result = (run_whoosh if engine == "whoosh" else run_tantivy)(n, nq, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The engine's own process plus the largest of its helper processes (Whoosh's procs=2).
    result["peak_rss_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                             + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print("RESULT " + json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--engine", choices=["whoosh", "tantivy"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.engine:
        child(args.engine, args.docs, args.queries)
        return
    results = {}
    for engine in ("tantivy", "whoosh"):
        out = subprocess.run([sys.executable, "-m", "bench.search", "--engine", engine, "--docs", str(args.docs),
                              "--queries", str(args.queries)], capture_output=True, text=True, check=True)
        line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
        results[engine] = json.loads(line[7:])
    w, t = results["whoosh"], results["tantivy"]
    agree = sum(a == b for a, b in zip(w["totals"], t["totals"]))
    print(f"documents: {args.docs:,}  queries: {args.queries}  (same tokens in both engines)")
    print(f"{'':18}{'whoosh':>12}{'tantivy':>12}{'ratio w/t':>12}")
    for key, label in (("docs_per_s", "index docs/s"), ("index_mb", "index MB"), ("peak_rss_mb", "peak RSS MB"),
                       ("p50_ms", "query p50 ms"), ("p95_ms", "query p95 ms"), ("max_ms", "query max ms")):
        print(f"{label:18}{w[key]:12.1f}{t[key]:12.1f}{w[key] / t[key]:12.2f}")
    print(f"hit counts equal on {agree}/{len(w['totals'])} queries")
    print("median ms by query kind:  " + "; ".join(
        f"{k} {w['by_kind'][k]:.1f} vs {t['by_kind'][k]:.2f}" for k in w["by_kind"]))
    print(f"whoosh linear estimate for 1,000,000 documents: indexing {1_000_000 / w['docs_per_s'] / 3600:.1f} h, "
          f"index {w['index_mb'] * 10 / 1000:.1f} GB")


if __name__ == "__main__":
    main()
