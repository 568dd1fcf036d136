"""One durable queue for all background work (issue 17, part 1): jobs committed with their
rows, claimed once under concurrency (SKIP LOCKED on PostgreSQL, a compare-and-set lease on
SQLite), taken again when their worker died, and run by several workers at once."""
from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from archive import jobs, worker
from archive.models import Job
from archive.services.rebuild import manifest_key
from archive.storage.base import ObjectNotFound
from tests.conftest import client_as, concurrently, drain, new_case, record_stage, upload


def _add(archive, n: int, kind: str = "hold") -> list[int]:
    with archive.sessions() as s:
        added = [jobs.enqueue(s, kind, f"subject-{i}") for i in range(n)]
        s.commit()
        return [j.id for j in added]


def test_concurrent_workers_claim_each_job_once(archive):
    ids = _add(archive, 40)

    def take(i):
        got = []
        while True:
            with archive.sessions() as s:
                batch = jobs.claim(s, ("hold",), f"w{i}", limit=3)
            if not batch:
                return got
            got += [j.id for j in batch]

    results = concurrently(8, take)
    assert not [r for r in results if isinstance(r, Exception)], results
    claimed = [j for r in results for j in r]
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    with archive.sessions() as s:
        holders = dict(s.execute(select(Job.id, Job.lease_holder).where(Job.id.in_(ids))).all())
    for i, r in enumerate(results):
        assert all(holders[j] == f"w{i}" for j in r)


def test_an_expired_lease_is_claimed_again_and_the_dead_holder_cannot_finish(archive):
    [job_id] = _add(archive, 1)
    with archive.sessions() as s:
        assert [j.id for j in jobs.claim(s, ("hold",), "dead")] == [job_id]
        assert jobs.claim(s, ("hold",), "alive") == []  # held: nobody else takes it
        s.execute(update(Job).where(Job.id == job_id)
                  .values(lease_expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        s.commit()
        assert [j.id for j in jobs.claim(s, ("hold",), "alive")] == [job_id]
        assert jobs.finish(s, [job_id], "dead") == 0  # its lease was lost
        assert jobs.finish(s, [job_id], "alive") == 1
        s.commit()
        job = s.get(Job, job_id)
        assert job.done_at is not None and job.lease_expires_at is None and job.attempts == 1


def test_a_failed_job_backs_off_and_keeps_its_error(archive):
    [job_id] = _add(archive, 1)
    with archive.sessions() as s:
        jobs.claim(s, ("hold",), "w")
        jobs.fail(s, job_id, "w", ValueError("boom"))
        job = s.get(Job, job_id)
        assert job.attempts == 1 and job.lease_holder is None and "boom" in job.last_error
        assert job.next_attempt_at > dt.datetime.now(dt.timezone.utc)
        assert jobs.claim(s, ("hold",), "w") == []  # waits its back-off


def test_a_case_change_commits_its_manifest_job_and_a_refused_one_none(app, archive, tokens):
    client = client_as(app, "city")
    case = new_case(client)
    with archive.sessions() as s:
        open_ = s.scalars(select(Job).where(Job.kind == "manifest", Job.subject == case["id"],
                                            Job.done_at.is_(None))).all()
    assert len(open_) == 1
    with pytest.raises(ObjectNotFound):  # not written on the request path
        archive.store.stat(manifest_key(case["id"]))
    assert record_stage(client, case["id"], "filing", "2099-01-01T09:00:00+08:00").status_code == 422  # future
    assert record_stage(client, case["id"], "filing", "2026-03-02T10:00:00+08:00").status_code == 201
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(
            Job.kind == "manifest", Job.subject == case["id"])) == 2  # the refused stage queued nothing
    drain(archive)
    manifest = json.loads(b"".join(archive.store.open(manifest_key(case["id"]))))
    assert [st["stage"] for st in manifest["stages"]] == ["filing"]
    versions = [v for k, v in archive.store.keys(f"cases/{case['id']}/case.json")]
    assert len(versions) == 1  # two changes in a row: one manifest version
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(
            Job.kind == "manifest", Job.done_at.is_(None))) == 0


