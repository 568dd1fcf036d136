"""Notices in the browser: a clerk chooses the daily digest for briefings on 消息; the district
office publishes a month's briefing on 统计 · 简报; the clerk's 工作台 shows it until read and
the bell counts it; the digest arrives at a loopback SMTP server (aiosmtpd); the office sees
who read it and when. Screenshots in ``test-screenshots/``."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.test_browser import _login, page, server  # noqa: F401  (fixtures)
from tests.e2e.test_security_pages import _add, _shot
from tests.integration.test_notifications import smtp  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    controller, _ = smtp
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, DIGEST_HOUR=0)


def test_a_briefing_is_published_read_and_digested(server, page, app, archive, client, smtp):  # noqa: F811
    from archive.worker import Context, notify_round, run_jobs

    _, handler = smtp
    _login(page, server, "zhao")
    page.click("header .bell")
    page.fill("form.settings-form input[name=email]", "zhao@example.gov.cn")
    page.select_option("form.settings-form select[name=mode_briefing]", "digest")
    page.click("form.settings-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    _shot(page, "notices-settings.png")
    page.click("text=退出")
    _add(archive, "yizhi", "district_office", "120114")
    _login(page, server, "yizhi")
    page.goto(server + "/briefings")
    page.select_option("form.publish-form select[name=month]", "2026-11")
    page.click("form.publish-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "已发布" in page.inner_text(".flash.ok") and "已读 0 / 2 个单位" in page.inner_text("table.published")
    _shot(page, "briefing-published.png")
    page.click("text=退出")
    ctx = Context.of(archive)
    notify_round(ctx)  # the worker's look for notices: the briefing, the digest from hour 0
    run_jobs(ctx, "test-worker", ("email",))
    digests = [m for rcpt, m in handler.messages if rcpt == ["zhao@example.gov.cn"]]
    assert len(digests) == 1 and "简报" in digests[0].get_payload(decode=True).decode("utf-8")
    _login(page, server, "zhao")
    assert "新简报（未读）" in page.inner_text("main") and int(page.inner_text("header .bell .badge")) >= 1
    _shot(page, "briefing-workbench.png")
    page.click("main >> text=行政执法监督简报")
    page.wait_for_selector("text=下载简报（DOCX）")
    page.goto(server + "/")
    assert "新简报（未读）" not in page.inner_text("main")
    page.click("text=退出")
    _login(page, server, "yizhi")
    page.goto(server + "/briefings")
    page.click("table.published a")
    row = page.locator("table.reads tbody tr", has_text="武清区市场监督管理局")
    assert "zhao" in row.inner_text() and str(dt.date.today().year) in row.inner_text()
    _shot(page, "briefing-reads.png")
