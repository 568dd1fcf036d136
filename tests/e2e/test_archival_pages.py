"""归档 in the browser: the clerk files a closed case on its page, sees its 档号 and opens the
four-property report (and its PDF). Screenshots in ``test-screenshots/``."""
from __future__ import annotations

from tests.conftest import drain
from tests.e2e.test_browser import _login, page, server  # noqa: F401  (fixtures)
from tests.e2e.test_security_pages import _shot
from tests.integration.test_archival import closed_case


def test_the_clerk_files_a_closed_case_and_opens_its_report(server, page, app, archive, client):
    incomplete = closed_case(client, "津武市监罚〔2026〕501号", skip="service_receipt")
    case = closed_case(client, "津武市监罚〔2026〕502号")
    drain(archive)
    _login(page, server, "zhao")
    # a case lacking a required document: the check lists what to fix, nothing is filed
    page.goto(server + f"/cases/{incomplete['id']}")
    page.click("#archival button[type=submit]")
    page.wait_for_selector(".flash.error")
    assert "四性检测未通过" in page.inner_text(".flash.error") and "送达回证" in page.inner_text(".flash.error")
    assert "四性检测并归档" in page.inner_text("#archival")  # still to be filed
    _shot(page, "archival-check-failed.png")
    page.goto(server + f"/cases/{case['id']}")
    page.click("#archival button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "已归档：档号 A-SJJ-ZF·2026-D30-0001" in page.inner_text(".flash.ok")
    assert "定期30年" in page.inner_text("#archival")
    _shot(page, "archival-filed.png")
    page.click("#archival a:text('报告')")
    page.wait_for_selector("table.checks")
    text = page.inner_text("main")
    assert "四性检测报告（归档）" in text and "GD-1-1" in text and "真实性" in text and "安全性" in text
    _shot(page, "archival-report.png")
    with page.expect_download() as got:
        page.click("text=下载 PDF")
    pdf = got.value.path()
    with open(pdf, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