def test_scheduled_rounds_exist_once_however_many_workers_start(archive):
    now = dt.datetime.now(dt.timezone.utc)

    def ensure(i):
        with archive.sessions() as s:
            return jobs.ensure_scheduled(s, "checks", now)

    results = concurrently(6, ensure)
    assert results.count(True) == 1 and results.count(False) == 5, results
    ctx = worker.Context.of(archive)
    ctx.checks_every = 120
    assert worker.run_jobs(ctx, "w", ("checks",)) == 1
    with archive.sessions() as s:
        rows = s.scalars(select(Job).where(Job.kind == "checks").order_by(Job.id)).all()
    assert len(rows) == 2 and rows[0].done_at is not None and rows[1].done_at is None
    assert rows[1].next_attempt_at > now + dt.timedelta(seconds=100)  # the next round, not now
    assert worker.run_jobs(ctx, "w", ("checks",)) == 0


def test_the_scan_removes_jobs_finished_long_ago(archive):
    old, recent, waiting = _add(archive, 3)
    now = dt.datetime.now(dt.timezone.utc)
    with archive.sessions() as s:
        s.execute(update(Job).where(Job.id == old).values(done_at=now - jobs.KEEP_DONE - dt.timedelta(days=1)))
        s.execute(update(Job).where(Job.id == recent).values(done_at=now - dt.timedelta(days=1)))
        s.commit()
        jobs.ensure_scheduled(s, "checks", now)
    assert worker.run_jobs(worker.Context.of(archive), "w", ("checks",)) == 1
    with archive.sessions() as s:
        left = set(s.scalars(select(Job.id).where(Job.id.in_([old, recent, waiting]))).all())
    assert left == {recent, waiting}


def test_a_job_whose_worker_died_runs_again_and_its_effect_happens_once(app, archive, tokens):
    client = client_as(app, "city")
    case = new_case(client)
    doc = upload(client, case["id"], "过期食品 询问笔录".encode("utf-8"), filename="笔录.txt",
                 stage="investigation", form="inquiry_record").get_json()
    with archive.sessions() as s:  # a worker claims the extraction and dies before it ends
        [claimed] = jobs.claim(s, ("extract",), "dead-worker")
        assert claimed.subject == doc["id"]
    assert drain(archive) == 0  # held: nothing to index yet
    with archive.sessions() as s:
        s.execute(update(Job).where(Job.id == claimed.id)
                  .values(lease_expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        s.commit()
    assert drain(archive) == 1
    with archive.sessions() as s:
        kinds = Counter(s.scalars(select(Job.kind).where(Job.subject == doc["id"])).all())
    # (verify: the version read back once; examine: its format and signatures)
    assert kinds == {"extract": 1, "upsert": 1, "verify": 1, "examine": 1}
    hits = client.get("/api/search", query_string={"q": "过期食品"}).get_json()
    assert [h["document_id"] for h in hits["hits"]] == [doc["id"]]


def test_two_workers_share_the_queue_and_run_each_job_once(app, archive, tokens, monkeypatch):
    client = client_as(app, "city")
    case = new_case(client, number="津武市监罚〔2026〕991号")
    for i in range(8):
        assert upload(client, case["id"], f"第{i}份 过期食品".encode("utf-8"), filename=f"笔录{i}.txt",
                      stage="investigation", form="inquiry_record").status_code == 201
    ran: Counter = Counter()
    real = dict(worker.HANDLERS)

    def counting(kind):
        def run(ctx, job, holder):
            ran[job.id] += 1
            time.sleep(0.05)  # long enough for the other worker to want the same job
            return real[kind](ctx, job, holder)
        return run

    for kind in real:
        monkeypatch.setitem(worker.HANDLERS, kind, counting(kind))
    workers = [worker.Worker(archive.sessions, archive.store, archive.index, archive.extract_limits, 0.1, 3600.0,
                             settings=archive.ingest_settings) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        end = time.monotonic() + 90
        while True:
            with archive.sessions() as s:
                if jobs.queue_depth(s)["pending"] == 0:
                    break
            assert time.monotonic() < end, "timed out"
            time.sleep(0.2)
    finally:
        for w in workers:
            w.stop()
        for w in workers:
            w.join(30)
    assert ran and max(ran.values()) == 1  # no job ran twice
    assert all(w.other_done > 0 for w in workers)  # both took general jobs
    assert sum(w.jobs_done for w in workers) >= 8 and min(w.jobs_done for w in workers) == 0  # one writer
    assert client.get("/api/search", query_string={"q": "过期食品"}).get_json()["total"] == 8
