"""Every API route × every role, with the exact status the README promises: 404 for what lies
outside the caller's scope, 403 for what it sees but its role may not do, 2xx otherwise.
A route added without a row here fails the test."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy import func, select

from archive.demo.documents import make_pdf
from archive.models import AuditEntry, WarningRecord
from archive.clock import SHANGHAI
from tests.conftest import ACCOUNTS, client_as, new_case, record_stage, security_header_problems, upload

ROLES = [a[0] for a in ACCOUNTS]
OFFICER_A = "agency,name,certificate_no,valid_until\nA-SJJ,张明,12010001,2029-12-31\n".encode()
# Who sees case A (agency A-SJJ, district 120114) by scope; the reviewer reads it through its
# assignment in the drawn plan.
SCOPE_A = {"clerk_a", "legal_a", "district_a", "city", "complaints_a", "auditor"}
READS_A = SCOPE_A | {"reviewer"}
WRITERS_A = {"clerk_a", "legal_a"}
HANDLERS = {"complaints_a", "district_a", "district_b", "city"}
PLAN_READERS = {"district_a", "district_b", "city", "auditor"}
REVIEW_READERS_A = {"reviewer", "district_a", "city", "auditor"}
# 三权分立: the three administrators read no case file (403 on lists and search, 404 on a case)
ADMINS = {"sysadmin", "secadmin", "auditadmin"}
AUDIT_READERS = {"auditor", "auditadmin"}
OFFICES = {"district_a", "district_b", "city"}
BRIEFING_READERS = OFFICES | {"clerk_a", "clerk_ay", "clerk_b", "legal_a"}


def not_admins(who: str, ok: int) -> int:
    return 403 if who in ADMINS else ok


def for_case_a(write: bool = False):
    """A case-A route: its writers succeed; others who see A get 403 on writes; the rest 404."""
    def expect(who: str, ok: int) -> int:
        if who not in READS_A:
            return 404
        if write and who not in WRITERS_A:
            return 403
        return ok
    return expect


def only(allowed: set[str], otherwise: int = 403):
    return lambda who, ok: ok if who in allowed else otherwise


def everyone(who: str, ok: int) -> int:
    return ok


def decision(who: str, ok: int) -> int:
    if who == "district_a":
        return ok
    return 403 if who in SCOPE_A else 404  # the requester, the agency, the city: not the supervising level


def complaint_item(who: str, ok: int) -> int:
    if who in {"complaints_a", "district_a", "city"}:
        return ok
    return 404 if who == "district_b" else 403


def warning_handle(who: str, ok: int) -> int:
    if who == "legal_a":
        return ok  # level 1: the agency's legal unit
    return 403 if who in SCOPE_A else 404


STATS = {"clerk_a", "clerk_ay", "clerk_b", "legal_a", "district_a", "district_b", "city", "auditor"}


def basic_import(who: str, ok: int) -> int:
    """The district office imports for its agencies (the file names A-SJJ), the city for all."""
    if who in ("district_a", "city"):
        return ok
    return 422 if who == "district_b" else 403


def change_submit(who: str, ok: int) -> int:
    """An agency asks for a change of its own basic information (the file names A-SJJ)."""
    if who in ("clerk_a", "legal_a"):
        return ok
    return 422 if who in ("clerk_ay", "clerk_b") else 403


def change_read(who: str, ok: int) -> int:
    if who in ("reviewer", "complaints_a") or who in ADMINS:
        return 403  # no statistics for their roles
    return ok if who in SCOPE_A else 404


def change_decide(who: str, ok: int) -> int:
    if who == "district_a":
        return ok
    return 403 if who in SCOPE_A else 404


TASK_READERS = {"clerk_a", "legal_a", "district_a", "city", "auditor"}


def task_create(who: str, ok: int) -> int:
    """A district office assigns to its agency (A-SJJ); the city transfers only to districts."""
    if who == "district_a":
        return ok
    return 422 if who in ("district_b", "city") else 403


def task_answer(who: str, ok: int) -> int:
    if who in ("clerk_a", "legal_a"):
        return ok
    return 403 if who in TASK_READERS else 404


def task_decide(who: str, ok: int) -> int:
    if who == "district_a":
        return ok
    return 403 if who in TASK_READERS else 404


def plan_draw(who: str, ok: int) -> int:
    """A city-wide plan: drawn by the city office; readers of the plan see it (403), others not."""
    if who == "city":
        return ok
    return 403 if who in PLAN_READERS else 404


def review_submit(who: str, ok: int) -> int:
    if who == "reviewer":
        return ok
    return 403 if who in REVIEW_READERS_A else 404


@pytest.fixture
def world(app, client, archive, tokens):
    a = new_case(client, opened_on="2026-08-03")
    new_case(client, number="津辰市监罚〔2026〕3号", agency="B-SJJ", opened_on="2026-08-04")
    assert record_stage(client, a["id"], "filing", "2026-08-03T10:00:00+08:00").status_code == 201
    pdf = make_pdf("立案审批表", ["经审查，符合立案条件。"])
    doc1 = upload(client, a["id"], pdf, stage="filing", form="filing_approval").get_json()
    doc2 = upload(client, a["id"], pdf + b"\n", stage="filing", form="filing_approval").get_json()
    amendment = client_as(app, "clerk_a").post(f"/api/documents/{doc1['id']}/amendments", data={
        "reason": "笔误", "file": (io.BytesIO(pdf + b"  "), "更正.pdf")}, content_type="multipart/form-data").get_json()
    correction = client_as(app, "clerk_a").post(f"/api/cases/{a['id']}/corrections", json={
        "field": "party_name", "new_value": "天津宏泰食品股份有限公司", "reason": "名称变更"}).get_json()
    period = client_as(app, "clerk_a").post(f"/api/cases/{a['id']}/periods", json={
        "kind": "suspension", "start_on": "2026-08-10", "approved_by": "局长", "reason": "等待鉴定"}).get_json()
    complaint = client_as(app, "complaints_a").post("/api/complaints", json={
        "received_at": "2026-09-01T09:00:00+08:00", "complainant": "王某", "text": "反映问题",
        "agency": "A-SJJ"}).get_json()
    attachment = client_as(app, "complaints_a").post(f"/api/complaints/{complaint['id']}/attachments", data={
        "file": (io.BytesIO(pdf), "举报信.pdf")}, content_type="multipart/form-data").get_json()
    change = client_as(app, "clerk_a").post("/api/basic-info/changes", data={
        "kind": "officers", "effective_on": "2026-11-20", "reason": "新增执法人员",
        "file": (io.BytesIO(OFFICER_A), "officers.csv")}, content_type="multipart/form-data").get_json()
    task = client_as(app, "district_a").post("/api/tasks", data={
        "assignee": "A-SJJ", "subject": "核查", "text": "请核查", "due_days": "5",
        "file": (io.BytesIO(pdf), "交办函.pdf")}, content_type="multipart/form-data").get_json()
    answered = client_as(app, "district_a").post("/api/tasks", data={
        "assignee": "A-SJJ", "subject": "核查二", "text": "请核查", "due_days": "5"},
        content_type="multipart/form-data").get_json()
    assert client_as(app, "clerk_a").post(f"/api/tasks/{answered['id']}/answer", data={"text": "已办"},
                                          content_type="multipart/form-data").status_code == 200
    with archive.sessions() as s:
        w = WarningRecord(rule="upload_late", fact_key="m", case_id=a["id"], agency_code="A-SJJ", message="逾期",
                          level=1, status="open", opened_at=dt.datetime.now(dt.timezone.utc))
        s.add(w)
        s.commit()
        warning_id = w.id
    plan_body = {"name": "抽查", "period_start": "2026-08-01", "period_end": "2026-08-31", "kinds": ["penalty"],
                 "count": 1, "reviewers_per_file": 1, "max_load": 10, "review_deadline": "2099-12-31"}
    drawn = client.post("/api/sampling/plans", json=plan_body).get_json()
    assert client.post(f"/api/sampling/plans/{drawn['id']}/draw", json={"seed": "s"}).status_code == 200
    drawn = client.get(f"/api/sampling/plans/{drawn['id']}").get_json()
    review = next(r for r in drawn["assignments"] if r["agency"] == "A-SJJ")
    assert review["reviewer"] == "reviewer"
    draft = client.post("/api/sampling/plans", json=plan_body).get_json()
    empty = client.post("/api/sampling/plans", json={**plan_body, "count": 0}).get_json()
    from archive.models import ArchivalCheck, SecurityAlert

    with archive.sessions() as s:
        check = ArchivalCheck(case_id=a["id"], phase="filing", at=dt.datetime.now(dt.timezone.utc), by="clerk_a",
                              passed=False, report_sha256="0" * 64, report=json.dumps({
                                  "phase_name": "归档", "archival_no": None, "items": [
                                      {"id": "GD-2-1", "property": "完整性", "name": "各环节必需文书齐全性检测",
                                       "result": "不通过", "reason": "未登记结案环节", "document": None}]}))
        s.add(check)
        alert = SecurityAlert(kind="audit_chain", fact_key="7", level=3, message="审计日志链在第 7 条断开",
                              raised_at=dt.datetime.now(dt.timezone.utc))
        s.add(alert)
        s.commit()
        alert_id, check_id = alert.id, check.id
    return {"case": a["id"], "doc1": doc1["id"], "doc2": doc2["id"], "amendment": amendment["id"],
            "correction": correction["id"],
            "period": period["id"], "complaint": complaint["id"], "attachment": attachment["id"], "warning": warning_id, "plan": drawn["id"],
            "draft": draft["id"], "empty": empty["id"], "review": review["review_id"], "change": change["id"],
            "task": task["id"], "task_file": task["steps"][0]["attachments"][0]["id"], "answered_task": answered["id"],
            "alert": alert_id, "check": check_id}


def routes(w: dict) -> list[tuple[str, str, dict, int, object]]:
    """(method, rule, request kwargs, success status, expectation) for every API route."""
    c, d1, d2 = w["case"], w["doc1"], w["doc2"]
    pdf = make_pdf("调查终结报告", ["调查完毕。"])
    return [
        ("GET", "/api/amendments", {}, 200, everyone),
        ("GET", "/api/amendments/<int:amendment_id>", {"a": w["amendment"]}, 200, only(SCOPE_A, 404)),
        ("GET", "/api/amendments/<int:amendment_id>/content", {"a": w["amendment"]}, 200, only(SCOPE_A, 404)),
        ("POST", "/api/amendments/<int:amendment_id>/decision",
         {"a": w["amendment"], "json": {"approve": False, "note": "不予更正"}}, 200, decision),
        ("GET", "/api/audit", {}, 200, only(AUDIT_READERS)),
        ("GET", "/api/cases", {}, 200, not_admins),
        ("POST", "/api/cases", {"json": {"number": "津武市监罚〔2026〕901号", "agency": "A-SJJ", "kind": "penalty",
                                         "opened_on": "2026-09-01", "power": "SJ-FOOD-124"}}, 201, only(WRITERS_A)),
        ("GET", "/api/cases/<case_id>", {}, 200, for_case_a()),
        ("GET", "/api/cases/<case_id>/binder.pdf", {}, 200, for_case_a()),
        ("GET", "/api/cases/<case_id>/bundle", {}, 200, for_case_a()),
        ("POST", "/api/cases/<case_id>/documents", {"data": {"stage": "filing", "form": "filing_approval",
                                                              "file": (io.BytesIO(pdf), "a.pdf")}}, 201,
         for_case_a(write=True)),
        ("GET", "/api/cases/<case_id>/periods", {}, 200, for_case_a()),
        ("POST", "/api/cases/<case_id>/periods", {"json": {"kind": "extension", "days": 30, "approved_by": "局长",
                                                           "reason": "案情复杂"}}, 201, for_case_a(write=True)),
        ("POST", "/api/cases/<case_id>/periods/<int:period_id>/end", {"p": w["period"],
                                                                       "json": {"end_on": "2026-08-20"}}, 200,
         for_case_a(write=True)),
        ("POST", "/api/cases/<case_id>/stages", {"json": {"stage": "investigation",
                                                          "completed_at": "2026-08-20T10:00:00+08:00"}}, 201,
         for_case_a(write=True)),
        ("GET", "/api/complaints", {}, 200, only(HANDLERS)),
        ("POST", "/api/complaints", {"json": {"received_at": "2026-09-02T09:00:00+08:00", "complainant": "李某",
                                              "text": "反映", "agency": "A-SJJ"}}, 201,
         lambda who, ok: ok if who in {"complaints_a", "district_a", "city"} else 404 if who == "district_b" else 403),
        ("GET", "/api/complaints/<int:complaint_id>", {"k": w["complaint"]}, 200, complaint_item),
        ("POST", "/api/complaints/<int:complaint_id>/links", {"k": w["complaint"], "json": {"case_id": c}}, 201,
         complaint_item),
        ("POST", "/api/complaints/<int:complaint_id>/steps", {"k": w["complaint"], "json": {
            "done_on": dt.datetime.now(SHANGHAI).date().isoformat(), "text": "调阅案卷"}}, 201, complaint_item),
        ("POST", "/api/complaints/<int:complaint_id>/attachments", {"k": w["complaint"], "data": {
            "file": (io.BytesIO(pdf), "举报信.pdf")}}, 201, complaint_item),
        ("GET", "/api/complaints/<int:complaint_id>/attachments/<attachment_id>",
         {"k": w["complaint"], "att": w["attachment"]}, 200, complaint_item),
        ("POST", "/api/complaints/<int:complaint_id>/close", {"k": w["complaint"], "json": {
            "handling": "调阅核实", "outcome": "不属实"}}, 200, complaint_item),
        ("GET", "/api/documents/<doc_id>", {"doc": d1}, 200, for_case_a()),
        ("POST", "/api/documents/<doc_id>/amendments", {"doc": d2, "data": {
            "reason": "笔误", "file": (io.BytesIO(pdf), "更正.pdf")}}, 201, for_case_a(write=True)),
        ("GET", "/api/documents/<doc_id>/content", {"doc": d1}, 200, for_case_a()),
        # a PDF has no rendition: the same 404 for its readers as for those who cannot see it
        ("GET", "/api/documents/<doc_id>/rendition", {"doc": d1}, 404, for_case_a()),
        ("GET", "/api/documents/<doc_id>/versions", {"doc": d1}, 200, for_case_a()),
        ("GET", "/api/fixity/report", {}, 200, only({"legal_a", "district_a", "district_b", "city", "auditor"})),
        ("GET", "/api/stats/performance", {}, 200,
         only({"clerk_a", "clerk_ay", "clerk_b", "legal_a", "district_a", "district_b", "city", "auditor"})),
        ("GET", "/api/stats/scores", {"query_string": {"month": "2026-10"}}, 200,
         only({"clerk_a", "clerk_ay", "clerk_b", "legal_a", "district_a", "district_b", "city", "auditor"})),
        ("GET", "/api/reports/monthly", {"query_string": {"month": "2026-10", "format": "csv"}}, 200,
         only({"clerk_a", "clerk_ay", "clerk_b", "legal_a", "district_a", "district_b", "city", "auditor"})),
        ("GET", "/api/stats/daily-use", {"query_string": {"month": "2026-10"}}, 200, only(STATS)),
        ("GET", "/api/stats/thresholds", {}, 200,
         only({"clerk_a", "clerk_ay", "clerk_b", "legal_a", "district_a", "district_b", "city", "auditor"})),
        ("PUT", "/api/stats/thresholds/<int:year>", {"year": 2026, "json": {"threshold": 0.6}}, 200, only({"city"})),
        ("GET", "/api/basic-info/<any(powers, officers, plans, trainings, exams):kind>", {"kind": "officers"}, 200, only(STATS)),
        ("POST", "/api/basic-info/<any(powers, officers, plans, trainings, exams):kind>/import", {"kind": "officers", "data": {
            "file": (io.BytesIO(OFFICER_A), "officers.csv")}}, 200, basic_import),
        ("GET", "/api/basic-info/changes", {}, 200, only(STATS)),
        ("POST", "/api/basic-info/changes", {"data": {"kind": "officers", "effective_on": "2026-11-20", "reason": "调入",
                                                      "file": (io.BytesIO(OFFICER_A), "officers.csv")}}, 201, change_submit),
        ("GET", "/api/basic-info/changes/<int:change_id>", {"ch": w["change"]}, 200, change_read),
        ("POST", "/api/basic-info/changes/<int:change_id>/decision", {"ch": w["change"], "json": {
            "approve": False, "note": "退回"}}, 200, change_decide),
        ("GET", "/api/filings", {}, 200, only({"district_a", "district_b", "city", "auditor"})),
        # case A is no major case with a filed 备案: readers get 404 as for a missing one
        ("GET", "/api/filings/<case_id>", {}, 200, lambda who, ok: 404 if who in {"district_a", "district_b", "city",
                                                                                  "auditor"} else 403),
        ("POST", "/api/filings/<case_id>/review", {"json": {}}, 201,
         lambda who, ok: 404 if who in {"district_a", "district_b"} else 403),
        ("GET", "/api/tasks", {}, 200, only(TASK_READERS | {"clerk_ay", "clerk_b", "district_b"})),
        ("POST", "/api/tasks", {"data": {"assignee": "A-SJJ", "subject": "核查", "text": "请核查", "due_days": "3"}}, 201,
         task_create),
        ("GET", "/api/tasks/<int:task_id>", {"t": w["task"]}, 200, only(TASK_READERS, 404)),
        ("GET", "/api/tasks/<int:task_id>/attachments/<attachment_id>", {"t": w["task"], "att": w["task_file"]}, 200,
         only(TASK_READERS, 404)),
        ("POST", "/api/tasks/<int:task_id>/answer", {"t": w["task"], "data": {"text": "已核查"}}, 200, task_answer),
        ("POST", "/api/tasks/<int:task_id>/decision", {"t": w["answered_task"], "json": {"accept": True}}, 200,
         task_decide),
        ("GET", "/api/forms", {}, 200, everyone),
        ("GET", "/api/health", {}, 200, everyone),
        ("GET", "/api/openapi.json", {}, 200, everyone),
        ("GET", "/api/organisations", {}, 200, everyone),
        ("GET", "/api/reviews", {}, 200, only({"reviewer", "district_a", "district_b", "city", "auditor"})),
        ("GET", "/api/reviews/<int:review_id>", {"r": w["review"]}, 200, only(REVIEW_READERS_A, 404)),
        ("POST", "/api/reviews/<int:review_id>", {"r": w["review"], "json": {"vetoed": [], "deductions": []}}, 200,
         review_submit),
        ("POST", "/api/reviews/conflicts", {"json": {"agency": "B-SJJ", "reason": "曾在该局任职"}}, 201,
         only({"reviewer"})),
        ("GET", "/api/sampling/plans", {}, 200, only(PLAN_READERS)),
        ("POST", "/api/sampling/plans", {"json": {"name": "新计划", "period_start": "2026-08-01",
                                                  "period_end": "2026-08-31", "kinds": ["penalty"], "count": 1,
                                                  "review_deadline": "2099-12-31"}}, 201, only({"city"})),
        ("GET", "/api/sampling/plans/<int:plan_id>", {"pl": w["plan"]}, 200, only(PLAN_READERS, 404)),
        ("POST", "/api/sampling/plans/<int:plan_id>/draw", {"pl": w["empty"], "json": {"seed": "x"}}, 200,
         plan_draw),
        ("POST", "/api/sampling/plans/<int:plan_id>/freeze", {"pl": w["draft"]}, 200, plan_draw),
        ("POST", "/api/sampling/plans/<int:plan_id>/withdraw", {"pl": w["draft"], "json": {"reason": "计划有误"}}, 200,
         plan_draw),  # (frozen by the row before)
        ("GET", "/api/sampling/plans/<int:plan_id>/results", {"pl": w["plan"]}, 200, only(PLAN_READERS, 404)),
        ("GET", "/api/search", {"query_string": {"q": "立案"}}, 200, not_admins),
        ("GET", "/api/warnings", {}, 200, everyone),
        ("POST", "/api/warnings/<int:warning_id>/handle", {"wid": w["warning"], "json": {"note": "已整改"}}, 200,
         warning_handle),
        ("GET", "/api/warnings/summary", {}, 200, everyone),
        ("POST", "/api/warnings/handle", {"json": {"ids": [w["warning"]], "note": "已整改"}}, 200, warning_handle),
        ("GET", "/api/cases/<case_id>/corrections", {}, 200, for_case_a()),
        ("POST", "/api/cases/<case_id>/corrections", {"json": {"field": "opened_on", "new_value": "2026-08-01",
                                                               "reason": "录入错误"}}, 201, for_case_a(write=True)),
        ("POST", "/api/case-corrections/<int:correction_id>/decision",
         {"cc": w["correction"], "json": {"approve": False, "note": "不予更正"}}, 200, decision),
        # 归档 and its four-property checks: case A is not closed, so its writers are told (422)
        ("POST", "/api/cases/<case_id>/archive", {}, 422, for_case_a(write=True)),
        ("GET", "/api/cases/<case_id>/checks", {}, 200, for_case_a()),
        # 消息 (everyone's own) and 简报 (offices publish; agencies' people and offices read)
        ("GET", "/api/notifications", {}, 200, everyone),
        ("POST", "/api/notifications/<int:notification_id>/read", {"nid": 999999}, 404, everyone),
        ("GET", "/api/notifications/settings", {}, 200, everyone),
        ("PUT", "/api/notifications/settings", {"json": {"modes": {"task": "digest"}}}, 200, everyone),
        ("GET", "/api/briefings", {}, 200, only(BRIEFING_READERS)),
        ("POST", "/api/briefings", {"json": {"month": "2026-11"}}, 201, only(OFFICES)),
        ("GET", "/api/briefings/<int:pub_id>", {"pub": 999999}, 404, everyone),
        ("GET", "/api/briefings/<int:pub_id>/content", {"pub": 999999}, 404, everyone),
        # 鉴定与销毁: the offices'; case A is not filed (409 for the offices that see it)
        ("GET", "/api/appraisal/due", {}, 200, only(OFFICES)),
        ("GET", "/api/appraisal/disposals", {}, 200, only(OFFICES)),
        ("GET", "/api/appraisal/cases/<case_id>", {}, 200, for_case_a()),
        ("POST", "/api/appraisal/cases/<case_id>/keep", {"json": {"period": "D10", "reason": "有保存价值"}}, 409,
         lambda who, ok: 403 if who not in OFFICES else 404 if who == "district_b" else ok),
        ("POST", "/api/appraisal/cases/<case_id>/dispose", {"json": {"reason": "保管期满"}}, 409,
         lambda who, ok: 403 if who not in OFFICES else 404 if who == "district_b" else ok),
        ("GET", "/api/appraisal/disposals/<int:appraisal_id>", {"ap": 999999}, 404, only(OFFICES)),
        ("POST", "/api/appraisal/disposals/<int:appraisal_id>/decision", {"ap": 999999, "json": {"approve": True}},
         404, only(OFFICES)),
        ("GET", "/api/documents/<doc_id>/metadata", {"doc": d1}, 200, for_case_a()),
        ("PUT", "/api/documents/<doc_id>/metadata", {"doc": d1, "json": {"题名": "立案审批表（更正题名）"}}, 200,
         for_case_a(write=True)),
        # accounts (三权分立): the system administrator's business accounts; the security
        # administrator's roles, locks and second factors
        ("GET", "/api/users", {}, 200, only({"sysadmin", "secadmin"})),
        ("POST", "/api/users", {"json": {"username": "new_clerk", "display_name": "新科员", "role": "agency_clerk",
                                         "scope_code": "A-SJJ"}}, 201, only({"sysadmin"})),
        ("POST", "/api/users/<username>/unlock", {"user": "clerk_b"}, 200, only({"secadmin"})),
        ("POST", "/api/users/<username>/mfa-reset", {"user": "clerk_b"}, 200, only({"secadmin"})),
        ("POST", "/api/users/<username>/role", {"user": "clerk_b", "json": {"role": "agency_legal",
                                                                             "scope_code": "B-SJJ"}}, 200,
         only({"secadmin"})),
    ]


def _path(rule: str, w: dict, kw: dict) -> str:
    ids = {"<case_id>": w["case"], "<doc_id>": kw.pop("doc", None), "<int:amendment_id>": kw.pop("a", None),
           "<int:period_id>": kw.pop("p", None), "<int:complaint_id>": kw.pop("k", None),
           "<int:review_id>": kw.pop("r", None), "<int:plan_id>": kw.pop("pl", None),
           "<int:warning_id>": kw.pop("wid", None), "<attachment_id>": kw.pop("att", None),
           "<int:year>": kw.pop("year", None), "<any(powers, officers, plans, trainings, exams):kind>": kw.pop("kind", None),
           "<int:change_id>": kw.pop("ch", None), "<int:task_id>": kw.pop("t", None),
           "<int:correction_id>": kw.pop("cc", None), "<username>": kw.pop("user", None),
           "<int:appraisal_id>": kw.pop("ap", None), "<int:notification_id>": kw.pop("nid", None),
           "<int:pub_id>": kw.pop("pub", None)}
    for placeholder, value in ids.items():
        if placeholder in rule:
            rule = rule.replace(placeholder, str(value))
    return rule


def test_the_matrix_covers_every_api_route(app, world):
    listed = {(m, r) for m, r, *_ in routes(world)}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                assert (method, rule.rule) in listed, f"{method} {rule.rule} has no row in the matrix"


@pytest.mark.parametrize("who", ROLES)
def test_every_route_answers_each_role_as_promised(app, archive, world, who):
    c = client_as(app, who)
    for method, rule, kwargs, ok, expect in routes(world):
        kw = dict(kwargs)
        path = _path(rule, world, kw)
        if "data" in kw:
            kw["content_type"] = "multipart/form-data"
        with archive.sessions() as s:
            before = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access.refused"))
        r = c.open(path, method=method, **kw)
        wanted = expect(who, ok)
        assert r.status_code == wanted, (who, method, rule, r.status_code, r.get_data(as_text=True)[:300])
        assert not security_header_problems(r, path), security_header_problems(r, path)
        if wanted in (403, 404):
            body = r.get_json()
            assert body["code"] == wanted and body["message"], (who, rule)
            with archive.sessions() as s:
                after = s.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action == "access.refused"))
            assert after == before + 1, (who, method, rule, "every refusal is audited once")
