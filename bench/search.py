"""Search benchmark: the archive's two engines (tantivy, Whoosh) on the same documents and queries.

    python -m bench.search [--docs 100000] [--queries 200] [--procs 2]
    python -m bench.search --docs 1000000 --engines tantivy --whoosh-from 100000

Each engine runs in its own process so that its peak memory (max RSS) is its own. Prints
indexing docs/s, index size, peak memory, query p50/p95/max and by query kind, the ratios,
and whether both engines count the same hits for every query.
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


def run_engine(engine: str, n: int, nq: int, workdir: Path, procs: int = 2) -> dict:
    """Build the engine's index through the archive's own port (``bulk_load`` with ``procs``
    analysing processes), then time the query mix through ``search``."""
    from archive.extraction import normalise
    from archive.indexing.base import IndexedDocument
    from archive.indexing.engines import make_index
    from archive.indexing.query import SearchQuery, parse_terms
    from bench.corpus import generate, iter_docs, queries

    qs = queries(generate(min(n, 5000)), nq)
    index = make_index(engine, workdir)
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
    build_rss = _rss_mb()
    times, totals = [], []
    for rnd in range(2):  # the first round warms the page cache; the second is timed
        for i, q in enumerate(qs):
            sq = SearchQuery(terms=parse_terms(q["q"]), agency=q.get("agency") or q.get("district"),
                             date_from=q.get("from"), date_to=q.get("to"))
            t = time.perf_counter()
            page = index.search(sq)
            if rnd:
                times.append(time.perf_counter() - t)
                totals.append(page.total)
    return {"engine": engine, "procs": procs, "docs": n, "docs_per_s": n / build, "build_s": build,
            "index_mb": _dir_size(index.current_dir()) / 1e6, "totals": totals, "build_rss_mb": build_rss,
            **_percentiles(times, [q["kind"] for q in qs])}


def _rss_mb() -> float:
    # The engine's own process plus the largest of its helper processes (the analysing pool).
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _sample_memory(peaks: dict[str, float], stop) -> None:
    """Peaks of the process's anonymous memory and of its file-backed pages (the index files it
    maps), from /proc, every 50 ms: RSS counts both."""
    while not stop.wait(0.05):
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    key = line.split(":")[0]
                    if key in ("RssAnon", "RssFile"):
                        peaks[key] = max(peaks.get(key, 0.0), int(line.split()[1]) / 1024)
        except OSError:
            return


def child(engine: str, n: int, nq: int, procs: int) -> None:
    import threading

    work = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    peaks: dict[str, float] = {}
    stop = threading.Event()
    threading.Thread(target=_sample_memory, args=(peaks, stop), daemon=True).start()
    try:
        result = run_engine(engine, n, nq, work, procs)
    finally:
        stop.set()
        shutil.rmtree(work, ignore_errors=True)
    result["peak_rss_mb"] = _rss_mb()
    result["peak_anon_mb"] = peaks.get("RssAnon", 0.0)
    result["peak_file_mb"] = peaks.get("RssFile", 0.0)
    print("RESULT " + json.dumps(result))


def _run(engine: str, docs: int, nq: int, procs: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.search", "--engine", engine, "--docs", str(docs),
                          "--queries", str(nq), "--procs", str(procs)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{engine} run failed:\n{out.stderr[-3000:]}")
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[7:])


ROWS = (("docs_per_s", "index docs/s"), ("index_mb", "index MB"), ("build_rss_mb", "RSS after build MB"),
        ("peak_rss_mb", "peak RSS MB"), ("peak_anon_mb", "  anonymous MB"), ("peak_file_mb", "  index files MB"),
        ("p50_ms", "query p50 ms"), ("p95_ms", "query p95 ms"), ("max_ms", "query max ms"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--procs", type=int, default=2, help="analysing processes of the bulk load")
    p.add_argument("--engines", default="tantivy,whoosh",
                   help="comma-separated; at 1,000,000 documents use tantivy alone (Whoosh is extrapolated "
                        "from a --whoosh-from run)")
    p.add_argument("--whoosh-from", type=int, default=0,
                   help="also run Whoosh at this many documents and extrapolate it linearly to --docs")
    p.add_argument("--engine", choices=["whoosh", "tantivy"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.engine:
        child(args.engine, args.docs, args.queries, args.procs)
        return
    engines = [e for e in args.engines.split(",") if e]
    results = {e: _run(e, args.docs, args.queries, args.procs) for e in engines}
    print(f"documents: {args.docs:,}  queries: {args.queries}  analysing processes: {args.procs}  "
          f"(both engines through the archive's SearchIndex port, same analysis)")
    if "tantivy" in results:
        t = results["tantivy"]
        print(f"tantivy goals at this size: build >= 1,500 docs/s: {t['docs_per_s']:.0f}; peak RSS < 1 GB: "
              f"{t['peak_rss_mb']:.0f} MB; p95 < {10 if args.docs <= 100_000 else 50} ms: {t['p95_ms']:.1f} ms")
    if args.whoosh_from and "whoosh" not in results:
        w = _run("whoosh", args.whoosh_from, args.queries, args.procs)
        scale = args.docs / args.whoosh_from
        print(f"whoosh measured at {args.whoosh_from:,} documents, EXTRAPOLATED x{scale:g} (linear in documents):")
        w = w | {"docs_per_s": w["docs_per_s"], "index_mb": w["index_mb"] * scale,
                 "peak_rss_mb": w["peak_rss_mb"] * scale, "peak_anon_mb": w["peak_anon_mb"] * scale,
                 "peak_file_mb": w["peak_file_mb"] * scale, "build_rss_mb": w["build_rss_mb"] * scale, "p50_ms": w["p50_ms"] * scale,
                 "p95_ms": w["p95_ms"] * scale, "max_ms": w["max_ms"] * scale,
                 "by_kind": {k: v * scale for k, v in w["by_kind"].items()}, "totals": None}
        results["whoosh (extrapolated)"] = w
    names = list(results)
    print(f"{'':18}" + "".join(f"{n:>22}" for n in names) + (f"{'ratio':>12}" if len(names) == 2 else ""))
    for key, label in ROWS:
        vals = [results[n][key] for n in names]
        ratio = f"{vals[1] / vals[0]:12.2f}" if len(vals) == 2 and vals[0] else ""
        print(f"{label:18}" + "".join(f"{v:22.1f}" for v in vals) + ratio)
    print("median ms by query kind:")
    for k in results[names[0]]["by_kind"]:
        print(f"  {k:20}" + "".join(f"{results[n]['by_kind'][k]:22.2f}" for n in names))
    measured = [n for n in names if results[n].get("totals")]
    if len(measured) == 2:
        a, b = (results[n]["totals"] for n in measured)
        print(f"hit counts equal on {sum(x == y for x, y in zip(a, b))}/{len(a)} queries")


if __name__ == "__main__":
    main()
