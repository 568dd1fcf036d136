"""三权分立 (GB/T 22239-2019 8.1.4.2, 8.1.10.1) and the audit an assessor asks for (8.1.4.3):
the security administrator changes roles, lifts locks and resets second factors, never its own
and never an administrator's role; the audit administrator reads and verifies everyone's trail,
receives the level-3 alert of a broken chain once, and changes no account; the audit chain can
continue in SM3; every export is in the trail."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select, text

from archive import audit
from archive.auth import mfa
from archive.models import AuditEntry, AuditHead, RecoveryCode, SecurityAlert, User
from tests.conftest import client_as, concurrently


def _entries(archive, action: str) -> list[AuditEntry]:
    with archive.sessions() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()


def _user(archive, name: str) -> User:
    with archive.sessions() as s:
        u = s.scalar(select(User).where(User.username == name))
        s.expunge(u)
        return u


def test_the_security_administrator_changes_roles_unlocks_and_resets_second_factors(app, archive, tokens):
    sec = client_as(app, "secadmin")
    with archive.sessions() as s:
        clerk = s.scalar(select(User).where(User.username == "clerk_b"))
        clerk.locked_until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)
        clerk.failed_logins = 10
        mfa.enrol(s, clerk, secret := mfa.new_secret(), __import__("pyotp").TOTP(secret).now(),
                  dt.datetime.now(dt.timezone.utc))
        s.commit()
    listed = {a["username"]: a for a in sec.get("/api/users").get_json()["accounts"]}
    assert listed["clerk_b"]["mfa_enrolled"] and listed["clerk_b"]["locked_until"] and "sysadmin" in listed
    r = sec.post("/api/users/clerk_b/unlock")
    assert r.status_code == 200 and r.get_json()["locked_until"] is None and _user(archive, "clerk_b").failed_logins == 0
    r = sec.post("/api/users/clerk_b/mfa-reset")
    assert r.status_code == 200 and r.get_json()["mfa_enrolled"] is False
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    r = sec.post("/api/users/clerk_b/role", json={"role": "agency_legal", "scope_code": "B-SJJ"})
    assert r.status_code == 200 and r.get_json()["role"] == "agency_legal"
    change = json.loads(_entries(archive, "user.role")[-1].detail)
    assert (change["from"], change["to"], change["to_scope"]) == ("agency_clerk", "agency_legal", "B-SJJ")
    # the token of clerk_b acts with the new role from its next request on
    assert client_as(app, "clerk_b").get("/api/cases").status_code == 200
    # a role at the wrong level, an administrator's role, the security administrator's own account
    bad = sec.post("/api/users/clerk_b/role", json={"role": "district_office", "scope_code": "B-SJJ"})
    assert bad.status_code == 422 and "所属机关与角色不符" in bad.get_data(as_text=True)
    assert sec.post("/api/users/clerk_b/role", json={"role": "sys_admin"}).status_code == 422
    assert sec.post("/api/users/sysadmin/role", json={"role": "city_office", "scope_code": "120000"}).status_code == 403
    assert sec.post("/api/users/secadmin/unlock").status_code == 403  # not on its own account
    assert sec.post("/api/users/nobody/unlock").status_code == 404
    for action in ("user.unlock", "user.mfa_reset", "user.role"):
        assert _entries(archive, action)[-1].actor == "secadmin", action
    # the page: the list, the policy, the same acts
    page = sec.get("/security/accounts").get_data(as_text=True)
    assert "安全管理" in page and "鉴别与会话策略" in page and "需动态口令的角色" in page
    r = sec.post("/security/accounts/clerk_a/role", data={"role": "agency_legal", "scope_code": "A-SJJ"})
    assert r.status_code == 303 and _user(archive, "clerk_a").role == "agency_legal"
    r = sec.post("/security/accounts/clerk_a/role", data={"role": "audit_admin"}, follow_redirects=True)
    assert "请从列表中选择角色" in r.get_data(as_text=True) and _user(archive, "clerk_a").role == "agency_legal"


def test_the_audit_administrator_reads_everyones_trail_and_changes_no_account(app, archive, tokens):
    client_as(app, "secadmin").post("/api/users/clerk_b/unlock")
    client_as(app, "sysadmin").post("/api/users", json={"username": "wq_new", "display_name": "新人",
                                                         "role": "agency_clerk", "scope_code": "A-SJJ"})
    aud = client_as(app, "auditadmin")
    trail = aud.get("/api/audit", query_string={"per_page": 200}).get_json()
    actors = {e["actor"] for e in trail["entries"]}
    assert {"secadmin", "sysadmin"} <= actors  # the other two administrators' acts
    page = aud.get("/audit?verify=1").get_data(as_text=True)
    assert "哈希链完整" in page
    for method, path, body in (("post", "/api/users", {"username": "x1", "display_name": "某", "role": "agency_clerk",
                                                        "scope_code": "A-SJJ"}),
                               ("post", "/api/users/clerk_b/unlock", None),
                               ("post", "/api/users/clerk_b/role", {"role": "agency_legal", "scope_code": "B-SJJ"}),
                               ("get", "/api/cases", None), ("get", "/api/search?q=罚款", None)):
        r = getattr(aud, method)(path, json=body) if body else getattr(aud, method)(path)
        assert r.status_code == 403, (path, r.status_code)
    assert aud.post("/accounts", data={"username": "x2", "display_name": "某", "role": "agency_clerk",
                                       "scope_code": "A-SJJ"}).status_code == 403
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username.in_(["x1", "x2"]))) == 0


def _tamper(archive, seq: int) -> None:
    with archive.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET detail = '{\"q\": \"改过\"}' WHERE seq = :s"), {"s": seq})


def test_a_broken_chain_raises_one_level_3_alert_to_the_audit_administrator(app, archive, tokens):
    for i in range(5):
        audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": f"罚款{i}"})
    assert audit.watch(archive.sessions).first_bad is None
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SecurityAlert)) == 0
    _tamper(archive, 3)
    reports = concurrently(4, lambda i: audit.watch(archive.sessions))  # several workers at once
    assert all(r.first_bad == 3 for r in reports), reports
    assert audit.watch(archive.sessions).first_bad == 3  # and the next day
    with archive.sessions() as s:
        alerts = s.scalars(select(SecurityAlert)).all()
    assert len(alerts) == 1 and alerts[0].level == 3 and "第 3 条" in alerts[0].message
    assert len(_entries(archive, "audit.chain_broken")) == 1
    aud = client_as(app, "auditadmin")
    home = aud.get("/").get_data(as_text=True)
    assert "安全告警（待核查）" in home and "审计日志链在第 3 条断开" in home
    assert client_as(app, "auditor").get("/").get_data(as_text=True).count("审计日志链在第 3 条断开") == 0
    assert client_as(app, "city").post(f"/audit/alerts/{alerts[0].id}/acknowledge",
                                       data={"note": "x"}).status_code == 403
    r = aud.post(f"/audit/alerts/{alerts[0].id}/acknowledge", data={"note": "系数据库维护误操作，已恢复备份核对"})
    assert r.status_code == 303
    page = aud.get("/audit").get_data(as_text=True)
    assert "系数据库维护误操作" in page
    with archive.sessions() as s:
        assert s.get(SecurityAlert, alerts[0].id).acknowledged_by == "auditadmin"


def test_the_chain_continues_in_sm3_from_the_sha256_head(make_app):
    app = make_app()
    archive = app.extensions["archive"]
    for i in range(3):
        audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": f"罚款{i}"})
    with archive.sessions() as s:
        sha_head = s.get(AuditHead, 1).hash
    opened = concurrently(3, lambda i: _ensure(archive, "sm3"))  # three processes starting at once
    assert sorted(opened) == [False, False, True]
    audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": "在 SM3 段中"})
    assert _ensure(archive, "sha256") is False  # a start configured with SHA-256 does not go back
    audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": "仍在 SM3 段中"})
    with archive.sessions() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        report = audit.verify_chain(s)
    opening = next(e for e in rows if e.action == "audit.digest")
    assert opening.alg == "sm3" and opening.prev_hash == sha_head
    assert [e.alg for e in rows if e.seq > opening.seq] == ["sm3", "sm3"]
    assert all(e.alg == "sha256" for e in rows if e.seq < opening.seq)
    assert report.first_bad is None and report.sm3_entries == 3
    # an SM3 link really is SM3: recomputed by hand
    import hashlib

    e = rows[-1]
    body = json.dumps([e.prev_hash, e.seq, e.at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
                       e.actor, e.role, e.action, e.target_type, e.target_id, e.detail, e.ip, "sm3"],
                      ensure_ascii=False, separators=(",", ":"))
    assert hashlib.new("sm3", body.encode()).hexdigest() == e.hash
    # tampering inside the SM3 segment, or passing an entry off as SHA-256, is found
    with archive.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET alg = 'sha256' WHERE seq = :s"), {"s": e.seq})
    with archive.sessions() as s:
        assert audit.verify_chain(s).first_bad == e.seq


def _ensure(archive, alg: str) -> bool:
    with archive.sessions() as s:
        return audit.ensure_digest(s, alg)


def test_a_configured_sm3_digest_opens_the_segment_at_start(make_app):
    app = make_app(AUDIT_DIGEST="sm3")
    archive = app.extensions["archive"]
    audit.record(archive.sessions, "search", actor="clerk_a", detail={"q": "x"})
    with archive.sessions() as s:
        assert s.scalars(select(AuditEntry.alg).order_by(AuditEntry.seq)).all()[-1] == "sm3"
        assert s.get(AuditHead, 1).alg == "sm3"


def test_every_export_is_in_the_trail(app, archive, tokens):
    city = client_as(app, "city")
    before = len(_entries(archive, "export"))
    r = city.get("/basic-info/template/officers.csv")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    exports = _entries(archive, "export")
    assert len(exports) == before + 1 and exports[-1].actor == "city"
    assert "officers-template.csv" in json.loads(exports[-1].detail)["file"]


def test_the_operator_resets_the_security_administrators_own_factor(app, archive, tokens, monkeypatch):
    from click.testing import CliRunner

    from archive.cli import main

    with archive.sessions() as s:
        sec = s.scalar(select(User).where(User.username == "secadmin"))
        secret = mfa.new_secret()
        mfa.enrol(s, sec, secret, __import__("pyotp").TOTP(secret).now(), dt.datetime.now(dt.timezone.utc))
        s.commit()
    for key in ("DATA_DIR", "DATABASE_URL"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    r = CliRunner().invoke(main, ["users", "mfa-reset", "secadmin"])
    assert r.exit_code == 0 and "second factor reset" in r.output, r.output
    assert _user(archive, "secadmin").totp_secret is None
    assert _entries(archive, "user.mfa_reset")[-1].actor == "cli"
    assert CliRunner().invoke(main, ["users", "mfa-reset", "nobody"]).exit_code != 0
