"""Statistics benchmark: a district of 100 agencies with 5,000 powers and 1,000,000 inspection
and penalty records (each with a stage and a document; late uploads, missing forms and escalated
warnings; reviewed files), then the yearly performance ratio, the monthly scoring and the whole
monthly briefing, timed.

    python -m bench.stats [--records 1000000] [--agencies 100] [--powers 5000] [--runs 3] [--db postgresql|sqlite|both]

PostgreSQL: ARCHIVE_TEST_PG_URL's server (default 127.0.0.1:5432, a new database dropped after).
Goal (issue 15): the yearly ratio and a monthly scoring each under 5 s on PostgreSQL.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid

import sqlalchemy as sa

PG_URL = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
YEAR = 2026
NOW = dt.datetime(2026, 11, 27, 4, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


def _rows(n_records: int, n_agencies: int, n_powers: int, seed: int):
    """Yield (table, row tuple) in dependency order, generated reproducibly."""
    rng = random.Random(seed)
    agencies = [f"AG-{i:03d}" for i in range(n_agencies)]
    per = n_powers // n_agencies
    yield "organisations", ("120000", "天津市", "city", None)
    yield "organisations", ("120114", "武清区", "district", "120000")
    for a in agencies:
        yield "organisations", (a, f"执法机关{a}", "agency", "120114")
    powers = {a: [f"{a}-P{j:03d}" for j in range(per)] for a in agencies}
    for a in agencies:
        for j, code in enumerate(powers[a]):
            yield "powers", (a, code, f"职权{code}", "penalty" if j % 3 else "inspection", "依据")
    # Some agencies exercise most of their powers, others few: ratios spread around the threshold.
    reach = {a: rng.uniform(0.2, 0.95) for a in agencies}
    start = dt.datetime(YEAR, 1, 1, 1, tzinfo=UTC)
    span = int((NOW - start).total_seconds())
    warning_n = 0
    for i in range(n_records):
        a = agencies[i % n_agencies]
        ps = powers[a]
        code = ps[rng.randrange(max(1, int(len(ps) * reach[a])))]
        opened = start + dt.timedelta(seconds=rng.randrange(span))
        kind = "inspection" if rng.random() < 0.7 else "penalty"
        cid = uuid.uuid4().hex
        yield "cases", (cid, f"案〔{YEAR}〕{i}号", a, kind, "general", code, opened.date(), opened, opened)
        stage = "inspection" if kind == "inspection" else "filing"
        yield "stages", (cid, stage, opened, opened)
        late = rng.random() < 0.08
        up = opened + (dt.timedelta(days=rng.randint(4, 12)) if late else dt.timedelta(hours=3))
        did = uuid.uuid4().hex
        yield "documents", (did, cid, stage, "x", "x.pdf", "application/pdf", 1, "0" * 64, "k", "v", up, "extracted")
        if late:
            warning_n += 1
            level = 1 if rng.random() < 0.8 else rng.choice((2, 3))
            handled = rng.random() < 0.85
            due = up + dt.timedelta(days=3)
            yield "warnings", ("late_upload", f"doc:{did}", cid, a, stage, "逾期上传", level,
                               "handled" if handled else "open", up, due,
                               due - dt.timedelta(hours=5) if handled else None)
        elif rng.random() < 0.03:
            due = opened + dt.timedelta(days=2)
            yield "warnings", ("missing_documents", f"missing:{stage}", cid, a, stage, "缺少必需文书", 1, "open",
                               due, due + dt.timedelta(days=3), None)
        if i % 200 == 0:  # a reviewed file
            when = opened + dt.timedelta(days=rng.randint(5, 60))
            if when < NOW:
                yield "reviews", (1, cid, f"案〔{YEAR}〕{i}号", a, f"r{i % 7}", "x", when.date(), "submitted", when,
                                  rng.uniform(55, 99), "合格")


COLUMNS = {
    "organisations": "code, name, level, parent_code",
    "powers": "agency_code, code, name, category, legal_basis",
    "cases": "id, number, agency_code, kind, procedure, power_code, opened_on, created_at, changed_at",
    "stages": "case_id, stage, completed_at, recorded_at",
    "documents": "id, case_id, stage, form_code, filename, media_type, size, sha256, object_key, version_id, "
                 "uploaded_at, text_status",
    "warnings": "rule, fact_key, case_id, agency_code, stage, message, level, status, opened_at, due_at, handled_at",
    "reviews": "plan_id, case_id, case_number, agency_code, reviewer, rank, due_on, status, submitted_at, score, grade",
}
DEFAULTS = {  # columns without a server default, filled the same for every row
    "cases": {"party_name": "某公司", "party_id": "", "summary": "", "party_type": "organisation", "sector": "",
              "penalty_types": "[]"},
    "documents": {"version_no": 1},
}


def generate(url: str, n_records: int, n_agencies: int, n_powers: int, seed: int = 15) -> float:
    from archive.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    buffers: dict[str, list[tuple]] = {k: [] for k in COLUMNS}
    order = list(COLUMNS)

    def flush(upto: str | None = None) -> None:
        with engine.begin() as conn:
            for table in order:
                rows = buffers[table]
                if rows:
                    _insert(conn, table, rows)
                    rows.clear()
                if table == upto:
                    break

    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO sampling_plans (id, name, period_start, period_end, kinds, min_per_stratum, "
                             "reviewers_per_file, max_load, review_deadline, status, created_by, created_at) VALUES "
                             "(1, 'bench', '2026-01-01', '2026-12-31', '[\"penalty\"]', 0, 1, 10, '2026-12-31', "
                             "'drawn', 'bench', '2026-01-01')")
    for table, row in _rows(n_records, n_agencies, n_powers, seed):
        buffers[table].append(row)
        if len(buffers["cases"]) >= 50_000:
            flush()
    flush()
    with engine.begin() as conn:  # planner statistics, as autovacuum keeps them on a live database
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - t


def _insert(conn, table: str, rows: list[tuple]) -> None:
    cols = [c.strip() for c in COLUMNS[table].split(",")]
    extra = DEFAULTS.get(table, {})
    names = cols + list(extra)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r + tuple(extra.values()))
    else:
        marks = ", ".join("?" for _ in names)
        conn.connection.driver_connection.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
            [tuple(_sqlite(v) for v in r) + tuple(extra.values()) for r in rows])


def _sqlite(v):
    if isinstance(v, dt.datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def run(label: str, url: str, args) -> None:
    from archive.config import load_config
    from archive.db import make_engine, make_sessionmaker
    from archive.services import briefing, scores, stats

    gen = generate(url, args.records, args.agencies, args.powers)
    engine = make_engine(url)
    config = load_config(environ={})
    with make_sessionmaker(engine)() as s:
        threshold = stats.threshold_for(s, config, YEAR)
        ratio_s, perf = timed(lambda: stats.performance(s, YEAR, None, threshold, as_of=NOW.date()), args.runs)
        drill_s, never = timed(lambda: stats.never_exercised(s, "AG-000", YEAR, as_of=NOW.date()), args.runs)
        month_s, scored = timed(lambda: scores.scores(s, "2026-10", None, config, NOW), args.runs)
        brief_s, data = timed(lambda: briefing.monthly(s, "2026-10", None, config, NOW, title="武清区"), args.runs)
        docx_s, body = timed(lambda: briefing.docx_bytes(data), 1)
    rows = perf["agencies"]
    ranked = [r for r in scored["agencies"] if r["score"] is not None]
    print(f"{label}: {args.records:,} records, {args.agencies} agencies, {args.powers:,} powers "
          f"(generated in {gen:.0f} s); median of {args.runs}:")
    print(f"  yearly performance ratio, all agencies   {ratio_s:6.2f} s   "
          f"({sum(r['status'] == 'pass' for r in rows)} pass, {sum(r['status'] == 'fail' for r in rows)} fail)")
    print(f"  never-exercised drill-down, one agency   {drill_s:6.2f} s   ({len(never)} powers)")
    print(f"  monthly scoring 2026-10, all agencies    {month_s:6.2f} s   "
          f"({len(ranked)} ranked, best {ranked[0]['score']}, worst {ranked[-1]['score']})")
    print(f"  monthly briefing figures (+12-month trend){brief_s:6.2f} s   "
          f"({data['summary']['uploaded']:,} uploads, {data['summary']['warnings_opened']:,} warnings in October)")
    print(f"  briefing DOCX with three charts          {docx_s:6.2f} s   ({len(body) // 1024} KB)")
    print(f"  goal < 5 s: ratio {'met' if ratio_s < 5 else 'MISSED'}, scoring {'met' if month_s < 5 else 'MISSED'}")
    engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--agencies", type=int, default=100)
    p.add_argument("--powers", type=int, default=5000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="postgresql")
    args = p.parse_args()
    if args.db in ("postgresql", "both"):
        name = "bench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            run("PostgreSQL", sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False), args)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args)


if __name__ == "__main__":
    main()
