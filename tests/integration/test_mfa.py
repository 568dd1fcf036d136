"""The second factor (GB/T 22239-2019 8.1.4.1 c: two or more identification techniques, one of
them cryptographic): TOTP after the password for the roles the operator names, enrolled at the
first login with a QR code and ten recovery codes; a code and a recovery code are good once,
even when sent twice at the same moment; wrong codes count towards the lock; nothing of the
login is completed (or noted as the previous login) before the second factor passes."""
from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from sqlalchemy import select

from archive.auth import mfa
from archive.auth.accounts import create_user
from archive.models import AuditEntry, RecoveryCode, User
from tests.conftest import authorize, concurrently
from tests.integration.test_accounts_audit import csrf_of, log_in

GOOD = "执法档案-Archive2026"


@pytest.fixture
def app2(make_app):
    app = make_app(MFA_ROLES="district_office,city_office", LOCK_AFTER_FAILURES=4)
    authorize(app)
    with app.extensions["archive"].sessions() as s:
        create_user(s, "wang", "district_office", "120114", password=GOOD)
        create_user(s, "zhang", "agency_clerk", "A-SJJ", password=GOOD)
        s.commit()
    return app


def _user(app, name="wang") -> User:
    with app.extensions["archive"].sessions() as s:
        user = s.scalar(select(User).where(User.username == name))
        s.expunge(user)
        return user


def _actions(app, name="wang") -> list[str]:
    with app.extensions["archive"].sessions() as s:
        return s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == name).order_by(AuditEntry.seq)).all()


def _enrol(app):
    """Log in as wang and enrol: returns (client, secret, recovery codes)."""
    c = app.test_client()
    r = log_in(c, "wang", GOOD)
    assert r.status_code == 302 and r.headers["Location"] == "/login/mfa"
    page = c.get("/login/mfa").get_data(as_text=True)
    assert "绑定动态口令" in page and 'src="data:image/svg+xml' in page
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    token = csrf_of(page.encode())
    r = c.post("/login/mfa", data={"csrf_token": token, "code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                   else "111111"})
    assert r.status_code == 401 and "动态口令不正确" in r.get_data(as_text=True)
    r = c.post("/login/mfa", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "只显示这一次" in page
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page)
    return c, secret, codes


def test_an_office_user_enrols_at_the_first_login_and_then_needs_the_code(app2):
    c, secret, codes = _enrol(app2)
    assert len(codes) == 10 == len(set(codes))
    assert c.get("/").status_code == 200  # logged in
    user = _user(app2)
    assert user.totp_secret == secret and user.totp_enrolled_at is not None
    with app2.extensions["archive"].sessions() as s:
        hashes = s.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(hashes) == 10 and not set(hashes) & {c.replace("-", "") for c in codes}  # stored hashed
    assert {"auth.password_ok", "auth.mfa_failed", "auth.mfa_enrolled", "auth.login"} <= set(_actions(app2))

    # the next login: the password alone opens nothing
    d = app2.test_client()
    assert log_in(d, "wang", GOOD).headers["Location"] == "/login/mfa"
    assert d.get("/").status_code == 302 and d.get("/api/cases").status_code == 401
    assert "动态口令或恢复码" in d.get("/login/mfa").get_data(as_text=True)
    code = pyotp.TOTP(secret).at(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))  # a later step
    token = csrf_of(d.get("/login/mfa").data)
    r = d.post("/login/mfa", data={"csrf_token": token, "code": code})
    assert r.status_code == 302 and d.get("/").status_code == 200
    # the same code again (a replay from another browser) is refused
    e = app2.test_client()
    log_in(e, "wang", GOOD)
    r = e.post("/login/mfa", data={"csrf_token": csrf_of(e.get("/login/mfa").data), "code": code})
    assert r.status_code == 401 and e.get("/").status_code == 302


def test_a_recovery_code_works_once(app2):
    _, _, codes = _enrol(app2)
    for expected in (302, 401):
        c = app2.test_client()
        log_in(c, "wang", GOOD)
        r = c.post("/login/mfa", data={"csrf_token": csrf_of(c.get("/login/mfa").data), "code": codes[3].upper()})
        assert r.status_code == expected
    assert "auth.recovery_code_used" in _actions(app2)
    with app2.extensions["archive"].sessions() as s:
        assert mfa.recovery_codes_left(s, s.get(User, _user(app2).id)) == 9


def test_one_code_sent_twice_at_once_passes_once(app2):
    _, secret, codes = _enrol(app2)
    clients = [app2.test_client() for _ in range(6)]
    tokens = []
    for c in clients:
        log_in(c, "wang", GOOD)
        tokens.append(csrf_of(c.get("/login/mfa").data))
    code = pyotp.TOTP(secret).at(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))
    half = len(clients) // 2
    results = concurrently(len(clients), lambda i: clients[i].post("/login/mfa", data={
        "csrf_token": tokens[i], "code": code if i < half else codes[0]}).status_code)
    assert sorted(results[:half])[0] == 302 and results[:half].count(302) == 1, results   # the TOTP code: once
    assert sorted(results[half:])[0] == 302 and results[half:].count(302) == 1, results   # the recovery code: once
    assert set(results) <= {302, 401, 403}  # the fourth failure locks the account (LOCK_AFTER_FAILURES=4)


def test_the_password_alone_completes_nothing_and_wrong_codes_lock(app2):
    _, secret, _ = _enrol(app2)
    before = _user(app2)
    c = app2.test_client()
    log_in(c, "wang", GOOD)
    after = _user(app2)
    # the previous login (time, address) and the failures since stay as they were
    assert (after.last_login_at, after.failures_since_login) == (before.last_login_at, before.failures_since_login)
    token = csrf_of(c.get("/login/mfa").data)
    statuses = [c.post("/login/mfa", data={"csrf_token": token, "code": "12345"}).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 403]  # the fourth consecutive failure locks (LOCK_AFTER_FAILURES=4)
    assert _user(app2).locked_until is not None and "auth.locked" in _actions(app2)
    d = app2.test_client()
    assert log_in(d, "wang", GOOD).status_code == 403  # locked: the right password does not help


def test_roles_not_named_log_in_with_the_password(app2):
    c = app2.test_client()
    r = log_in(c, "zhang", GOOD)
    assert r.status_code == 302 and r.headers["Location"] == "/" and c.get("/").status_code == 200
    assert _user(app2, "zhang").totp_secret is None


def test_the_second_factor_page_needs_a_password_first(app2):
    c = app2.test_client()
    r = c.get("/login/mfa")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_totp_codes_are_checked_against_the_time_given():
    secret = mfa.new_secret()
    at = dt.datetime(2026, 12, 4, 8, 0, 15, tzinfo=dt.timezone.utc)
    totp = pyotp.TOTP(secret)
    step = int(at.timestamp()) // 30
    assert mfa._matching_step(secret, totp.at(at), at) == step
    assert mfa._matching_step(secret, totp.at(at - dt.timedelta(seconds=30)), at) == step - 1  # clock drift
    assert mfa._matching_step(secret, totp.at(at + dt.timedelta(seconds=90)), at) is None
    assert mfa._matching_step(secret, "12 34", at) is None
    uri = mfa.provisioning_uri(secret, "wang")
    assert uri.startswith("otpauth://totp/") and secret in uri
