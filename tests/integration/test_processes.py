"""Many processes (issue 17, part 2): gunicorn with two web processes and two ``archive worker``
processes on PostgreSQL and the SeaweedFS cluster. Uploads through any web process are indexed
by the one elected writer; SIGKILL of the writer and of a web process loses nothing: the other
worker takes over the index, gunicorn replaces the web process, every document reads back whole."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sqlalchemy as sa

from bench.procs import Deployment, multipart
from tests.conftest import ACCESS, SECRET, new_bucket


def _call(url, token, method="GET", body=None, headers=None, timeout=60):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def _wait(cond, timeout=90.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_gunicorn_and_two_workers_survive_sigkill(tmp_path, pg_server_url, seaweed_cluster):
    name = "archive_p_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    dep = Deployment(tmp_path, {"ARCHIVE_DATABASE_URL": url, "ARCHIVE_S3_ENDPOINT": seaweed_cluster.endpoint,
                                "ARCHIVE_S3_ACCESS_KEY": ACCESS, "ARCHIVE_S3_SECRET_KEY": SECRET,
                                "ARCHIVE_S3_BUCKET": new_bucket(), "ARCHIVE_OCR_ENGINE": "off"}, web=2, workers=2)
    try:
        tokens = dep.prepare(cases=1)
        dep.start()
        clerk = tokens["load_clerk"]
        status, body = _call(dep.url + "/api/cases", clerk, "POST", json.dumps({
            "number": "津武市监罚〔2026〕700号", "agency": "120114-SJJ", "kind": "penalty", "procedure": "general",
            "power": "SJ-FOOD-124", "party_name": "天津某食品有限公司", "party_id": "91120222300417765H",
            "summary": "多进程测试", "opened_on": "2026-03-02"}).encode(), {"Content-Type": "application/json"})
        case = json.loads(body)
        _call(dep.url + f"/api/cases/{case['id']}/stages", clerk, "POST",
              json.dumps({"stage": "investigation", "completed_at": "2026-03-05T10:00:00+08:00"}).encode(),
              {"Content-Type": "application/json"})
        sent: dict[str, str] = {}

        def put(i: int) -> None:
            data = f"询问笔录 第{i}份 多进程标记 {uuid.uuid4().hex}".encode("utf-8") + os.urandom(2048).hex().encode()
            body, ctype = multipart({"stage": "investigation", "form": "inquiry_record"}, f"笔录{i}.txt", data)
            status, out = _call(dep.url + f"/api/cases/{case['id']}/documents", clerk, "POST", body,
                                {"Content-Type": ctype})
            assert status == 201
            sent[json.loads(out)["id"]] = hashlib.sha256(data).hexdigest()

        def found() -> int:
            q = urllib.parse.quote("多进程标记")
            return json.loads(_call(dep.url + f"/api/search?q={q}&per_page=100", clerk)[1])["total"]

        for i in range(6):
            put(i)
        _wait(lambda: found() == 6, what="six documents indexed")
        _wait(lambda: dep.writer_index() is not None, what="a worker to say it writes the index")
        writer = dep.writer_index()
        assert writer is not None
        dep.kill_worker(writer)  # SIGKILL the index writer
        victim = dep.web_pids()[0]
        os.kill(victim, signal.SIGKILL)  # and one web process
        for i in range(6, 12):
            put(i)  # the other web process answers meanwhile; gunicorn starts a new one
        _wait(lambda: found() == 12, what="the other worker to take over the index")
        other = 1 - writer
        assert "this worker writes the index" in (dep.logs / f"worker{other}.log").read_text()
        _wait(lambda: len(dep.web_pids()) == 2 and victim not in dep.web_pids(), what="a new web process")
        for doc_id, sha in sent.items():  # every acknowledged upload reads back whole
            status, data = _call(dep.url + f"/api/documents/{doc_id}/content", clerk)
            assert status == 200 and hashlib.sha256(data).hexdigest() == sha
        engine = sa.create_engine(url)
        with engine.connect() as conn:  # the jobs of the killed worker were taken again and ended
            open_jobs = conn.execute(sa.text("SELECT count(*) FROM jobs WHERE done_at IS NULL "
                                             "AND kind NOT IN ('checks', 'fixity')")).scalar()
        engine.dispose()
        assert open_jobs == 0
    finally:
        dep.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
