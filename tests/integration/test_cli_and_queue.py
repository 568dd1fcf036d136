"""The command line, the durable index queue, reindex, reconcile and the demo loader."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.cli import main
from archive.demo.documents import make_pdf
from archive.indexing.query import SearchQuery, parse_terms
from archive.models import Case, Job
from archive.services.ingest import HashingSpool, ingest
from tests.conftest import ACCESS, SECRET, drain, new_case, upload

PDF = make_pdf("行政处罚决定书", ["本机关决定：责令停产停业。"])


@pytest.fixture
def cli_env(monkeypatch, archive):
    """Point the CLI's configuration at the test archive."""
    cfg = archive.config
    for key in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_BUCKET", "INDEX_DIR"):
        monkeypatch.setenv("ARCHIVE_" + key, str(cfg[key]))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)
    return CliRunner()


def test_orgs_import_csv_and_json_then_list(cli_env, tmp_path):
    csv_file = tmp_path / "orgs.csv"
    csv_file.write_text("code,level,parent,name\n120000,city,,天津市\n120114,district,120000,武清区\n"
                        "120114-SJJ,agency,120114,武清区市场监督管理局\n", encoding="utf-8")
    r = cli_env.invoke(main, ["orgs", "import", str(csv_file)])
    assert r.exit_code == 0, r.output
    json_file = tmp_path / "more.json"
    json_file.write_text(json.dumps([{"code": "120113", "level": "district", "parent": "120000", "name": "北辰区",
                                      "children": [{"code": "120113-SJJ", "level": "agency", "name": "北辰区市场监督管理局"}]}],
                                    ensure_ascii=False), encoding="utf-8")
    assert cli_env.invoke(main, ["orgs", "import", str(json_file)]).exit_code == 0
    out = cli_env.invoke(main, ["orgs", "list"]).output.splitlines()
    assert out[0] == "120000\tcity\t\t天津市"
    assert "120113-SJJ\tagency\t120113\t北辰区市场监督管理局" in out
    assert len(out) == 5


