"""等保 level three in the browser: an office user enrols a second factor and logs in with it;
an idle session warns, ends, and the form's content survives the new login; the three
administrators each see their own pages and nothing else (the audit administrator verifies the
trail and cannot change an account, the system administrator cannot open a case file, the
security administrator lifts a lock). Screenshots in ``test-screenshots/``."""
from __future__ import annotations

import datetime as dt
import re

import pyotp
from sqlalchemy import select, update

from archive.auth.accounts import create_user
from archive.models import Case, User
from tests.e2e.test_browser import PASSWORD, _login, page, server  # noqa: F401  (fixtures)
from tests.e2e.test_pages import SHOTS


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _add(archive, username: str, role: str, scope: str | None = None) -> None:
    with archive.sessions() as s:
        create_user(s, username, role, scope, password=PASSWORD)
        s.commit()


def _password(page, server, username: str) -> None:
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")


def test_an_office_user_enrols_totp_and_logs_in_with_it(server, page, app, archive):
    _add(archive, "wang", "district_office", "120114")
    app.config["MFA_ROLES"] = "district_office"
    try:
        _password(page, server, "wang")
        page.wait_for_url(server + "/login/mfa")
        assert "绑定动态口令" in page.inner_text("main")
        assert page.locator("p.qr img").evaluate("i => i.naturalWidth") > 100  # the QR code is drawn
        _shot(page, "mfa-enrol.png")
        secret = page.inner_text("code.secret").strip()
        page.fill("input[name=code]", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        page.click("form.mfa button[type=submit]")
        assert "动态口令不正确" in page.inner_text("[role=alert]")
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form.mfa button[type=submit]")
        page.wait_for_selector("ol.codes")
        codes = page.locator("ol.codes code").all_inner_texts()
        assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
        _shot(page, "mfa-recovery-codes.png")
        page.click("text=我已保存恢复码，继续")
        page.wait_for_url(server + "/")
        assert "这是您的首次登录" in page.inner_text("main")
        page.click("header form.logout button")
        page.wait_for_url(server + "/login")
        # the next login asks for the code of the app
        _password(page, server, "wang")
        page.wait_for_url(server + "/login/mfa")
        assert "动态口令或恢复码" in page.inner_text("main")
        _shot(page, "mfa-login.png")
        page.fill("input[name=code]", pyotp.TOTP(secret).at(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)))
        page.click("form.mfa button[type=submit]")
        page.wait_for_url(server + "/")
        assert "上次登录" in page.inner_text("main")  # the notice: the enrolment login, its time and address
        page.goto(server + "/security")
        assert "已于" in page.inner_text("main") and "剩余可用恢复码：10 个" in page.inner_text("main")
        _shot(page, "security-own-page.png")
    finally:
        app.config["MFA_ROLES"] = ""


def test_an_idle_session_warns_ends_and_the_form_survives_the_login(server, page, app, archive):
    _add(archive, "zhang", "agency_clerk", "A-SJJ")
    app.config["SESSION_IDLE_MINUTES"] = 0.15  # nine seconds, warned three before
    app.config["SESSION_WARN_SECONDS"] = 3
    try:
        _login(page, server, "zhang")
        page.goto(server + "/cases/new")
        page.fill("input[name=number]", "津武市监罚〔2026〕777号")
        page.fill("input[name=party_name]", "天津某某食品有限公司")
        page.wait_for_selector(".session-warning", timeout=20000)
        assert "秒后结束" in page.inner_text(".session-warning")
        _shot(page, "session-idle-warning.png")
        page.wait_for_url(re.compile(r".*/login\?expired=1.*"), timeout=20000)
        assert "长时间未操作" in page.inner_text("main")
        _shot(page, "session-ended-login.png")
        app.config["SESSION_IDLE_MINUTES"] = 30
        page.fill("input[name=username]", "zhang")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(server + "/cases/new")
        page.wait_for_selector(".restored")
        assert page.input_value("input[name=number]") == "津武市监罚〔2026〕777号"
        assert page.input_value("input[name=party_name]") == "天津某某食品有限公司"
        _shot(page, "session-form-restored.png")
        # a fresh visit does not bring it back
        page.goto(server + "/cases/new")
        assert page.input_value("input[name=number]") == ""
    finally:
        app.config["SESSION_IDLE_MINUTES"] = 30
        app.config["SESSION_WARN_SECONDS"] = 60


def test_the_audit_administrator_verifies_the_trail_and_cannot_change_an_account(server, page, app, archive):
    _add(archive, "shenji", "audit_admin")
    _login(page, server, "shenji")
    nav = page.inner_text("nav.nav")
    assert "审计" in nav and "账号" not in nav and "案件" not in nav and "检索" not in nav
    page.goto(server + "/audit")
    page.click("button[name=verify]")
    page.wait_for_selector("#chain")
    assert "哈希链完整" in page.inner_text("#chain")
    _shot(page, "audit-admin-verifies.png")
    page.goto(server + "/accounts")
    assert "没有权限" in page.inner_text("main")
    _shot(page, "audit-admin-no-accounts.png")
    page.goto(server + "/security/accounts")
    assert "没有权限" in page.inner_text("main")


def test_the_system_administrator_manages_accounts_and_cannot_open_a_case_file(server, page, app, archive):
    _add(archive, "xitong", "sys_admin")
    with archive.sessions() as s:
        case_id = s.scalars(select(Case.id)).first()
    _login(page, server, "xitong")
    nav = page.inner_text("nav.nav")
    assert "账号" in nav and "节假日安排" in nav and "案件" not in nav and "审计" not in nav
    page.goto(server + f"/cases/{case_id}")
    assert "找不到这个页面" in page.inner_text("main")
    _shot(page, "sys-admin-no-case-file.png")
    page.goto(server + "/search?q=停产停业")
    assert "没有权限" in page.inner_text("main")
    page.goto(server + "/accounts")
    assert "zhao" in page.inner_text("table") and "xitong" not in page.inner_text("table")
    _shot(page, "sys-admin-accounts.png")


def test_the_security_administrator_lifts_a_lock(server, page, app, archive):
    _add(archive, "anquan", "security_admin")
    with archive.sessions() as s:
        s.execute(update(User).where(User.username == "zhao").values(
            locked_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=30), failed_logins=10))
        s.commit()
    _login(page, server, "anquan")
    page.goto(server + "/")
    assert "被锁定的账号" in page.inner_text("main")
    page.goto(server + "/security/accounts")
    row = page.locator("tr#u-zhao")
    assert "已锁定" in row.inner_text()
    _shot(page, "security-admin-accounts.png")
    row.locator("text=解除锁定").click()
    page.wait_for_selector(".flash.ok")
    assert "已解除 zhao 的锁定" in page.inner_text(".flash.ok")
    assert "正常" in page.locator("tr#u-zhao").inner_text()
