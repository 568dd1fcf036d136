"""Identification as a level-three assessment checks it (GB/T 22239-2019 8.1.4.1): password
rules on every path that sets one, a password set by someone else changed at the first login,
expiry, a lock after consecutive failures, and the notice of the previous login."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from archive.auth.accounts import LockRule, password_problems, random_password, set_password
from archive.models import AuditEntry, User
from tests.conftest import authorize, client_as, concurrently
from tests.integration.test_accounts_audit import csrf_of, log_in

GOOD = "执法档案-Archive2026"


@pytest.mark.parametrize("password, username, reason", [
    ("Short-1", "", "至少 10 个字符"),
    ("onlylowercaseletters", "", "至少三类"),
    ("汉字和小写letters", "", "至少三类"),
    ("Zhang-2026-password", "zhang", "不能包含用户名"),
])
def test_the_rules_say_why_in_chinese(password, username, reason):
    problems = password_problems(password, username)
    assert any(reason in p for p in problems), problems


def test_a_good_password_passes_and_generated_ones_meet_the_rules():
    assert password_problems(GOOD, "zhang") == []
    assert all(password_problems(random_password()) == [] for _ in range(50))


@pytest.fixture
def strict(make_app):
    """An app as production runs it: forced change on, 90-day expiry, lock after 3 failures."""
    app = make_app(FORCE_PASSWORD_CHANGE=True, PASSWORD_DAYS=90, LOCK_AFTER_FAILURES=3, LOCK_MINUTES=30)
    authorize(app)
    return app


def _user(app, name="zhang", password=GOOD):
    from archive.auth.accounts import create_user

    with app.extensions["archive"].sessions() as s:
        create_user(s, name, "agency_clerk", "A-SJJ", password=password)
        s.commit()


def test_a_password_set_by_someone_else_is_changed_at_the_first_login(strict):
    _user(strict)
    c = strict.test_client()
    r = log_in(c, "zhang", GOOD)
    assert r.status_code == 302 and r.headers["Location"].startswith("/password")
    page = c.get("/", follow_redirects=True).get_data(as_text=True)
    assert "修改密码" in page and "由管理员设置或系统生成" in page  # every page leads there first
    assert c.get("/api/cases").status_code == 403  # and the API with this session
    token = csrf_of(c.get("/password").data)
    # the rules, in Chinese, on the page; nothing changes
    r = c.post("/password", data={"csrf_token": token, "current": GOOD, "new": "short", "again": "short"})
    assert r.status_code == 400 and "至少 10 个字符" in r.get_data(as_text=True)
    r = c.post("/password", data={"csrf_token": token, "current": GOOD, "new": GOOD, "again": GOOD})
    assert r.status_code == 400 and "最近 5 次" in r.get_data(as_text=True)
    r = c.post("/password", data={"csrf_token": token, "current": "wrong", "new": "新密码-Changed9", "again": "新密码-Changed9"})
    assert r.status_code == 400 and "当前密码不正确" in r.get_data(as_text=True)
    r = c.post("/password?next=/cases", data={"csrf_token": token, "current": GOOD, "new": "新密码-Changed9",
                                              "again": "新密码-Changed9"})
    assert r.status_code == 302 and r.headers["Location"] == "/cases"
    assert c.get("/cases").status_code == 200 and c.get("/api/cases").status_code == 200
    with strict.extensions["archive"].sessions() as s:
        user = s.scalar(select(User).where(User.username == "zhang"))
        assert not user.must_change_password and user.password_changed_at is not None
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "zhang")).all()
    assert "auth.password_changed" in actions


def test_an_expired_password_must_be_changed(strict):
    _user(strict)
    with strict.extensions["archive"].sessions() as s:
        s.execute(update(User).where(User.username == "zhang").values(
            must_change_password=False, password_changed_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=91)))
        s.commit()
    c = strict.test_client()
    assert log_in(c, "zhang", GOOD).headers["Location"].startswith("/password")
    assert "已超过有效期" in c.get("/password").get_data(as_text=True)


def test_the_cli_and_the_administrators_reset_check_the_rules(strict, monkeypatch):
    from archive.cli import main

    _user(strict)
    archive = strict.extensions["archive"]
    with archive.sessions() as s:
        user = s.scalar(select(User).where(User.username == "zhang"))
        with pytest.raises(Exception) as refused:
            set_password(s, user, "weakpassword")
        assert "至少三类" in str(refused.value.errors["password"])
        s.rollback()
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    r = CliRunner().invoke(main, ["users", "passwd", "zhang", "--password-stdin"], input="weakpassword\n")
    assert r.exit_code != 0 and "至少三类" in r.output, r.output


def test_consecutive_failures_lock_the_account_and_the_notice_tells_the_owner(strict):
    _user(strict)
    with strict.extensions["archive"].sessions() as s:
        s.execute(update(User).where(User.username == "zhang").values(must_change_password=False))
        s.commit()
    c = strict.test_client()
    assert log_in(c, "zhang", GOOD).status_code == 302  # a first login: the notice says so
    assert "这是您的首次登录" in c.get("/", follow_redirects=True).get_data(as_text=True)
    other = strict.test_client()
    assert log_in(other, "zhang", "wrong-Password1").status_code == 401
    assert log_in(other, "zhang", "wrong-Password2").status_code == 401
    r = log_in(other, "zhang", "wrong-Password3")  # the third: locked
    assert r.status_code == 403 and "已锁定" in r.get_data(as_text=True)
    r = log_in(other, "zhang", GOOD)  # even the right password now
    assert r.status_code == 403 and "已锁定" in r.get_data(as_text=True)
    archive = strict.extensions["archive"]
    with archive.sessions() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "zhang")).all()
        assert actions.count("auth.login_failed") == 2 and "auth.locked" in actions
        assert "auth.login_refused_locked" in actions
        # the lock ends by itself after LOCK_MINUTES
        s.execute(update(User).where(User.username == "zhang").values(
            locked_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        s.commit()
    fresh = strict.test_client()
    assert log_in(fresh, "zhang", GOOD).status_code == 302
    with archive.sessions() as s:
        assert s.scalar(select(User.locked_until).where(User.username == "zhang")) is None
    notice = fresh.get("/", follow_redirects=True).get_data(as_text=True)
    assert re.search(r"上次登录：\d{4}-\d{2}-\d{2} \d{2}:\d{2}，地址 127\.0\.0\.1。此后有 3 次失败的登录尝试", notice), notice


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_concurrent_failures_lock_exactly_once(make_app, database_url):
    """Failures counted by the database: ten guesses at once lock the account once, and none
    of them gets in (the lock is a compare-and-set on the counter)."""
    from archive.auth.accounts import AccountLocked, Unauthenticated, login

    app = make_app(LOCK_AFTER_FAILURES=5)
    authorize(app)
    _user(app)
    archive = app.extensions["archive"]

    def guess(i):
        with archive.sessions() as s:
            try:
                login(s, "zhang", f"wrong-Guess{i}", f"198.51.100.{i}", lock=LockRule(5, 30))
            except AccountLocked as exc:
                return "locked-now" if exc.now else "locked"
            except Unauthenticated:
                return "wrong"
            except Exception as exc:  # the throttle may refuse too
                return type(exc).__name__
        return "in"

    results = concurrently(10, guess)
    assert "in" not in results and results.count("locked-now") == 1, results
    with archive.sessions() as s:
        user = s.scalar(select(User).where(User.username == "zhang"))
        checked = sum(r in ("wrong", "locked-now", "locked") for r in results)  # (the throttle refused the rest)
        assert user.locked_until is not None and user.failures_since_login == checked >= 5
        assert s.scalar(select(func.count()).select_from(User)) >= 1
    assert client_as(app, None).get("/api/health").status_code in (200, 503)


def test_cookies_and_transport_headers_in_production(make_app):
    """In production the session cookie is Secure, HttpOnly and SameSite, and every answer
    carries HSTS (TLS itself, with SM2 certificates where required, ends at the reverse proxy)."""
    app = make_app(ENV="production", SECRET_KEY="a-production-secret-of-enough-length-0123456789",
                   FORCE_PASSWORD_CHANGE=False)
    authorize(app)
    _user(app)
    c = app.test_client()
    r = log_in(c, "zhang", GOOD)
    cookie = r.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert client_as(app, "city").get("/api/cases").headers["Strict-Transport-Security"]


def test_the_operator_unlocks_an_account_from_the_command_line(strict, monkeypatch):
    from archive.cli import main

    _user(strict)
    archive = strict.extensions["archive"]
    with archive.sessions() as s:
        s.execute(update(User).where(User.username == "zhang").values(
            must_change_password=False, locked_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=30)))
        s.commit()
    assert log_in(strict.test_client(), "zhang", GOOD).status_code == 403
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    r = CliRunner().invoke(main, ["users", "unlock", "zhang"])
    assert r.exit_code == 0 and "zhang unlocked" in r.output, r.output
    assert log_in(strict.test_client(), "zhang", GOOD).status_code == 302
    with archive.sessions() as s:
        assert "user.unlock" in s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "zhang")).all()
