"""The people behind the acts in the browser: a clerk records 调查取证 with one officer whose
certificate has lapsed and sees both warnings on the case page; the district office's 培训考核
lists what is short. Screenshots in ``test-screenshots/``."""
from __future__ import annotations

import datetime as dt

from archive.models import Officer, TrainingRecord
from tests.conftest import new_case, record_stage
from tests.e2e.test_browser import _login, page, server  # noqa: F401  (fixtures)
from tests.e2e.test_security_pages import _add, _shot


def test_a_clerk_records_a_stage_with_one_lapsed_officer_and_sees_the_warnings(server, page, app, archive, client):
    with archive.sessions() as s:
        s.add_all([Officer(agency_code="A-SJJ", name="王过期", certificate_no="12010003", valid_until=dt.date(2026, 11, 30)),
                   Officer(agency_code="A-SJJ", name="张明", certificate_no="12010001", valid_until=dt.date(2029, 12, 31)),
                   TrainingRecord(agency_code="A-SJJ", certificate_no="12010001", name="张明", course="公共法律知识培训",
                                  organiser="区司法局", start_on=dt.date(2026, 3, 2), end_on=dt.date(2026, 3, 6), hours=40)])
        s.commit()
    case = new_case(client, number="津武市监罚〔2026〕901号")
    assert record_stage(client, case["id"], "filing", "2026-12-01T09:00:00+08:00").status_code == 201
    _login(page, server, "zhao")
    page.goto(server + f"/cases/{case['id']}")
    page.select_option("#stage-form select[name=stage]", "investigation")
    page.fill("#stage-form input[name=completed_at]", "2026-12-02T10:00")
    page.check("#stage-form input[name=officers][value='12010003']")
    _shot(page, "officers-record-stage.png")
    page.click("#stage-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "王过期（12010003）" in page.inner_text("#stage-investigation")
    warnings = page.inner_text("section[aria-labelledby=h-warnings]")
    assert "王过期" in warnings and "2026-11-30 到期" in warnings and "少于两人" in warnings
    page.locator("section[aria-labelledby=h-warnings]").scroll_into_view_if_needed()
    _shot(page, "officers-warnings.png")
    page.click("text=退出")
    _add(archive, "yizhi", "district_office", "120114")
    _login(page, server, "yizhi")
    page.goto(server + "/stats/training?year=2026")
    row = page.locator("table.training tbody tr", has_text="武清区市场监督管理局")
    assert "张明（40 学时）" in row.inner_text() and "王过期（已过期 2026-11-30）" in row.inner_text()
    _shot(page, "officers-training-review.png")
