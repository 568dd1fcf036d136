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


def test_the_district_office_exports_a_transfer_package_and_sees_it_verified(server, page, app, archive, client):
    from tests.e2e.test_security_pages import _add
    from tests.integration.test_archival import _file

    case = closed_case(client, "津武市监罚〔2026〕503号")
    drain(archive)
    assert _file(app, case["id"]).status_code == 201
    drain(archive)
    _add(archive, "yizhi", "district_office", "120114")
    _login(page, server, "yizhi")
    page.click("nav.nav >> text=档案")
    page.wait_for_selector("table.due")
    page.click("nav.tabs >> text=移交")
    page.wait_for_selector("table.transfers")
    assert "2026" in page.inner_text("table.transfers")
    _shot(page, "transfer-list.png")
    page.click("table.transfers button:has-text('导出移交包')")
    page.wait_for_selector("#verdict")
    assert "校验通过" in page.inner_text("#verdict")
    assert "A-SJJ-ZF·2026-D30-0001" in page.inner_text("table.register")
    _shot(page, "transfer-package-verified.png")
    with page.expect_download() as got:
        page.click("text=下载移交包（ZIP）")
    import zipfile

    with zipfile.ZipFile(got.value.path()) as z:
        names = z.namelist()
    assert any(n.endswith("bagit.txt") for n in names) and any("移交清单.xlsx" in n for n in names)
    page.click("button:has-text('登记档案馆已接收')")
    page.wait_for_selector(".flash.ok")
    assert "1 件案卷标记为已移交" in page.inner_text(".flash.ok")
