"""Major-case 备案 review on SQLite and PostgreSQL: the district office's queue holds major cases
whose 备案 was filed (not minor ones, not other districts'); the checklist flags a decision made
without legal review and a 备案 filed on day 11; the legal reviewer's certificate is checked
against the officers; problems open a task on the agency; one review per case under concurrency."""
from __future__ import annotations

import datetime as dt

from archive.demo.documents import make_pdf
from archive.clock import SHANGHAI
from tests.conftest import client_as, concurrently, new_case, record_stage, upload

UTC = dt.timezone.utc


def _at(days_ago: float) -> str:
    return (dt.datetime.now(UTC) - dt.timedelta(days=days_ago)).astimezone(SHANGHAI).isoformat()


def major_case(client, number, *, review_before=True, decided_days_ago=3, fine=50000, forms=True):
    case = new_case(client, number=number, opened_on=(dt.date.today() - dt.timedelta(days=40)).isoformat())
    cid = case["id"]
    assert record_stage(client, cid, "filing", _at(30)).status_code == 201
    assert record_stage(client, cid, "investigation", _at(25)).status_code == 201
    if review_before:
        assert record_stage(client, cid, "review", _at(decided_days_ago + 1)).status_code == 201
    r = client.post(f"/api/cases/{cid}/stages", json={"stage": "decision", "completed_at": _at(decided_days_ago),
                                                      "penalty_types": ["fine"], "fine_amount": fine},
                    headers={"Authorization": "Bearer " + client.application.config["TEST_TOKENS"]["agency_clerk@A-SJJ"]})
    assert r.status_code == 201, r.get_json()
    pdf = make_pdf("文书", [number])
    if forms:
        assert upload(client, cid, pdf, "听证告知书.pdf", stage="decision", form="hearing_notice", record=False).status_code == 201
        if review_before:
            assert upload(client, cid, pdf + b" ", "集体讨论记录.pdf", stage="review", form="collective_discussion",
                          record=False).status_code == 201
    assert upload(client, cid, pdf + b"  ", "备案报告.pdf", stage="decision", form="filing_record",
                  record=False).status_code == 201
    return case


def officers(app):
    import io

    text = "agency,name,certificate_no,valid_until\nA-SJJ,孙丽,12011400321,2099-12-31\nA-SJJ,赵旧,12011400999,2020-01-01\n"
    r = client_as(app, "district_a").post("/api/basic-info/officers/import", data={
        "file": (io.BytesIO(text.encode()), "o.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()


def test_the_checklist_and_the_review(app, archive, client, orgs):
    officers(app)
    good = major_case(client, "津武市监罚〔2026〕901号")
    late = major_case(client, "津武市监罚〔2026〕902号", review_before=False, decided_days_ago=11)
    minor = major_case(client, "津武市监罚〔2026〕903号", fine=100, forms=False)
    queue = client_as(app, "district_a").get("/api/filings").get_json()["filings"]
    assert [f["number"] for f in queue] == [good["number"], late["number"]]  # not the minor case
    assert client_as(app, "district_b").get("/api/filings").get_json()["filings"] == []
    assert client_as(app, "clerk_a").get("/api/filings").status_code == 403
    assert client_as(app, "district_b").get(f"/api/filings/{good['id']}").status_code == 404
    assert client_as(app, "district_a").get(f"/api/filings/{minor['id']}").status_code == 404

    items = {i["code"]: i for i in client_as(app, "district_a").get(f"/api/filings/{late['id']}").get_json()["checklist"]}
    assert items["review_before_decision"]["auto"] == "fail" and "未登记法制审核" in items["review_before_decision"]["detail"]
    assert items["filed_in_time"]["auto"] == "fail" and "第 11 日" in items["filed_in_time"]["detail"]
    assert items["collective_decision"]["auto"] == "fail" and items["hearing_offered"]["auto"] == "pass"
    assert items["reviewer_qualified"]["auto"] == "unknown"
    checked = lambda cid, cert: {i["code"]: i for i in client_as(app, "district_a").get(  # noqa: E731
        f"/api/filings/{cid}", query_string={"certificate": cert}).get_json()["checklist"]}
    assert checked(good["id"], "12011400321")["reviewer_qualified"]["auto"] == "pass"
    assert "无效" in checked(good["id"], "12011400999")["reviewer_qualified"]["detail"]
    assert "不在本机关" in checked(good["id"], "99999")["reviewer_qualified"]["detail"]
    assert all(i["auto"] == "pass" for i in checked(good["id"], "12011400321").values())

    # the good one is accepted; a second review answers 409
    review = lambda cid, **body: client_as(app, "district_a").post(f"/api/filings/{cid}/review", json=body)  # noqa: E731
    assert client_as(app, "clerk_a").post(f"/api/filings/{good['id']}/review", json={}).status_code == 403
    r = review(good["id"], certificate="12011400321")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["outcome"] == "accepted" and r.get_json()["task_id"] is None
    assert review(good["id"], certificate="12011400321").status_code == 409
    # the late one: the reviewer must decide the item the archive cannot; problems open a task
    r = review(late["id"])
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"reviewer_qualified"}
    r = review(late["id"], items={"reviewer_qualified": {"ok": True}}, note="请于期限内整改", due_days=5)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["outcome"] == "problems" and body["task_id"] is not None
    assert {i["code"] for i in body["checklist"] if not i["ok"]} == {"review_before_decision", "collective_decision",
                                                                      "filed_in_time"}
    task = client_as(app, "clerk_a").get(f"/api/tasks/{body['task_id']}").get_json()
    assert task["subject"] == f"重大案件备案审查问题整改：{late['number']}" and task["status"] == "assigned"
    assert "未登记法制审核环节" in task["text"] and [c["number"] for c in task["cases"]] == [late["number"]]
    assert client_as(app, "district_a").get("/api/filings").get_json()["filings"] == []  # the queue is empty
    reviewed = client_as(app, "city").get("/api/filings", query_string={"status": "reviewed"}).get_json()["filings"]
    assert {f["outcome"] for f in reviewed} == {"accepted", "problems"}


def test_one_review_per_case_under_concurrency(app, archive, client, orgs):
    officers(app)
    case = major_case(client, "津武市监罚〔2026〕911号")
    statuses = [r.status_code for r in concurrently(4, lambda i: client_as(app, "district_a").post(
        f"/api/filings/{case['id']}/review", json={"certificate": "12011400321"}))]
    assert sorted(statuses) == [201, 409, 409, 409], statuses