def test_orgs_import_refuses_bad_files_and_changes_nothing(cli_env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,level,parent,name\nX1,agency,NOPE,某局\n", encoding="utf-8")
    r = cli_env.invoke(main, ["orgs", "import", str(bad)])
    assert r.exit_code != 0 and "unknown parent" in r.output
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("code,level,parent,name\nX1,ministry,,某部\n", encoding="utf-8")
    assert "level must be" in cli_env.invoke(main, ["orgs", "import", str(wrong)]).output
    assert cli_env.invoke(main, ["orgs", "list"]).output == ""


def test_failed_worker_keeps_jobs_and_indexing_is_idempotent(client, archive, orgs):
    from archive.jobs import enqueue_index as enqueue
    from archive.worker import Context, run_round

    case = new_case(client)
    doc = upload(client, case["id"], PDF).get_json()

    class BrokenIndex:
        def upsert(self, docs):
            raise OSError("disk full")

    broken = Context.of(archive)
    broken.index = BrokenIndex()  # type: ignore[assignment]
    with pytest.raises(OSError, match="disk full"):
        run_round(broken, "test")
    with archive.sessions() as s:
        job = s.scalars(select(Job).where(Job.kind == "upsert")).one()
        assert job.done_at is None and job.attempts == 0 and "disk full" in job.last_error
    assert drain(archive) == 1
    assert archive.index.doc_count() == 1
    with archive.sessions() as s:
        enqueue(s, [doc["id"], doc["id"]])
        s.commit()
    assert drain(archive) == 2
    assert archive.index.doc_count() == 1
    hits = archive.index.search(SearchQuery(terms=parse_terms("停产停业"))).hits
    assert [h.doc_id for h in hits] == [doc["id"]]


def test_commit_failure_leaves_an_orphan_that_reconcile_reports(client, archive, orgs, cli_env, monkeypatch):
    case = new_case(client)
    assert upload(client, case["id"], PDF).status_code == 201
    with archive.sessions() as session:
        c = session.get(Case, case["id"])

        def crash(self):
            raise RuntimeError("database went away")

        with monkeypatch.context() as m, pytest.raises(RuntimeError):
            m.setattr(Session, "commit", crash)
            ingest(session, archive.store, archive.ingest_settings, c, stage="decision",
                   form="penalty_decision", filename="孤儿.pdf",
                   spool=HashingSpool.from_stream(io.BytesIO(PDF + b"%orphan")))
    from archive.services.reconcile import reconcile

    with archive.sessions() as s:
        report = reconcile(s, archive.store)
    assert len(report.orphans) == 1 and report.missing == []
    assert report.orphans[0]["metadata"]["filename"] == "孤儿.pdf"
    assert report.orphans[0]["metadata"]["case-number"] == case["number"]
    r = cli_env.invoke(main, ["reconcile"])
    assert r.exit_code == 1 and "orphan\t" in r.output and "孤儿.pdf" in r.output


def test_reconcile_of_a_consistent_archive(client, archive, orgs, cli_env):
    case = new_case(client)
    upload(client, case["id"], PDF)
    r = cli_env.invoke(main, ["reconcile"])
    assert r.exit_code == 0 and "consistent" in r.output


def test_reindex_builds_a_new_generation_and_swaps_it_in(client, archive, orgs, cli_env):
    case = new_case(client)
    doc = upload(client, case["id"], PDF).get_json()
    drain(archive)
    before_dir = archive.index.current_dir()
    r = cli_env.invoke(main, ["reindex", "--re-extract"])
    assert r.exit_code == 0, r.output
    assert archive.index.current_dir() != before_dir and not before_dir.exists()
    hits = client.get("/api/search", query_string={"q": "停产停业"}).get_json()["hits"]
    assert [h["document_id"] for h in hits] == [doc["id"]]


def test_reindex_shows_progress_and_builds_another_engine_beside_the_live_one(client, archive, orgs, cli_env):
    case = new_case(client)
    doc = upload(client, case["id"], PDF).get_json()
    drain(archive)
    live = archive.index.current_dir()
    other = "whoosh" if archive.index.engine == "tantivy" else "tantivy"
    r = cli_env.invoke(main, ["reindex", "--engine", other])
    assert r.exit_code == 0, r.output
    assert "1/1 documents" in r.output and "/s" in r.output and other in r.output
    assert archive.index.current_dir() == live  # the configured engine's index is untouched
    from archive.indexing.engines import make_index

    built = make_index(other, archive.config["INDEX_DIR"])
    assert [h.doc_id for h in built.search(SearchQuery(terms=parse_terms("停产停业"))).hits] == [doc["id"]]
    built.close()


def test_an_interrupted_reindex_leaves_the_live_index_answering(client, archive, orgs, monkeypatch):
    from archive.indexing import queue

    case = new_case(client)
    docs = [upload(client, case["id"], PDF + f"\n%{i}".encode(), filename=f"决定书{i}.pdf").get_json()
            for i in range(3)]
    drain(archive)
    live = archive.index.current_dir()
    real = queue.indexed_document
    calls = []

    def failing(session, doc, cache=None):
        calls.append(doc.id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the build
        return real(session, doc, cache)

    monkeypatch.setattr(queue, "indexed_document", failing)
    with pytest.raises(KeyboardInterrupt):
        queue.reindex(archive.sessions, archive.store, archive.index)
    assert archive.index.current_dir() == live
    assert sorted(p.name for p in live.parent.glob("gen-*")) == [live.name]  # the partial build is gone
    hits = client.get("/api/search", query_string={"q": "停产停业"}).get_json()
    assert hits["total"] == 3 and {h["document_id"] for h in hits["hits"]} == {d["id"] for d in docs}


def test_searches_keep_answering_while_reindex_swaps_generations(client, archive, orgs):
    import threading

    from archive.indexing.queue import reindex

    case = new_case(client)
    for i in range(4):
        upload(client, case["id"], PDF + f"\n%{i}".encode(), filename=f"决定书{i}.pdf")
    drain(archive)
    totals, errors, stop = [], [], threading.Event()

    def searching():
        try:
            while not stop.is_set():
                totals.append(archive.index.search(SearchQuery(terms=parse_terms("停产停业"))).total)
        except Exception as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    t = threading.Thread(target=searching)
    t.start()
    try:
        for _ in range(3):
            assert reindex(archive.sessions, archive.store, archive.index) == 4
    finally:
        stop.set()
        t.join()
    assert errors == [] and totals and set(totals) == {4}


def test_a_stale_index_is_rebuilt_by_the_worker_and_health_says_so(client, archive, orgs):
    from archive.indexing.queue import rebuild_if_stale

    case = new_case(client)
    upload(client, case["id"], PDF)
    drain(archive)
    assert rebuild_if_stale(archive.sessions, archive.store, archive.index) is None  # current: nothing to do
    (archive.index.current_dir() / "ANALYSIS").write_text("1")  # as an older release left it
    health = client.get("/api/health").get_json()
    assert health["index"]["stale"] and health["status"] == "degraded"
    assert rebuild_if_stale(archive.sessions, archive.store, archive.index) == 1
    health = client.get("/api/health").get_json()["index"]
    assert health == {"ok": True, "engine": archive.config["SEARCH_ENGINE"], "documents": 1,
                      "size_bytes": health["size_bytes"], "stale": False} and health["size_bytes"] > 0


def test_an_engine_first_used_by_a_search_is_filled_by_the_worker(client, archive, orgs, make_app):
    """Switching engines without building first: a search opens an empty index; the worker
    fills it from the catalog when it starts instead of trusting the empty generation."""
    from archive.indexing.queue import rebuild_if_stale

    case = new_case(client)
    doc = upload(client, case["id"], PDF).get_json()
    drain(archive)
    other = "whoosh" if archive.config["SEARCH_ENGINE"] == "tantivy" else "tantivy"
    switched = make_app(SEARCH_ENGINE=other, S3_BUCKET=archive.config["S3_BUCKET"]).extensions["archive"]
    assert switched.index.search(SearchQuery(terms=parse_terms("停产停业"))).total == 0  # empty, but current
    assert rebuild_if_stale(switched.sessions, switched.store, switched.index) == 1
    assert [h.doc_id for h in switched.index.search(SearchQuery(terms=parse_terms("停产停业"))).hits] == [doc["id"]]


def test_demo_loader_makes_cases_documents_and_an_index(archive):
    from archive.demo import load_demo

    n = load_demo(archive, cases=6)
    with archive.sessions() as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == 6 and {c.kind for c in cases} == {"penalty", "inspection"}
        statuses = {d.text_status for c in cases for d in c.documents if not d.filename.endswith("（扫描件）.pdf")}
        scans = {d.text_status for c in cases for d in c.documents if d.filename.endswith("（扫描件）.pdf")}
    # signed service receipts are scans: indexed by name, waiting for the OCR worker
    assert n >= 6 and statuses == {"extracted"} and scans == {"ocr_pending"}
    assert archive.index.doc_count() == n
    assert archive.index.search(SearchQuery(terms=parse_terms("行政处罚"))).total > 0
    # every stored version examined: the demo's files are all master copies in an accepted format,
    # and a decision sealed as OFD (a third of them) carries a seal that verifies
    import json

    from archive.models import Document, Examination

    with archive.sessions() as s:
        exams = s.scalars(select(Examination)).all()
        ofds = s.scalars(select(Document).where(Document.media_type == "application/ofd")).all()
    assert len(exams) == n and {e.policy for e in exams} == {"master"} and not any(e.protection for e in exams)
    for e in exams:
        for sig in json.loads(e.signatures):
            assert sig["result"] == "验证通过" and sig["seal_name"].endswith("行政执法专用章")
    assert ofds and all(d.text_status == "extracted" for d in ofds)
    # the basic information the 基础信息 and 统计 pages show: officers (one certificate lapsed) and plans
    from archive.models import InspectionPlan, Officer

    with archive.sessions() as s:
        officers = s.scalars(select(Officer)).all()
        plans = s.scalars(select(InspectionPlan)).all()
    from archive.clock import SHANGHAI

    today = dt.datetime.now(SHANGHAI).date()
    assert len(officers) >= 10 and sum(o.valid_until < today for o in officers) == 1
    assert plans and all(p.year == today.year and p.power_code for p in plans)
    from archive.models import SupervisionTask

    with archive.sessions() as s:  # a 交办 to the market regulator and a 转办 to the Wuqing office
        assert {(t.kind, t.assignee_org) for t in s.scalars(select(SupervisionTask))} == {
            ("assign", "120114-SJJ"), ("transfer", "120114")}


def _free_port() -> int:
    from archive.storage.seaweed import pick_ports

    return pick_ports(1)[0]


def test_serve_starts_everything_from_nothing(tmp_path):
    """The README's first command on a fresh data directory: SeaweedFS, SQLite, demo data."""
    port, s3 = _free_port(), _free_port()
    env = dict(os.environ, ARCHIVE_PORT=str(port), ARCHIVE_S3_PORT=str(s3))
    for k in ("ARCHIVE_S3_ENDPOINT", "ARCHIVE_DATABASE_URL", "ARCHIVE_INDEX_DIR", "ARCHIVE_S3_BUCKET"):
        env.pop(k, None)
    proc = subprocess.Popen([sys.executable, "-m", "archive.cli", "serve", "--data-dir", str(tmp_path / "d")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if "stop with Ctrl-C" in line:
                break
        out = "".join(lines)
        assert f"http://127.0.0.1:{port}/login" in out, out
        assert "the passwords are shown only now" in out and "wq_sjj" in out
        # the three administrators (三权分立), each with a password of its own
        shown = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(\w+)\s+\S+\s+\S+\s+(\S{14})\s", out, re.M)}
        assert {"sysadmin", "secadmin", "auditadmin", "wq_sjj"} <= set(shown), out
        assert len({shown["sysadmin"], shown["secadmin"], shown["auditadmin"], shown["wq_sjj"]}) == 4
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            health = json.load(r)
        # a missing holiday calendar (next year's is published late in the year) degrades, not fails
        assert health["status"] == ("degraded" if health["calendar"]["missing"] else "ok")
        assert health["database"]["ok"] and health["object_store"]["ok"] and health["index"]["documents"] > 100
        q = urllib.parse.quote("停产停业")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q={q}", timeout=10)
        assert refused.value.code == 401
        # the README's first searches find what it promises, for the account it names
        readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split("\n")[:40])
        for account, term in (("wq_sjj", "保质期"), ("wq_fzb", "停产停业")):
            assert re.search(rf"as `{account}`[^`]*search\s+for {term}", readme), (account, term)
            issued = subprocess.run([sys.executable, "-m", "archive.cli", "tokens", "issue", account], env=dict(
                env, ARCHIVE_DATA_DIR=str(tmp_path / "d")), capture_output=True, text=True, check=True)
            token = issued.stdout.strip().splitlines()[-1]
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/search?q={urllib.parse.quote(term)}",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert json.load(r)["total"] > 0, (account, term)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # SeaweedFS stopped too: its port refuses connections (polled, not slept on)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _accepts(s3):
        time.sleep(0.2)
    assert not _accepts(s3)


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_command_on_an_unknown_user_names_the_data_directory_and_database(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHIVE_DATA_DIR", raising=False)
    monkeypatch.delenv("ARCHIVE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["tokens", "issue", "wq_fzb"])
    assert out.exit_code == 1
    assert "no user wq_fzb" in out.output and f"data directory: {tmp_path / 'data'}" in out.output
    assert "database: sqlite:///" in out.output and "ARCHIVE_DATA_DIR is not set" in out.output


def test_bin_archive_runs_the_command_with_the_project_environment():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([str(root / "bin" / "archive"), "--help"], capture_output=True, text=True, timeout=120,
                          cwd="/")
    assert done.returncode == 0 and "tokens" in done.stdout and "serve" in done.stdout
