"""Hardening (issue 10): scoped totals, who reads reviews, revocable sessions, exactly-once
decisions under concurrency, legal holds racing uploads, the login throttle under parallel
guesses, verified reads, reconcile after amendments, bounded text, jobs that recover.
Real SeaweedFS; every database test on SQLite and on PostgreSQL."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from archive import jobs
from archive.demo.documents import make_pdf
from archive.models import Amendment, Document, DocumentVersion, FixityEvent, Job, WarningRecord
from archive.worker import Context, run_round
from tests.conftest import client_as, concurrently, damage_on_volume, drain, new_case, record_stage, upload
from tests.integration.test_accounts_audit import PASSWORD, csrf_of, log_in, person  # noqa: F401
from tests.integration.test_sampling import PLAN, cases_in_period, reviewers  # noqa: F401

CODE = "91120222MA05T8XK3Q"  # a credit code: one letters-and-digits token


def statuses(responses) -> Counter:
    return Counter(r.status_code if hasattr(r, "status_code") else repr(r) for r in responses)


# -- 1. search totals inside the scope ----------------------------------------------------------

TEXT = f"当事人统一社会信用代码{CODE}，经查实施了违法行为，责令停产停业。"


@pytest.fixture
def spread(app, client, archive):
    """One document with the code in agency A-SJJ, one in A-YJJ and three in B-SJJ."""
    where = {}
    for i, agency in enumerate(["A-SJJ", "A-YJJ", "B-SJJ", "B-SJJ", "B-SJJ"]):
        case = new_case(client, number=f"津测罚〔2026〕{i + 1}号", agency=agency, party_id="")
        assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
        doc = upload(client, case["id"], make_pdf("行政处罚决定书", [TEXT])).get_json()
        where[doc["id"]] = agency
    drain(archive)
    return where


VISIBLE = {"clerk_a": {"A-SJJ"}, "legal_a": {"A-SJJ"}, "clerk_ay": {"A-YJJ"}, "clerk_b": {"B-SJJ"},
           "district_a": {"A-SJJ", "A-YJJ"}, "complaints_a": {"A-SJJ", "A-YJJ"}, "district_b": {"B-SJJ"},
           "city": {"A-SJJ", "A-YJJ", "B-SJJ"}, "auditor": {"A-SJJ", "A-YJJ", "B-SJJ"}, "reviewer": set()}


QUERIES = [CODE, "停产", "停产停业", '"责令停产停业"', "查", "信用 停业"]


def test_search_totals_count_only_what_the_caller_may_see(app, spread):
    """Every query form (a code, a gram, a word, a phrase, one character, two words) on one world."""
    for q in QUERIES:
        _totals_in_scope(app, spread, q)


def _totals_in_scope(app, spread, q: str) -> None:
    for who, agencies in VISIBLE.items():
        expected = sorted(d for d, a in spread.items() if a in agencies)
        body = client_as(app, who).get("/api/search", query_string={"q": q}).get_json()
        assert body["total"] == len(expected), (who, q, body["total"])
        assert sorted(h["document_id"] for h in body["hits"]) == expected, (who, q)
        # naming another organisation narrows, never widens: 0 outside the scope
        for code in ("A-SJJ", "A-YJJ", "B-SJJ", "120114", "120113", "120000"):
            named = client_as(app, who).get("/api/search", query_string={"q": q, "agency": code}).get_json()
            inside = [d for d in expected if spread[d] == code or
                      (code == "120114" and spread[d].startswith("A-")) or
                      (code == "120113" and spread[d].startswith("B-")) or code == "120000"]
            assert named["total"] == len(inside), (who, q, code, named["total"])


def test_the_search_page_shows_the_scoped_total(app, archive, spread, person):  # noqa: F811
    c = app.test_client()
    assert log_in(c, person, PASSWORD).status_code == 302  # zhang: a clerk of A-SJJ
    page = c.get("/", query_string={"q": CODE}, follow_redirects=True).get_data(as_text=True)
    assert "共 <strong>1</strong> 份" in page


# -- 2. reviews and plans -------------------------------------------------------------------------

@pytest.fixture
def drawn(app, client, reviewers):  # noqa: F811
    cases_in_period(client)
    plan = client.post("/api/sampling/plans", json=PLAN).get_json()
    r = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "2026-10-08 双色球 03 11 17"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_reviews_are_read_by_their_reviewer_the_offices_above_and_auditors(app, drawn):
    on_a = [a for a in drawn["assignments"] if a["agency"] == "A-SJJ"]
    on_b = [a for a in drawn["assignments"] if a["agency"] == "B-SJJ"]
    assert on_a and on_b
    review = on_a[0]
    url = f"/api/reviews/{review['review_id']}"
    # the agency whose file it is, and complaint handlers: never
    for who in ("clerk_a", "legal_a", "complaints_a"):
        assert client_as(app, who).get("/api/reviews").status_code == 403, who
        assert client_as(app, who).get(url).status_code == 404, who
    assert client_as(app, "district_b").get(url).status_code == 404
    for who in (review["reviewer"], "district_a", "city", "auditor"):
        assert client_as(app, who).get(url).status_code == 200, who
    listed = client_as(app, "district_a").get("/api/reviews").get_json()["reviews"]
    assert listed and {r["agency"] for r in listed} <= {"A-SJJ", "A-YJJ"}


def test_a_district_office_sees_only_its_own_part_of_a_city_wide_plan(app, drawn):
    view = client_as(app, "district_a").get(f"/api/sampling/plans/{drawn['id']}").get_json()
    for s in view["strata"]:
        if s["agency"].startswith("B-"):
            assert s["population"] is None and s["sample"] is None and s["digest"]  # digest stays public
        else:
            assert s["population"]
    assert view["assignments"] and {a["agency"] for a in view["assignments"]} <= {"A-SJJ", "A-YJJ"}
    assert not any("津辰" in a["case_number"] for a in view["assignments"])
    whole = client_as(app, "city").get(f"/api/sampling/plans/{drawn['id']}").get_json()
    assert any(a["agency"] == "B-SJJ" for a in whole["assignments"])


def test_concurrent_draws_draw_once(app, client, reviewers):  # noqa: F811
    cases_in_period(client)
    plan = client.post("/api/sampling/plans", json=PLAN).get_json()
    assert client.post(f"/api/sampling/plans/{plan['id']}/freeze").status_code == 200
    out = concurrently(4, lambda i: client_as(app, "city").post(
        f"/api/sampling/plans/{plan['id']}/draw", json={"seed": f"seed-{i}"}))
    assert statuses(out) == Counter({200: 1, 409: 3})
    seeds = {r.get_json()["seed"] for r in out if r.status_code == 200}
    final = client.get(f"/api/sampling/plans/{plan['id']}").get_json()
    assert {final["seed"]} == seeds
    assert len(final["assignments"]) == len({(a["case_number"], a["reviewer"]) for a in final["assignments"]})


# -- 3. logout ends the session on the server -------------------------------------------------------

def test_a_cookie_replayed_after_logout_is_refused(app, archive, person):  # noqa: F811
    c = app.test_client()
    assert log_in(c, person, PASSWORD).status_code == 302
    cookie = c.get_cookie("archive_session").value
    page = c.get("/")
    assert page.status_code == 200
    assert c.post("/logout", data={"csrf_token": csrf_of(page.data)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("archive_session", cookie)
    assert replay.get("/api/forms").status_code == 401
    assert replay.get("/").status_code == 302


def test_password_change_and_disabling_end_sessions(app, archive, person):  # noqa: F811
    from archive.auth.accounts import disable_user, find_user, set_password

    first, second = app.test_client(), app.test_client()
    assert log_in(first, person, PASSWORD).status_code == 302
    assert log_in(second, person, PASSWORD).status_code == 302
    with archive.sessions() as s:
        set_password(s, find_user(s, person), "另一个足够长的密码-New2")
        s.commit()
    assert first.get("/api/forms").status_code == 401 and second.get("/api/forms").status_code == 401
    third = app.test_client()
    assert log_in(third, person, "另一个足够长的密码-New2").status_code == 302
    assert third.get("/api/forms").status_code == 200
    with archive.sessions() as s:
        disable_user(s, find_user(s, person))
        s.commit()
    assert third.get("/api/forms").status_code == 401


# -- 5, 6. amendments decided once; one pending per document ------------------------------------------

CORRECTED = make_pdf("行政处罚决定书（更正）", ["本机关决定：罚款人民币叁万元整。"])


@pytest.fixture
def document(app, client):
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    return upload(client, case["id"], make_pdf("行政处罚决定书", ["罚款人民币伍万元整。"])).get_json()


def amend(app, doc_id, who="clerk_a"):
    return client_as(app, who).post(f"/api/documents/{doc_id}/amendments", data={
        "reason": "罚款金额笔误", "file": (io.BytesIO(CORRECTED), "更正决定书.pdf")}, content_type="multipart/form-data")


def test_concurrent_amendment_requests_leave_one_pending(app, archive, document):
    out = concurrently(6, lambda i: amend(app, document["id"]))
    assert statuses(out) == Counter({201: 1, 409: 5})
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Amendment).where(
            Amendment.document_id == document["id"], Amendment.status == "pending")) == 1


def test_concurrent_decisions_decide_once(app, archive, client, document):
    a = amend(app, document["id"]).get_json()
    url = f"/api/amendments/{a['id']}/decision"
    bodies = [{"approve": True, "note": "核实"}] * 3 + [{"approve": False, "note": "不予更正"}]
    out = concurrently(4, lambda i: client_as(app, "district_a").post(url, json=bodies[i]))
    assert statuses(out) == Counter({200: 1, 409: 3})
    winner = next(r.get_json() for r in out if r.status_code == 200)
    versions = client.get(f"/api/documents/{document['id']}/versions").get_json()["versions"]
    if winner["status"] == "approved":
        assert [v["version"] for v in versions] == [1, 2] and winner["new_version_no"] == 2
    else:
        assert [v["version"] for v in versions] == [1]
    with archive.sessions() as s:
        assert s.get(Amendment, a["id"]).status == winner["status"]
        key = s.get(Document, document["id"]).object_key
    assert len([v for k, v in archive.store.keys(key) if k == key]) == len(versions)


def test_an_approval_whose_write_fails_is_applied_by_the_worker(app, archive, client, document, monkeypatch):
    """The decision commits first; the new version follows from its durable job."""
    from archive.storage.base import StorageUnavailable

    a = amend(app, document["id"]).get_json()
    real_put = archive.store.put

    def down(*args, **kwargs):
        raise StorageUnavailable("object store unreachable: test")

    monkeypatch.setattr(archive.store, "put", down)
    r = client_as(app, "district_a").post(f"/api/amendments/{a['id']}/decision", json={"approve": True})
    assert r.status_code == 200 and r.get_json()["status"] == "approved" and r.get_json()["new_version_no"] is None
    assert client.get(f"/api/documents/{document['id']}/content").data != CORRECTED  # still version 1
    monkeypatch.setattr(archive.store, "put", real_put)
    drain(archive)
    assert client.get(f"/api/amendments/{a['id']}").get_json()["new_version_no"] == 2
    assert client.get(f"/api/documents/{document['id']}/content").data == CORRECTED


def test_an_application_interrupted_after_the_write_is_finished_once(app, archive, client, document, monkeypatch):
    """The object was written but the commit failed: the retry finds it, writes no second one,
    and neither fixity nor reconcile calls it an alteration or an orphan meanwhile."""
    from archive.services import amendments as service
    from archive.services.fixity import check_document
    from archive.services.reconcile import reconcile

    a = amend(app, document["id"]).get_json()
    real_commit = service.Session.commit if hasattr(service, "Session") else None
    calls = {"n": 0}
    from sqlalchemy.orm import Session

    original = Session.commit

    def failing_commit(self):
        if calls["n"] == 0 and any(isinstance(o, DocumentVersion) for o in self.new):
            calls["n"] += 1
            raise RuntimeError("database went away")
        return original(self)

    monkeypatch.setattr(Session, "commit", failing_commit)
    r = client_as(app, "district_a").post(f"/api/amendments/{a['id']}/decision", json={"approve": True})
    assert r.status_code == 200 and r.get_json()["new_version_no"] is None and calls["n"] == 1
    monkeypatch.setattr(Session, "commit", original)
    del real_commit
    with archive.sessions() as s:
        doc = s.get(Document, document["id"])
        key = doc.object_key
        assert len([v for k, v in archive.store.keys(key) if k == key]) == 2  # written, not catalogued
        assert [e.result for e in check_document(s, archive.store, doc, dt.datetime.now(dt.timezone.utc))] == ["ok"]
        assert reconcile(s, archive.store).orphans == []
        s.rollback()
    drain(archive)
    assert len([v for k, v in archive.store.keys(key) if k == key]) == 2  # found again, not written twice
    assert client.get(f"/api/documents/{document['id']}/content").data == CORRECTED
    assert client.get(f"/api/amendments/{a['id']}").get_json()["new_version_no"] == 2


# -- 5. warnings handled once; one open suspension --------------------------------------------------

def test_concurrent_handling_of_a_warning_succeeds_once(app, archive, client):
    case = new_case(client)
    with archive.sessions() as s:
        w = WarningRecord(rule="upload_late", fact_key="t", case_id=case["id"], agency_code="A-SJJ", message="逾期上传",
                          level=2, status="open", opened_at=dt.datetime.now(dt.timezone.utc))
        s.add(w)
        s.commit()
        wid = w.id
    out = concurrently(4, lambda i: client_as(app, "district_a").post(f"/api/warnings/{wid}/handle",
                                                                       json={"note": f"已督促整改 {i}"}))
    assert statuses(out) == Counter({200: 1, 409: 3})
    # a warning that climbed a level while its handler decided is not handled by the level below
    from archive.deadlines.warnings import handle
    from archive.errors import Conflict

    with archive.sessions() as s:
        w2 = WarningRecord(rule="upload_late", fact_key="t2", case_id=case["id"], agency_code="A-SJJ",
                           message="逾期上传", level=1, status="open", opened_at=dt.datetime.now(dt.timezone.utc))
        s.add(w2)
        s.commit()
        wid2 = w2.id
        seen = s.get(WarningRecord, wid2)  # what the level-1 handler has on screen
        with archive.sessions() as other:  # meanwhile the escalation runs
            other.execute(update(WarningRecord).where(WarningRecord.id == wid2).values(level=2))
            other.commit()
        assert seen.level == 1
        with pytest.raises(Conflict):
            handle(s, seen, by="legal_a", note="x", now=dt.datetime.now(dt.timezone.utc))
    with archive.sessions() as s:
        assert s.get(WarningRecord, wid2).status == "open"


def test_concurrent_suspensions_leave_one_open(app, archive, client):
    case = new_case(client)
    assert record_stage(client, case["id"], "filing", "2026-03-02T10:00:00+08:00").status_code == 201
    body = {"kind": "suspension", "start_on": "2026-03-10", "approved_by": "局长", "reason": "等待鉴定"}
    out = concurrently(5, lambda i: client_as(app, "clerk_a").post(f"/api/cases/{case['id']}/periods", json=body))
    assert statuses(out) == Counter({201: 1, 422: 4})
    opened = next(r.get_json() for r in out if r.status_code == 201)
    ends = concurrently(3, lambda i: client_as(app, "clerk_a").post(
        f"/api/cases/{case['id']}/periods/{opened['id']}/end", json={"end_on": f"2026-04-0{i + 1}"}))
    assert statuses(ends) == Counter({200: 1, 409: 2})


# -- 7. uploads racing a complaint link are all held --------------------------------------------------

def test_every_version_stored_after_a_link_is_held(app, archive, client):
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    for i in range(3):
        assert upload(client, case["id"], f"existing {i}".encode()).status_code == 201
    complaint = client_as(app, "complaints_a").post("/api/complaints", json={
        "received_at": "2026-04-01T09:00:00+08:00", "complainant": "王某", "text": "处罚不当"}).get_json()

    def work(i):
        if i == 0:
            return client_as(app, "complaints_a").post(f"/api/complaints/{complaint['id']}/links",
                                                       json={"case_id": case["id"]})
        return upload(client_as(app, "clerk_a"), case["id"], f"racing upload {i}".encode(),
                      headers={"Authorization": "Bearer " + app.config["TEST_TOKENS"]["clerk_a"]})

    out = concurrently(12, work)
    assert statuses(out) == Counter({201: 12})
    with archive.sessions() as s:
        keys = s.execute(select(Document.object_key, Document.version_id).where(Document.case_id == case["id"])).all()
    assert len(keys) == 14
    unheld = [(k, v) for k, v in keys if not archive.store.stat(k, v).legal_hold]
    assert unheld == []


# -- 8. the login throttle holds under parallel guesses ------------------------------------------------

def test_parallel_wrong_passwords_are_throttled_atomically(app, archive, person, monkeypatch):  # noqa: F811
    from archive.auth import accounts

    checked = []

    class Counting:
        """The real hasher, counting the passwords it checks."""

        def __init__(self, real):
            self.real = real

        def verify(self, h, p):
            checked.append(p)
            return self.real.verify(h, p)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(accounts, "_hasher", Counting(accounts._hasher))
    clients = [app.test_client() for _ in range(30)]
    tokens = [csrf_of(c.get("/login").data) for c in clients]
    out = concurrently(30, lambda i: clients[i].post("/login", data={
        "username": person, "password": f"wrong {i}", "csrf_token": tokens[i]}))
    counts = statuses(out)
    assert set(counts) <= {401, 429}, counts
    assert len(checked) <= accounts.FREE_FAILURES + 1, len(checked)
    assert counts[401] == len(checked) and counts[429] == 30 - len(checked)


# -- 9. reads that tell the truth ----------------------------------------------------------------------

@pytest.mark.parametrize("size, keep_crc, database_url", [
    (40_000, True, "sqlite"), (40_000, True, "postgresql"), (3 * 1024 * 1024, True, "sqlite"),
    (3 * 1024 * 1024, True, "postgresql"), (40_000, False, "postgresql")],  # (SeaweedFS's own 500: ~40 s, once)
    indirect=["database_url"])
def test_tampered_bytes_are_never_served_as_genuine(make_app, size, keep_crc, seaweed):
    """Bytes altered on the volume are refused (small files, hashed before the first byte) or
    cut short (large ones, hashed while they stream): when SeaweedFS serves them unknowingly
    (its checksum rewritten) and when it notices itself and answers 500."""
    app = make_app(VERIFY_BEFORE_SEND_BYTES=1024 * 1024)  # the larger file is checked while it streams
    from tests.conftest import authorize

    authorize(app)
    archive = app.extensions["archive"]
    client = client_as(app, "city")
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    marker = os.urandom(16).hex().encode()
    data = marker + os.urandom(size)
    doc = upload(client, case["id"], data, filename="证据.bin", stage="decision").get_json()
    assert client.get(f"/api/documents/{doc['id']}/content").data == data
    damage_on_volume(seaweed, marker, size // 2, keep_crc=keep_crc)
    r = client.get(f"/api/documents/{doc['id']}/content")
    if size <= 1024 * 1024:
        assert r.status_code == 409 and "损坏" in r.get_json()["message"]
    else:
        with pytest.raises(Exception):
            body = r.get_data()  # the stream is cut before its last bytes
            assert hashlib.sha256(body).hexdigest() != doc["sha256"] or len(body) < size
            raise AssertionError("served in full")
    with archive.sessions() as s:
        found = s.scalars(select(FixityEvent).where(FixityEvent.document_id == doc["id"])).all()
        assert [e.result for e in found] == ["damaged"]
        assert s.scalar(select(func.count()).select_from(WarningRecord).where(
            WarningRecord.rule == "fixity_damaged")) == 1
    again = client.get(f"/api/documents/{doc['id']}/content")  # known damaged: refused before reading
    assert again.status_code == 409 and again.get_json()["errors"]["fixity"]


def test_a_missing_object_answers_a_missing_stored_file(app, archive, client, document):
    with archive.sessions() as s:
        d = s.get(Document, document["id"])
        d.version_id = "no-such-version-" + d.version_id[:8]
        s.commit()
    r = client.get(f"/api/documents/{document['id']}/content")
    assert r.status_code == 410 and "缺失" in r.get_json()["message"]
    assert "nothing was stored" not in r.get_json()["message"]
    with archive.sessions() as s:
        assert [e.result for e in s.scalars(select(FixityEvent))] == ["missing"]


# -- 10. reconcile after an approved amendment ---------------------------------------------------------

def test_reconcile_knows_superseded_versions(app, archive, client, document):
    from click.testing import CliRunner

    from archive.cli import main
    from archive.services.reconcile import reconcile

    a = amend(app, document["id"]).get_json()
    assert client_as(app, "district_a").post(f"/api/amendments/{a['id']}/decision",
                                             json={"approve": True}).get_json()["new_version_no"] == 2
    with archive.sessions() as s:
        report = reconcile(s, archive.store)
    assert report.orphans == [] and report.missing == [] and report.checked_objects == 2
    env = {"ARCHIVE_DATABASE_URL": archive.config["DATABASE_URL"], "ARCHIVE_S3_ENDPOINT": archive.config["S3_ENDPOINT"],
           "ARCHIVE_S3_ACCESS_KEY": archive.config["S3_ACCESS_KEY"],
           "ARCHIVE_S3_SECRET_KEY": archive.config["S3_SECRET_KEY"], "ARCHIVE_S3_BUCKET": archive.config["S3_BUCKET"],
           "ARCHIVE_DATA_DIR": archive.config["DATA_DIR"]}
    result = CliRunner().invoke(main, ["reconcile"], env=env)
    assert result.exit_code == 0, result.output


# -- 11. one large text does not stall the archive -------------------------------------------------------

def test_a_huge_text_is_cut_and_marked(make_app, seaweed):
    from tests.conftest import authorize

    app = make_app(EXTRACT_MAX_TEXT_CHARS=100_000)
    authorize(app)
    archive = app.extensions["archive"]
    client = client_as(app, "city")
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    text = ("责令停产停业。" * 40_000 + "卷尾独有标记").encode("utf-8")  # 280,006 characters
    doc = upload(client, case["id"], text, filename="长文本.txt").get_json()
    drain(archive)
    meta = client.get(f"/api/documents/{doc['id']}").get_json()
    assert meta["text_status"] == "truncated" and "100000" in meta["text_reason"]
    assert client.get(f"/api/documents/{doc['id']}/content").data == text  # the document itself is whole
    with archive.sessions() as s:
        assert len(s.get(Document, doc["id"]).text_content) == 100_000
    hit = client.get("/api/search", query_string={"q": "停产停业"}).get_json()
    snippets = hit["hits"][0]["highlights"]["content"]
    assert hit["total"] == 1 and snippets and sum(len(x) for x in snippets) < 5000  # bounded per hit
    assert client.get("/api/search", query_string={"q": "卷尾独有标记"}).get_json()["total"] == 0


# -- 13. jobs that recover ----------------------------------------------------------------------------

def test_index_jobs_wait_for_the_store_without_spending_attempts(app, archive, client, document, monkeypatch):
    from archive.storage.base import StorageUnavailable

    def down(*args, **kwargs):
        raise StorageUnavailable("object store unreachable: test")

    monkeypatch.setattr(archive.store, "open", down)
    for _ in range(10):
        run_round(Context.of(archive), "test")
        with archive.sessions() as s:
            s.execute(update(Job).values(next_attempt_at=None))  # time passes
            s.commit()
    with archive.sessions() as s:
        job = s.scalars(select(Job).where(Job.subject == document["id"], Job.kind == "extract")).one()
        assert job.attempts == 0 and job.done_at is None and "unreachable" in job.last_error
        # the upload's extract, verify and examine jobs all wait
        assert jobs.queue_depth(s) == {"pending": 3, "failed": 0, "ocr_pending": 0}
    monkeypatch.undo()
    assert drain(archive) == 1
    assert client.get("/api/search", query_string={"q": "伍万元"}).get_json()["total"] == 1


def test_failing_jobs_back_off_and_are_retried_after_failing(app, archive, document, monkeypatch):
    from archive.indexing import queue

    def broken(*args, **kwargs):
        raise ValueError("extractor crashed")

    monkeypatch.setattr(queue, "extract_document", broken)
    waits = []
    for _ in range(jobs.MAX_ATTEMPTS + 1):
        run_round(Context.of(archive), "test")
        with archive.sessions() as s:
            job = s.scalars(select(Job).where(Job.subject == document["id"], Job.kind == "extract")).one()
            assert job.next_attempt_at is not None
            waits.append((job.next_attempt_at - dt.datetime.now(dt.timezone.utc)).total_seconds())
            # nothing runs before its time
            assert run_round(Context.of(archive), "test") == 0
            s.execute(update(Job).values(next_attempt_at=None))
            s.commit()
    assert all(b > a for a, b in zip(waits, waits[1:]))  # doubling
    with archive.sessions() as s:
        assert jobs.queue_depth(s) == {"pending": 0, "failed": 1, "ocr_pending": 0}
    monkeypatch.undo()
    assert drain(archive) == 1  # a failed job is still retried once its cause is gone
    with archive.sessions() as s:
        assert jobs.queue_depth(s) == {"pending": 0, "failed": 0, "ocr_pending": 0}


# -- 4. a refused id and a missing id cannot be told apart ---------------------------------------------

def test_refused_and_missing_ids_look_and_cost_the_same(app, archive, client, document):
    """Same status and body, one audit entry each, and the same database work (statements run):
    an attacker timing the answers learns nothing about which ids exist."""
    from sqlalchemy import event

    from archive.models import AuditEntry

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    outsider = client_as(app, "clerk_b")
    assert outsider.get("/api/forms").status_code == 200  # the token's first use (noted once) is behind us
    missing_case, missing_doc = "0" * 32, "f" * 32
    pairs = [(f"/api/cases/{document['case_id']}", f"/api/cases/{missing_case}"),
             (f"/api/documents/{document['id']}", f"/api/documents/{missing_doc}"),
             (f"/api/documents/{document['id']}/content", f"/api/documents/{missing_doc}/content")]
    for refused_path, missing_path in pairs:
        seen = {}
        for label, path in (("refused", refused_path), ("missing", missing_path)):
            with archive.sessions() as s:
                before = s.scalar(select(func.count()).select_from(AuditEntry))
            statements.clear()
            event.listen(archive.engine, "before_cursor_execute", count)
            try:
                r = outsider.get(path)
            finally:
                event.remove(archive.engine, "before_cursor_execute", count)
            with archive.sessions() as s:
                added = s.scalar(select(func.count()).select_from(AuditEntry)) - before
            seen[label] = (r.status_code, r.get_data(), added, len(statements))
        assert seen["refused"] == seen["missing"], (refused_path, seen)
        assert seen["refused"][0] == 404 and seen["refused"][2] == 1


# -- 20. the login throttle behind a reverse proxy ---------------------------------------------------

@pytest.mark.parametrize("proxies", [0, 1])
def test_the_throttle_keys_on_the_client_behind_trusted_proxies(make_app, seaweed, proxies):
    from archive.auth.accounts import create_user
    from tests.conftest import authorize

    app = make_app(PROXY_COUNT=proxies)
    authorize(app)
    with app.extensions["archive"].sessions() as s:
        for name in ("zhang", "wang"):
            create_user(s, name, "agency_clerk", "A-SJJ", password=PASSWORD)
        s.commit()

    def attempt(username, password, client_ip):
        c = app.test_client()
        headers = {"X-Forwarded-For": client_ip}
        token = csrf_of(c.get("/login", headers=headers).data)
        return c.post("/login", headers=headers,
                      data={"username": username, "password": password, "csrf_token": token}).status_code

    for _ in range(6):
        assert attempt("zhang", "wrong password", "203.0.113.7") == 401
    assert attempt("zhang", PASSWORD, "203.0.113.7") == 429
    # another user at another address: behind a trusted proxy it is someone else; without the
    # setting the header is ignored and every client is the proxy's one address
    assert attempt("wang", PASSWORD, "198.51.100.9") == (302 if proxies else 429)


# -- 18. closing a complaint: holds are lifted only after the close is committed -----------------------

@pytest.fixture
def held_case(app, archive, client, document):
    handler = client_as(app, "complaints_a")
    c = handler.post("/api/complaints", json={"received_at": "2026-04-01T09:00:00+08:00", "complainant": "王某",
                                              "text": "处罚不当", "case_id": document["case_id"]}).get_json()
    with archive.sessions() as s:
        d = s.get(Document, document["id"])
        key, version = d.object_key, d.version_id
    assert archive.store.stat(key, version).legal_hold
    return c, key, version


def test_a_close_whose_commit_fails_leaves_the_complaint_open_and_the_case_held(app, archive, held_case,
                                                                                 monkeypatch):
    from sqlalchemy.orm import Session

    complaint, key, version = held_case
    original = Session.commit

    def failing(self):
        if any(isinstance(o, Job) and o.kind == "hold" for o in self.new):
            raise RuntimeError("database went away")
        return original(self)

    monkeypatch.setattr(Session, "commit", failing)
    with pytest.raises(RuntimeError):
        client_as(app, "complaints_a").post(f"/api/complaints/{complaint['id']}/close",
                                            json={"handling": "调阅核实", "outcome": "不属实"})
    monkeypatch.setattr(Session, "commit", original)
    assert client_as(app, "complaints_a").get(f"/api/complaints/{complaint['id']}").get_json()["status"] == "open"
    assert archive.store.stat(key, version).legal_hold  # still held: nothing was lifted


def test_a_hold_the_store_could_not_lift_is_lifted_by_the_worker(app, archive, held_case, monkeypatch):
    from archive.storage.base import StorageUnavailable

    complaint, key, version = held_case
    real = archive.store.set_legal_hold

    def down(*args, **kwargs):
        raise StorageUnavailable("object store unreachable: test")

    monkeypatch.setattr(archive.store, "set_legal_hold", down)
    r = client_as(app, "complaints_a").post(f"/api/complaints/{complaint['id']}/close",
                                            json={"handling": "调阅核实", "outcome": "不属实"})
    assert r.status_code == 200 and r.get_json()["status"] == "closed"
    assert archive.store.stat(key, version).legal_hold  # over-held for now, never under-held
    monkeypatch.setattr(archive.store, "set_legal_hold", real)
    with archive.sessions() as s:
        s.execute(update(Job).values(next_attempt_at=None))
        s.commit()
    drain(archive)
    assert not archive.store.stat(key, version).legal_hold


def test_worker_status_shows_failing_jobs(app, archive, document, monkeypatch):
    from click.testing import CliRunner

    from archive.cli import main
    from archive.indexing import queue

    monkeypatch.setattr(queue, "extract_document", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad file")))
    for _ in range(jobs.MAX_ATTEMPTS):
        run_round(Context.of(archive), "test")
        with archive.sessions() as s:
            s.execute(update(Job).values(next_attempt_at=None))
            s.commit()
    env = {"ARCHIVE_DATABASE_URL": archive.config["DATABASE_URL"], "ARCHIVE_DATA_DIR": archive.config["DATA_DIR"]}
    r = CliRunner().invoke(main, ["worker", "--status"], env=env)
    assert r.exit_code == 1 and "failed 1" in r.output and "ValueError: bad file" in r.output, r.output
    assert client_as(app, "city").get("/api/health").get_json()["queue"]["failed"] == 1
