"""The web pages in a real browser: Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import threading

import pytest

from archive.auth.accounts import create_user
from archive.demo.documents import make_pdf
from tests.conftest import drain, new_case, upload

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PASSWORD = "浏览器测试密码-browser"


@pytest.fixture
def server(app, archive, client):
    """The app on a real HTTP server on 127.0.0.1, with a clerk and one indexed decision."""
    from waitress import create_server

    with archive.sessions() as s:
        create_user(s, "zhao", "agency_clerk", "A-SJJ", password=PASSWORD)
        s.commit()
    case = new_case(client)
    upload(client, case["id"], make_pdf("行政处罚决定书", ["本机关决定：责令停产停业，并处罚款人民币五万元。"]))
    drain(archive)
    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=srv.run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is required for the browser tests (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pg = browser.new_page(locale="zh-CN")
        messages: list[str] = []
        pg.on("console", lambda m: messages.append(m.text))
        pg.console_messages = messages  # type: ignore[attr-defined]
        yield pg
        browser.close()


def test_clerk_logs_in_and_finds_a_decision(server, page, tmp_path):
    page.goto(server + "/")
    assert page.url.startswith(server + "/login")
    page.fill("input[name=username]", "zhao")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("[role=alert]")
    page.fill("input[name=username]", "zhao")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")
    assert "zhao" in page.inner_text("header")
    page.fill("input[name=q]", "停产停业")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("mark")
    assert page.inner_text("mark") == "停产停业"
    assert "共 1 份文书" in page.inner_text(".total")
    assert "津武市监罚〔2026〕12号" in page.inner_text(".hits")
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
    page.fill("input[name=q]", '"停产')
    page.press("input[name=q]", "Enter")
    assert "引号不成对" in page.inner_text("[role=alert]")
    page.click("header button")
    page.wait_for_url(server + "/login")
