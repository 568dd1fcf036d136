"""Leaks found by trying the pages as another office would (issue 27, part 1)."""
from __future__ import annotations

from tests.conftest import client_as


def test_the_new_task_page_shows_no_complaint_outside_the_callers_scope(app, archive, tokens):
    """/tasks/new?complaint=<id> prefilled the complainant and the text of any complaint for any
    district office; the API answers 404 for the same complaint, and so does the page now."""
    complaint = client_as(app, "complaints_a").post("/api/complaints", json={
        "received_at": "2026-11-20T09:00:00+08:00", "complainant": "王秘密", "text": "反映某执法人员索要财物",
        "agency": "A-SJJ"}).get_json()
    other = client_as(app, "district_b")
    assert other.get(f"/api/complaints/{complaint['id']}").status_code == 404
    page = other.get("/tasks/new", query_string={"complaint": complaint["id"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 404 and "王秘密" not in html and "索要财物" not in html
    own = client_as(app, "district_a").get("/tasks/new", query_string={"complaint": complaint["id"]})
    assert own.status_code == 200 and "王秘密" in own.get_data(as_text=True)
    assert client_as(app, "district_b").get("/tasks/new", query_string={"complaint": 999999}).status_code == 404
