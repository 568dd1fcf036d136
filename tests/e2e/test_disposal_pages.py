"""鉴定与销毁 in the browser: the district office finds a case whose retention period has ended
on its 到期鉴定 list and proposes its disposal; the city office approves it on the proposal's
page; once the store's object lock has passed, the case is in the 销毁清册 and its documents
say 已销毁. The archive's clock is frozen after the (short) period. Screenshots in
``test-screenshots/``."""
from __future__ import annotations

import json

import pytest

from archive.services import disposal
from archive.services.archivalrules import RULES_FILE

from tests.e2e.test_browser import _login, page, server  # noqa: F401  (fixtures)
from tests.e2e.test_security_pages import _add, _shot
from tests.integration.test_disposal import AFTER_END, dispose_until_done, filed_2012_case


@pytest.fixture
def app(make_app, tmp_path, monkeypatch):
    rules = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    rules["retention"]["periods"]["D30"]["years"] = 2
    path = tmp_path / "archival-short.json"
    path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(disposal, "now", lambda: AFTER_END)
    made = make_app(ARCHIVAL_RULES=str(path), RETENTION_SECONDS=2)
    return made


def test_a_due_case_is_proposed_approved_and_listed_in_the_register(server, page, app, archive, client):
    case = filed_2012_case(app, archive, client, "津武市监罚〔2012〕21号")
    _add(archive, "yizhi", "district_office", "120114")
    _add(archive, "shiju", "city_office", "120000")
    _login(page, server, "yizhi")
    page.click("nav.nav >> text=档案")
    page.wait_for_selector("table.due")
    row = page.locator("table.due tbody tr", has_text=case["number"])
    assert "定期30年" in row.inner_text() and "2014-12-31" in row.inner_text()
    row.locator("summary:text('鉴定')").click()
    _shot(page, "appraisal-due.png")
    row.locator("form.dispose-form textarea").fill("保管期满，经鉴定无继续保存价值")
    row.locator("form.dispose-form button").click()
    page.wait_for_selector(".flash.ok")
    assert "已提出销毁" in page.inner_text(".flash.ok")
    assert "待审批" in page.locator("table.due tbody tr", has_text=case["number"]).inner_text()
    page.click("text=退出")
    _login(page, server, "shiju")
    page.click("nav.nav >> text=档案")
    page.click("table.proposals >> text=查看并审批")
    page.wait_for_selector("form.decide-form")
    assert case["documents"][0]["sha256"] in page.inner_text("table.register-documents")
    _shot(page, "appraisal-approve.png")
    page.click("form.decide-form button:has-text('批准销毁')")
    page.wait_for_selector(".flash.ok")
    assert "已批准销毁" in page.inner_text(".flash.ok")
    dispose_until_done(archive, case["id"])
    page.click("nav.tabs >> text=销毁清册")
    page.wait_for_selector("table.register")
    assert case["number"] in page.inner_text("table.register")
    _shot(page, "appraisal-register.png")
    page.click("table.register >> text=A-SJJ-ZF·2012-D30-0001")
    page.wait_for_selector("table.register-documents")
    assert "已销毁" in page.inner_text("main")
    _shot(page, "appraisal-register-entry.png")
    page.goto(server + f"/documents/{case['documents'][0]['id']}")
    assert "经鉴定销毁" in page.inner_text("main")
    _shot(page, "appraisal-document-destroyed.png")
