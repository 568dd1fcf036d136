"""Tokens, web login with CSRF and throttling, production safety, and the audit trail."""
from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from archive import audit
from archive.auth.accounts import create_user, issue_token, revoke_token
from archive.cli import main
from archive.config import InsecureConfiguration, load_config
from archive.models import AuditEntry, AuditHead
from tests.conftest import client_as, new_case

PASSWORD = "正确的密码-Correct-horse9"


@pytest.fixture
def person(app, archive, tokens):
    """A clerk of agency A who logs in with a password."""
    with archive.sessions() as s:
        create_user(s, "zhang", "agency_clerk", "A-SJJ", password=PASSWORD)
        s.commit()
    return "zhang"


def csrf_of(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def log_in(c, username, password, **kw):
    token = csrf_of(c.get("/login").data)
    return c.post("/login", data={"username": username, "password": password, "csrf_token": token}, **kw)


def test_token_expiry_and_revocation(app, archive, tokens):
    with archive.sessions() as s:
        user = create_user(s, "temp", "city_office", "120000")
        past = issue_token(s, user, days=1, clock=lambda: dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2))
        live = issue_token(s, user, days=1)
        s.commit()
    c = app.test_client()
    bearer = lambda t: {"Authorization": f"Bearer {t}"}
    assert c.get("/api/forms", headers=bearer(past.token)).status_code == 401
    assert c.get("/api/forms", headers=bearer(live.token)).status_code == 200
    assert c.get("/api/forms", headers=bearer(live.token[:-2] + "xx")).status_code == 401
    with archive.sessions() as s:
        revoke_token(s, live.token_id)
        s.commit()
    assert c.get("/api/forms", headers=bearer(live.token)).status_code == 401
    with archive.sessions() as s:
        reasons = [e.detail for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.token_refused"))]
    assert any("expired" in r for r in reasons) and any("revoked" in r for r in reasons)
    assert all(live.token.split("_", 2)[2] not in r for r in reasons)  # secrets never in the trail


def test_web_login_session_cookie_and_csrf(app, person):
    c = app.test_client()
    r = log_in(c, person, PASSWORD)
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = c.get("/", query_string={"q": "罚款"}, follow_redirects=True)  # the search page
    assert page.status_code == 200 and "zhang" in page.get_data(as_text=True)
    body = {"number": "津武市监罚〔2026〕77号", "agency": "A-SJJ", "kind": "penalty", "opened_on": "2026-03-01",
            "power": "SJ-FOOD-124"}
    refused = c.post("/api/cases", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]
    token = csrf_of(page.data)
    assert c.post("/api/cases", json=body, headers={"X-CSRFToken": token}).status_code == 201
    # logging out needs the token too, and ends the session
    assert c.post("/logout").status_code == 400
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/api/forms").status_code == 401


def test_login_form_without_csrf_token_is_refused(app, person):
    c = app.test_client()
    c.get("/login")
    r = c.post("/login", data={"username": person, "password": PASSWORD})
    assert r.status_code == 400


def test_open_redirect_after_login_is_refused(app, person):
    c = app.test_client()
    token = csrf_of(c.get("/login").data)
    r = c.post("/login?next=https://evil.example/", data={"username": person, "password": PASSWORD,
                                                          "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_failed_logins_are_slowed_down(app, archive, person):
    c = app.test_client()
    for _ in range(5):
        assert log_in(c, person, "wrong password").status_code == 401
    assert log_in(c, person, "wrong password").status_code == 401  # the sixth sets a delay
    blocked = log_in(c, person, PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "稍后" in blocked.get_data(as_text=True) or "秒后" in blocked.get_data(as_text=True)
    with archive.sessions() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == person)).all()
    assert actions.count("auth.login_failed") == 6 and "auth.login_throttled" in actions
    # the address is throttled too: an unknown user from it waits like a known one
    assert log_in(app.test_client(), "nobody", "x" * 12).status_code == 429


def test_security_headers_on_every_response(app, client):
    for path in ("/api/health", "/login", "/api/forms", "/api/cases/nope"):
        r = (client if path != "/login" else app.test_client()).get(path)
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_production_refuses_default_secrets(tmp_path):
    from archive.factory import create_app

    base = {"DATA_DIR": str(tmp_path), "ENV": "production", "S3_ENDPOINT": "s3.internal:9000"}
    with pytest.raises(InsecureConfiguration) as exc:
        create_app(base)
    assert "ARCHIVE_SECRET_KEY" in str(exc.value) and "default credentials" in str(exc.value)
    good = base | {"SECRET_KEY": "k" * 40, "S3_ACCESS_KEY": "archive-prod", "S3_SECRET_KEY": "s3cret-from-vault"}
    app = create_app(good)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with pytest.raises(InsecureConfiguration) as exc:
        create_app(good | {"S3_SECRET_KEY": "archive-dev-secret"})
    assert "archive-dev-secret" not in str(exc.value)  # the message names, never shows, a secret
    with pytest.raises(InsecureConfiguration) as exc:  # object lock of seconds is for trials and tests
        create_app(good | {"RETENTION_SECONDS": 2})
    assert "ARCHIVE_RETENTION_SECONDS" in str(exc.value)


def test_development_secret_key_is_random_and_private(tmp_path):
    import os
    import stat

    from archive.config import secret_key

    cfg = load_config({"DATA_DIR": str(tmp_path)}, environ={})
    key = secret_key(cfg)
    assert len(key) >= 40 and secret_key(cfg) == key
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


# -- the audit trail -------------------------------------------------------------------
def _trail(archive, n=6):
    for i in range(n):
        audit.record(archive.sessions, "search", actor="clerk_a", role="agency_clerk",
                     detail={"q": f"罚款{i}"}, ip="127.0.0.1")


def _verify(archive):
    with archive.sessions() as s:
        return audit.verify_chain(s)


def test_activity_is_audited_and_auditors_read_it(app, archive, client, tokens):
    case = new_case(client)
    clerk = client_as(app, "clerk_a")
    clerk.get(f"/api/cases/{case['id']}")
    clerk.get("/api/search", query_string={"q": "停产停业"})
    client_as(app, "clerk_b").get(f"/api/cases/{case['id']}")
    page = client_as(app, "auditor").get("/api/audit", query_string={"per_page": 100}).get_json()
    actions = [(e["action"], e["actor"]) for e in page["entries"]]
    assert ("case.create", "clerk_a") in actions and ("case.view", "clerk_a") in actions
    assert ("search", "clerk_a") in actions and ("access.refused", "clerk_b") in actions
    search = next(e for e in page["entries"] if e["action"] == "search")
    assert search["detail"]["q"] == "停产停业"
    only = client_as(app, "auditor").get("/api/audit", query_string={"actor": "clerk_b"}).get_json()
    assert {e["actor"] for e in only["entries"]} == {"clerk_b"}
    assert _verify(archive).first_bad is None


@pytest.mark.parametrize("tamper, first_bad", [
    ("edit", 3), ("delete", 3), ("insert", 5), ("reorder", 3), ("delete_last", 6), ("none", None)])
def test_audit_verify_names_the_first_bad_entry(app, archive, monkeypatch, tamper, first_bad):
    _trail(archive)
    with archive.engine.begin() as conn:
        if tamper == "edit":
            conn.execute(text("UPDATE audit_entries SET detail = '{\"q\": \"改过\"}' WHERE seq = 3"))
        elif tamper == "delete":
            conn.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
        elif tamper == "insert":
            # shift 4.. up by one and forge an entry 4 that correctly follows 3: the chain breaks
            # where the old entry 4 (now 5) no longer follows its predecessor
            rows = conn.execute(text("SELECT seq FROM audit_entries WHERE seq >= 4 ORDER BY seq DESC")).all()
            for (seq,) in rows:
                conn.execute(text("UPDATE audit_entries SET seq = :n WHERE seq = :o"), {"n": seq + 1, "o": seq})
            prev = conn.execute(text("SELECT hash FROM audit_entries WHERE seq = 3")).scalar_one()
            at = dt.datetime.now(dt.timezone.utc)
            forged = audit.entry_hash(prev, 4, at, "x", None, "search", None, None, "{}", None)
            conn.execute(text("INSERT INTO audit_entries (seq, at, actor, action, detail, prev_hash, hash) "
                              "VALUES (4, :at, 'x', 'search', '{}', :p, :h)"), {"at": at, "p": prev, "h": forged})
        elif tamper == "reorder":
            conn.execute(text("UPDATE audit_entries SET seq = -1 WHERE seq = 3"))
            conn.execute(text("UPDATE audit_entries SET seq = 3 WHERE seq = 4"))
            conn.execute(text("UPDATE audit_entries SET seq = 4 WHERE seq = -1"))
        elif tamper == "delete_last":
            conn.execute(text("DELETE FROM audit_entries WHERE seq = 6"))
    report = _verify(archive)
    assert report.first_bad == first_bad, report
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    r = CliRunner().invoke(main, ["audit", "verify"])
    if first_bad is None:
        assert r.exit_code == 0 and "intact: 6 entries" in r.output
    else:
        assert r.exit_code == 1 and f"entry {first_bad}" in r.output


def test_concurrent_appends_never_fork_the_chain(archive):
    errors = []

    def writer(k):
        try:
            for i in range(15):
                audit.record(archive.sessions, "search", actor=f"w{k}", detail={"i": i})
        except Exception as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _verify(archive)
    assert report.first_bad is None and report.entries == 60
    with archive.sessions() as s:
        assert s.get(AuditHead, 1).seq == 60


def test_no_route_edits_or_deletes_audit_entries(app):
    from tests.conftest import authorize

    authorize(app)
    c = client_as(app, "auditor")
    for method in ("put", "patch", "delete", "post"):
        assert getattr(c, method)("/api/audit").status_code == 405


def test_cli_users_add_and_tokens(app, archive, tokens, monkeypatch):
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    runner = CliRunner()
    r = runner.invoke(main, ["users", "add", "li", "--role", "district_office", "--scope", "120114",
                             "--password-stdin"], input="一个足够长的密码-Long-enough1\n")
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("arc_") and "一个足够长的密码" not in r.output
    c = app.test_client()
    assert c.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    bad_scope = runner.invoke(main, ["users", "add", "wang", "--role", "district_office", "--scope", "A-SJJ"])
    assert bad_scope.exit_code != 0 and "district" in bad_scope.output
    issued = runner.invoke(main, ["tokens", "issue", "li", "--days", "5"])
    second = issued.output.strip().splitlines()[-1]
    token_id = second.split("_")[1]
    assert runner.invoke(main, ["tokens", "revoke", token_id]).exit_code == 0
    assert c.get("/api/cases", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert c.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
