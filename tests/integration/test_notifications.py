"""Notices that reach people: the bell and the 消息 page, e-mails sent once per notice even
under retries and two workers, the daily digest, and the briefing published and read. A real
SMTP server on loopback (aiosmtpd) receives what is sent."""
from __future__ import annotations

import datetime as dt
import email
import socket
import threading

import pytest
from sqlalchemy import select, update

from archive.models import BriefingRecipient, Notification, Officer, OutgoingEmail, User
from archive.services import notices
from tests.conftest import clerk_of, client_as, concurrently, new_case


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """An SMTP server on loopback that keeps every message it receives."""
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self):
            self.messages: list = []
            self.lock = threading.Lock()

        async def handle_DATA(self, server, session, envelope):
            with self.lock:
                self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
            return "250 OK"

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def world(make_app, smtp, tmp_path):
    from tests.conftest import authorize

    controller, handler = smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, DIGEST_HOUR=0, PUBLIC_URL="https://archive.example")
    authorize(app)
    archive = app.extensions["archive"]
    with archive.sessions() as s:
        for u in ("clerk_a", "legal_a", "district_a", "city"):
            s.execute(update(User).where(User.username == u).values(email=f"{u}@example.gov.cn"))
        s.add(Officer(agency_code="A-SJJ", name="王过期", certificate_no="12010003", valid_until=dt.date(2026, 11, 30)))
        s.commit()
    return app, archive, handler


def _warn(app, client) -> dict:
    """A stage with one lapsed officer: a level-1 warning on A-SJJ."""
    case = new_case(client, number="津武市监罚〔2026〕951号")
    r = client.post(f"/api/cases/{case['id']}/stages", json={"stage": "filing", "completed_at": "2026-12-02T10:00:00+08:00",
                                                            "officers": ["12010003"]}, headers=clerk_of(client, case["id"]))
    assert r.status_code == 201
    return case


def _round(archive):
    from archive.worker import Context

    ctx = Context.of(archive)
    with archive.sessions() as s:
        notices.collect(s, dt.datetime.now(dt.timezone.utc))
        notices.queue_emails(s, ctx.config, dt.datetime.now(dt.timezone.utc))
    return ctx


def _send_all(archive, ctx, workers: int = 2):
    """Two workers run the e-mail jobs at once."""
    from archive import jobs
    from archive.worker import run_jobs

    concurrently(workers, lambda i: run_jobs(ctx, jobs.holder_name(f"w{i}"), ("email",)))


def test_a_warning_reaches_its_people_in_the_app_and_once_by_email(world):
    app, archive, handler = world
    client = app.test_client()
    _warn(app, client)
    # legal_a keeps the default for warnings (the daily digest); clerk_a wants each at once
    assert client_as(app, "clerk_a").put("/api/notifications/settings", json={
        "modes": {"warning": "immediate"}}).status_code == 200
    ctx = _round(archive)
    _round(archive)  # a second round (or worker) makes nothing twice
    with archive.sessions() as s:
        made = sorted((n.username, n.kind, n.mailed, n.title) for n in s.scalars(select(Notification)))
    n = len(made) // 2  # the officer's certificate, and whatever else the stage lacks
    assert [m[:3] for m in made] == [("clerk_a", "warning", "queued")] * n + [("legal_a", "warning", "digest")] * n
    assert any("不具备执法资格" in m[3] for m in made)
    _send_all(archive, ctx)
    with archive.sessions() as s:
        ids = [e.id for e in s.scalars(select(OutgoingEmail))]
    for i in ids:  # a retry of each job after it was sent sends nothing
        assert notices.send(archive.sessions, ctx.config, i, dt.datetime.now(dt.timezone.utc)) == "skipped"
    to_clerk = [m for rcpt, m in handler.messages if rcpt == ["clerk_a@example.gov.cn"]]
    assert len(to_clerk) == n and all("一级预警" in str(email.header.make_header(email.header.decode_header(m["Subject"])))
                                      for m in to_clerk)
    assert all("https://archive.example/warnings/" in m.get_payload(decode=True).decode("utf-8") for m in to_clerk)
    # the digest: legal_a's warnings in one e-mail, once a day
    with archive.sessions() as s:
        assert notices.digests(s, ctx.config, dt.datetime.now(dt.timezone.utc)) == 1
        assert notices.digests(s, ctx.config, dt.datetime.now(dt.timezone.utc)) == 0
    _send_all(archive, ctx)
    to_legal = [m for rcpt, m in handler.messages if rcpt == ["legal_a@example.gov.cn"]]
    assert len(to_legal) == 1 and f"共 {n} 条" in to_legal[0].get_payload(decode=True).decode("utf-8")
    assert not any(rcpt == ["district_a@example.gov.cn"] for rcpt, _ in handler.messages)  # level 1 only
    # the bell and the page
    page = client_as(app, "clerk_a").get("/").get_data(as_text=True)
    assert 'class="bell has-unread"' in page and f'aria-label="{n} 条未读"' in page
    listed = client_as(app, "clerk_a").get("/api/notifications").get_json()
    assert listed["unread"] == n
    first = listed["notifications"][0]["id"]
    assert client_as(app, "legal_a").post(f"/api/notifications/{first}/read").status_code == 404  # not hers
    r = client_as(app, "clerk_a").get(f"/notifications/{first}/open")
    assert r.status_code == 303 and r.headers["Location"].startswith("/warnings/")
    assert client_as(app, "clerk_a").get("/api/notifications").get_json()["unread"] == n - 1


