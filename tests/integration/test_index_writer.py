"""One index writer at a time, elected (issue 17): on PostgreSQL an advisory lock, on SQLite a
file lock beside the index. Two workers on one archive: one drains the index queue, the other
waits; when the writer stops, the other takes over and indexes what arrived meanwhile."""
from __future__ import annotations

import datetime as dt
import time

from archive.jobs import queue_depth
from archive.worker import Worker
from archive.indexing.writer import IndexWriterLease
from archive.indexing.query import SearchQuery, parse_terms
from tests.conftest import client_as, new_case, upload


def test_the_lease_is_held_by_one_at_a_time(archive):
    engine = archive.sessions.kw["bind"]
    a, b = IndexWriterLease(engine, archive.index.root), IndexWriterLease(engine, archive.index.root)
    assert a.acquire() is True and a.held
    assert b.acquire() is False and not b.held
    assert a.acquire() is True  # still held
    a.release()
    assert b.acquire() is True
    b.release()


def _wait(cond, timeout=60.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


def test_two_workers_one_writer_and_a_takeover(app, archive, tokens):
    client = client_as(app, "city")
    case = new_case(client, number="津武市监罚〔2026〕990号")
    for i in range(6):
        assert upload(client, case["id"], f"第{i}份文书 过期食品".encode("utf-8"), filename=f"笔录{i}.txt",
                      stage="investigation", form="inquiry_record").status_code == 201
    workers = [Worker(archive.sessions, archive.store, archive.index, archive.extract_limits, 0.2, 3600.0,
                      settings=archive.ingest_settings)
               for _ in range(2)]
    for w in workers:
        w.start()

    def depth() -> int:
        with archive.sessions() as s:
            return queue_depth(s)["pending"]

    try:
        _wait(lambda: depth() == 0)
        writers = [w for w in workers if w.lease.held]
        assert len(writers) == 1
        writer, other = writers[0], next(w for w in workers if w is not writers[0])
        assert writer.jobs_done >= 6 and other.jobs_done == 0
        writer.stop()
        writer.join(30)
        assert not writer.lease.held
        for i in range(3):
            assert upload(client, case["id"], f"补充材料{i} 过期食品".encode("utf-8"), filename=f"补充{i}.txt",
                          stage="investigation", form="inquiry_record").status_code == 201
        _wait(lambda: depth() == 0)
        assert other.lease.held and other.jobs_done >= 3
        assert archive.index.search(SearchQuery(terms=parse_terms("过期食品"))).total == 9
    finally:
        for w in workers:
            w.stop()
        for w in workers:
            w.join(30)


def test_a_web_process_reads_the_index_and_never_writes_it(tmp_path, database_url, seaweed):
    """``create_app()`` on its own (gunicorn's web processes) opens the index read-only: before
    the worker built it, searches answer from an empty index in memory and nothing is created on
    disk; a write is refused; what the worker writes is found."""
    import pytest

    from archive.config import load_config
    from archive.extension import build_archive
    from archive.factory import create_app
    from archive.indexing.base import IndexedDocument
    from tests.conftest import archive_config

    cfg = load_config(archive_config(tmp_path, database_url, seaweed.endpoint), environ={})
    worker_side = build_archive(cfg)
    worker_side.prepare()
    web = create_app(cfg).extensions["archive"].index
    assert web.read_only and not worker_side.index.read_only
    assert web.search(SearchQuery(terms=parse_terms("过期食品"))).total == 0
    assert web.generations.live_dir() is None  # nothing was created by the read
    doc = IndexedDocument(doc_id="d1", case_id="c1", case_number="津武市监罚〔2026〕1号", content="销售过期食品",
                          filename="决定书.pdf", party_name="某公司", party_id="", agency="A", district="D",
                          city="C", kind="penalty", stage="decision", form="penalty_decision", form_name="",
                          completed_at=None, uploaded_at=dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc))
    with pytest.raises(RuntimeError, match="only reads"):
        web.upsert([doc])
    worker_side.index.upsert([doc])
    assert [h.doc_id for h in web.search(SearchQuery(terms=parse_terms("过期食品"))).hits] == ["d1"]
