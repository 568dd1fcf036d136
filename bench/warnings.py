"""Warning-scan benchmark: stage records generated in the database, a full scan, then an
incremental scan after 1 % of the cases changed.

    python -m bench.warnings [--stages 1000000] [--workers 2] [--db sqlite|postgresql|both]

PostgreSQL: ARCHIVE_TEST_PG_URL's server (default 127.0.0.1:5432, a new database dropped after).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
import time
import uuid

import sqlalchemy as sa

PG_URL = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STAGE_FORMS = [("filing", "filing_approval"), ("investigation", "inquiry_record"), ("review", "legal_review_opinion"),
               ("decision", "penalty_decision"), ("execution", "execution_record"), ("closing", "closing_report")]


def generate(engine, n_stages: int, seed: int = 5) -> int:
    """Cases of 1–6 recorded stages, each with its document (some late), ``n_stages`` in all."""
    from archive.db import upgrade
    from archive.models import Case, Document, Stage
    from archive.services.orgs import import_orgs
    from archive.demo import ORGS
    from archive.db import make_sessionmaker

    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        import_orgs(s, ORGS)
        s.commit()
    agencies = [o["code"] for o in ORGS if o["level"] == "agency"]
    rng = random.Random(seed)
    base = dt.datetime(2025, 1, 2, 9, tzinfo=dt.timezone.utc)
    now = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    made, cases, stages, docs = 0, [], [], []
    i = 0

    def flush():
        with engine.begin() as conn:
            if cases:
                conn.execute(sa.insert(Case), cases)
            if stages:
                conn.execute(sa.insert(Stage), stages)
            if docs:
                conn.execute(sa.insert(Document), docs)
        cases.clear(), stages.clear(), docs.clear()

    while made < n_stages:
        cid = uuid.uuid4().hex
        opened = base + dt.timedelta(days=rng.randrange(650))
        cases.append(dict(id=cid, number=f"津武市监罚〔{opened.year}〕{i}号", agency_code=rng.choice(agencies),
                          kind="penalty", procedure="general", power_code="P", party_name="某公司",
                          party_id="", summary="", opened_on=opened.date(), created_at=opened,
                          party_type="organisation", sector="", penalty_types=json.dumps(["fine"]),
                          fine_amount=rng.choice([5000, 50000]), changed_at=opened))
        t = opened
        for stage, form in STAGE_FORMS[: min(rng.randint(1, 6), n_stages - made)]:
            t += dt.timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 8))
            if t > now:
                break
            stages.append(dict(case_id=cid, stage=stage, completed_at=t, recorded_at=t))
            up = t + (dt.timedelta(days=rng.randint(2, 9)) if rng.random() < 0.1 else dt.timedelta(hours=2))
            docs.append(dict(id=uuid.uuid4().hex, case_id=cid, stage=stage, form_code=form, filename="x.pdf",
                             media_type="application/pdf", size=1, sha256="0" * 64, object_key="k", version_id="v",
                             uploaded_at=up, uploader="bench", text_status="extracted"))
            made += 1
        i += 1
        if len(stages) >= 20000:
            flush()
    flush()
    with engine.begin() as conn:  # planner statistics, as autovacuum keeps them on a live database
        conn.exec_driver_sql("ANALYZE")
    return i


def run(label: str, url: str, n_stages: int, workers: int) -> None:
    from archive.db import make_engine, make_sessionmaker
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import parallel_scan, scan
    from archive.models import Case

    engine = make_engine(url)
    t = time.perf_counter()
    n_cases = generate(engine, n_stages)
    gen = time.perf_counter() - t
    sessions = make_sessionmaker(engine)
    now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    with sessions() as s:
        rules, cal = load_rules(), load_calendar(s)
        t = time.perf_counter()
        s.close()
        full = (parallel_scan(url, rules, cal, now, workers) if workers > 1 else scan(s, rules, cal, now))
        full_s = time.perf_counter() - t
        # 1 % of the cases change (a document arrives), then an incremental scan
        ids = s.scalars(sa.select(Case.id).limit(max(1, n_cases // 100))).all()
        s.execute(sa.update(Case).where(Case.id.in_(ids)).values(changed_at=now + dt.timedelta(seconds=1)))
        s.commit()
        t = time.perf_counter()
        inc = scan(s, rules, cal, now + dt.timedelta(minutes=10), incremental=True)
        inc_s = time.perf_counter() - t
    print(f"{label:10} {n_stages:>9,} stage records in {n_cases:,} cases (generated in {gen:.0f} s): "
          f"full scan ({workers} process{'es' if workers > 1 else ''}) {full_s:.1f} s ({n_stages / full_s:,.0f} stage records/s, {full.new:,} warnings); "
          f"incremental scan of {inc.cases:,} cases {inc_s:.2f} s")
    engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2, help="processes for the full scan (archive warnings scan --workers)")
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = p.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.stages, args.workers)
    if args.db in ("postgresql", "both"):
        name = "bench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            run("PostgreSQL", sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False),
                args.stages, args.workers)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