def test_two_workers_collecting_at_once_make_each_notice_once(world):
    app, archive, handler = world
    _warn(app, app.test_client())
    results = concurrently(3, lambda i: _collect_in_own_session(archive))
    assert not [r for r in results if isinstance(r, Exception)], results
    with archive.sessions() as s:
        keys = [(n.username, n.event_key) for n in s.scalars(select(Notification))]
    assert keys and len(keys) == len(set(keys)) and sum(results) == len(keys)


def _collect_in_own_session(archive) -> int:
    with archive.sessions() as s:
        return notices.collect(s, dt.datetime.now(dt.timezone.utc))


def test_a_failed_send_is_retried_and_still_sent_once(world):
    app, archive, handler = world
    client = app.test_client()
    _warn(app, client)
    client_as(app, "clerk_a").put("/api/notifications/settings", json={"modes": {"warning": "immediate"}})
    ctx = _round(archive)
    with archive.sessions() as s:
        first = s.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id)).first()
    broken = dict(ctx.config, SMTP_PORT=_free_port())  # nobody listens there
    with pytest.raises(OSError):
        notices.send(archive.sessions, broken, first.id, dt.datetime.now(dt.timezone.utc))
    with archive.sessions() as s:
        again = s.get(OutgoingEmail, first.id)
        assert (again.status, again.attempts) == ("pending", 1) and again.last_error
    results = concurrently(3, lambda i: notices.send(archive.sessions, ctx.config, first.id,
                                                     dt.datetime.now(dt.timezone.utc)))
    assert sorted(results) == ["sent", "skipped", "skipped"], results
    assert sum(1 for rcpt, m in handler.messages if rcpt == ["clerk_a@example.gov.cn"]
               and m["Message-ID"]) == 1


def test_without_an_address_or_with_off_the_notice_stays_in_the_app(world):
    app, archive, handler = world
    client = app.test_client()
    with archive.sessions() as s:
        s.execute(update(User).where(User.username == "legal_a").values(email=None))
        s.commit()
    client_as(app, "clerk_a").put("/api/notifications/settings", json={"modes": {"warning": "off"}})
    assert client_as(app, "clerk_a").put("/api/notifications/settings", json={
        "modes": {"warning": "loud"}}).status_code == 422
    _warn(app, client)
    ctx = _round(archive)
    _send_all(archive, ctx)
    with archive.sessions() as s:
        assert {n.mailed for n in s.scalars(select(Notification))} == {"off", "none"}
    assert handler.messages == []


def test_the_district_office_publishes_a_briefing_and_sees_it_read(world):
    app, archive, handler = world
    district = client_as(app, "district_a")
    assert client_as(app, "clerk_a").post("/api/briefings", json={"month": "2026-11"}).status_code == 403
    results = concurrently(3, lambda i: client_as(app, "district_a").post("/api/briefings", json={
        "month": "2026-11", "note": "请各单位对照整改"}).status_code)
    assert sorted(results) == [201, 409, 409], results
    pub = district.get("/api/briefings").get_json()["published"][0]
    assert pub["total"] == 2 and pub["read"] == 0 and pub["publication"]["title"].endswith("2026年11月行政执法监督简报")
    pub_id = pub["publication"]["id"]
    home = client_as(app, "clerk_a").get("/").get_data(as_text=True)
    assert "新简报（未读）" in home
    assert client_as(app, "clerk_b").get(f"/api/briefings/{pub_id}").status_code == 404  # another district's agency
    doc = client_as(app, "clerk_a").get(f"/api/briefings/{pub_id}/content")
    assert doc.status_code == 200 and doc.data[:2] == b"PK"
    assert "新简报（未读）" not in client_as(app, "clerk_a").get("/").get_data(as_text=True)
    client_as(app, "legal_a").get(f"/api/briefings/{pub_id}")  # the agency's copy was read by clerk_a first
    readings = {r["org"]: r for r in district.get("/api/briefings").get_json()["published"][0]["recipients"]}
    assert readings["A-SJJ"]["read_by"] == "clerk_a" and readings["A-SJJ"]["read_at"]
    assert readings["A-YJJ"]["read_at"] is None
    html = district.get(f"/briefings/{pub_id}").get_data(as_text=True)
    assert "已读 1 / 2" in html
    ctx = _round(archive)  # the people of both agencies get a notice (and an e-mail)
    with archive.sessions() as s:
        assert sorted(n.username for n in s.scalars(select(Notification).where(Notification.kind == "briefing"))) == \
            ["clerk_a", "clerk_ay", "legal_a"]
        assert s.scalar(select(BriefingRecipient.read_by).where(BriefingRecipient.org_code == "A-SJJ")) == "clerk_a"
    _send_all(archive, ctx)
    assert any("简报" in str(email.header.make_header(email.header.decode_header(m["Subject"])))
               for rcpt, m in handler.messages if rcpt == ["clerk_a@example.gov.cn"])


def test_a_warning_about_an_old_fact_is_noticed_when_it_is_stored(world):
    app, archive, handler = world
    client = app.test_client()
    with archive.sessions() as s:
        notices.collect(s, dt.datetime.now(dt.timezone.utc))  # a round before: the mark is now
    case = new_case(client, number="津武市监罚〔2026〕952号")
    from tests.conftest import record_stage

    assert record_stage(client, case["id"], "filing", "2026-03-02T10:00:00+08:00").status_code == 201
    with archive.sessions() as s:
        notices.collect(s, dt.datetime.now(dt.timezone.utc))
        got = sorted((n.username, n.title) for n in s.scalars(select(Notification)))
    # the missing filing form was due in March (the warning's opened_at); it was stored just now
    assert {u for u, _ in got} == {"clerk_a", "legal_a"}
    assert {u for u, t in got if "立案审批表" in t} == {"clerk_a", "legal_a"}
