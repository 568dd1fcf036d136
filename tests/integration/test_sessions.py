"""Web sessions as a level-three assessment checks them (GB/T 22239-2019 8.1.4.1 b: 登录连接
超时自动退出): an idle session ends on the server after ARCHIVE_SESSION_IDLE_MINUTES, any
session after ARCHIVE_SESSION_HOURS; the page's timer asks how long is left without counting
as use; a form sent after the end leads back, through the login, to the page it came from; the
安全 page lists a user's sessions and ends the others."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select, update

from archive.auth.accounts import create_user
from archive.models import AuditEntry, User, WebSession
from tests.conftest import authorize
from tests.integration.test_accounts_audit import csrf_of, log_in

GOOD = "执法档案-Archive2026"


@pytest.fixture
def app3(make_app):
    app = make_app(SESSION_IDLE_MINUTES=30, SESSION_HOURS=12, SESSION_WARN_SECONDS=60)
    authorize(app)
    with app.extensions["archive"].sessions() as s:
        create_user(s, "zhang", "agency_clerk", "A-SJJ", password=GOOD)
        s.commit()
    return app


def _sessions(app) -> list[WebSession]:
    with app.extensions["archive"].sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == "zhang"))
        rows = s.scalars(select(WebSession).where(WebSession.user_id == uid).order_by(WebSession.created_at)).all()
        for r in rows:
            s.expunge(r)
        return rows


def _age(app, sid: str, **values) -> None:
    with app.extensions["archive"].sessions() as s:
        s.execute(update(WebSession).where(WebSession.id == sid).values(**values))
        s.commit()


def _next(r) -> str:
    return parse_qs(urlparse(r.headers["Location"]).query)["next"][0]


def _logged_in(app):
    c = app.test_client()
    assert log_in(c, "zhang", GOOD, headers={"User-Agent": "Mozilla/5.0 Chrome/156.0"}).status_code == 302
    return c, _sessions(app)[-1]


def test_an_idle_session_ends_and_asking_the_time_left_is_not_use(app3):
    c, ws = _logged_in(app3)
    assert ws.ip == "127.0.0.1" and "Chrome" in ws.user_agent
    left = c.get("/session/status").get_json()["remaining"]
    assert 29 * 60 < left <= 30 * 60
    page = c.get("/").get_data(as_text=True)
    assert 'data-idle-seconds="1800"' in page and 'data-warn-seconds="60"' in page and "js/session.js" in page
    ten_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    _age(app3, ws.id, last_seen_at=ten_ago)
    left = c.get("/session/status").get_json()["remaining"]
    assert 19 * 60 < left <= 20 * 60
    assert abs((_sessions(app3)[-1].last_seen_at - ten_ago).total_seconds()) < 1  # not counted as use
    token = csrf_of(page.encode())
    r = c.post("/session/keepalive", headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.get_json()["remaining"] > 29 * 60  # 继续使用 is use
    _age(app3, ws.id, last_seen_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=31))
    r = c.get("/cases?status=open")
    assert r.status_code == 302 and "expired=1" in r.headers["Location"] and _next(r) == "/cases?status=open"
    assert _sessions(app3)[-1].revoked_at is not None  # ended on the server: replaying the cookie is useless
    assert "长时间未操作" in c.get(r.headers["Location"]).get_data(as_text=True)
    assert c.get("/session/status").status_code == 401  # ended: the page's timer goes to the login


def test_a_session_ends_at_its_absolute_limit_however_active(app3):
    c, ws = _logged_in(app3)
    _age(app3, ws.id, expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    assert c.get("/").status_code == 302
    assert c.get("/session/status").status_code == 401


def test_a_form_sent_after_the_end_leads_back_to_its_page(app3):
    c, ws = _logged_in(app3)
    token = csrf_of(c.get("/cases/new").data)
    _age(app3, ws.id, last_seen_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    r = c.post("/cases/new", data={"csrf_token": token, "number": "x"},
               headers={"Referer": "http://localhost/cases/new"})
    assert r.status_code == 302 and _next(r) == "/cases/new"
    # from another site's page: to the 工作台, not to an address it names
    c2, ws2 = _logged_in(app3)
    _age(app3, ws2.id, last_seen_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    r = c2.post("/cases/new", data={"number": "x"}, headers={"Referer": "http://evil.example/cases/new"})
    assert _next(r) == "/"


def test_the_security_page_lists_sessions_and_ends_the_others(app3):
    a, _ = _logged_in(app3)
    b, _ = _logged_in(app3)
    page = a.get("/security").get_data(as_text=True)
    assert "安全设置" in page and "当前会话" in page and page.count("Chrome / Chromium") == 2
    r = a.post("/security/sessions/end-others", data={"csrf_token": csrf_of(page.encode())})
    assert r.status_code == 303
    assert "已结束您的其他 1 个登录会话" in a.get("/security").get_data(as_text=True)
    assert a.get("/").status_code == 200 and b.get("/").status_code == 302
    with app3.extensions["archive"].sessions() as s:
        assert s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "user.sessions_end_others")) == \
            '{"ended": 1}'
