"""Every page route × every demo account, with the exact status: the pages' twin of the API's
matrix (``test_policy_matrix``). 404 (the Chinese page) for what lies outside the caller's scope,
403 for what it sees but its role may not do, the page (200) or the redirect after a form (303)
otherwise; 422 where the role may act but the data given is not its to give. A page route added
without a row here fails the test."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from archive.demo.documents import make_pdf
from archive.models import AuditEntry
from archive.clock import SHANGHAI
from tests.conftest import ACCOUNTS, client_as, security_header_problems
from tests.integration.test_policy_matrix import _path as api_path, for_case_a
from tests.integration.test_policy_matrix import (  # noqa: F401,F811  (world: the API matrix's fixture)
    ADMINS, AUDIT_READERS, BRIEFING_READERS, HANDLERS, OFFICER_A, OFFICES, PLAN_READERS, READS_A, REVIEW_READERS_A, SCOPE_A, STATS, TASK_READERS,
    WRITERS_A, world,
)

ROLES = [a[0] for a in ACCOUNTS]
# refusals a form shows next to its fields (the account form: a role or organisation the caller
# does not manage) rather than as the 没有权限 page; audited all the same
INLINE = {("POST", "/accounts")}
ALL = set(ROLES)
FILING_READERS = {"district_a", "district_b", "city", "auditor"}
WARNING_READERS = {"clerk_a", "clerk_ay", "clerk_b", "legal_a", "district_a", "district_b", "city", "auditor"}
TASK_ROLES = WARNING_READERS


def table(**statuses):
    """An expectation: the status of each account named, ``rest`` for the others."""
    rest = statuses.pop("rest")
    return lambda who: statuses.get(who, rest)


def of(allowed: set[str], ok: int, otherwise: int = 403, unseen: set[str] | None = None):
    """``ok`` for ``allowed``; 404 for ``unseen``; ``otherwise`` for the rest."""
    return lambda who: ok if who in allowed else 404 if unseen and who in unseen else otherwise


def case_a(ok: int, write: bool = False):
    """A page of case A, as the API's routes of case A: its writers (or readers) get ``ok``;
    others who see A 403 on a write; the rest 404."""
    expect = for_case_a(write)
    return lambda who: expect(who, ok)


def complaint_page(ok: int):
    return lambda who: ok if who in {"complaints_a", "district_a", "city"} else 404 if who == "district_b" else 403


def routes(w: dict) -> list[tuple[str, str, dict, object]]:
    """(method, rule, request kwargs, expectation(who) -> status) for every page route."""
    pdf = make_pdf("调查终结报告", ["调查完毕。"])
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    return [
        ("GET", "/", {}, of(ALL, 200)),
        ("GET", "/login", {}, of(ALL, 200)),
        ("POST", "/login", {"data": {"username": "nobody", "password": "x"}}, of(ALL, 400)),  # no CSRF token
        ("POST", "/logout", {}, of(ALL, 302)),
        ("GET", "/password", {}, of(ALL, 200)),  # 修改密码: everyone's own
        ("POST", "/password", {"data": {"current": "wrong", "new": "x", "again": "x"}}, of(ALL, 400)),
        # the second factor after a password: without a password just checked, back to the login
        ("GET", "/login/mfa", {}, of(ALL, 302)),
        ("POST", "/login/mfa", {"data": {"code": "123456"}}, of(ALL, 302)),
        # the idle-session timer, 安全 (everyone's own), 安全管理 (the security administrator)
        ("GET", "/session/status", {}, of(ALL, 200)),
        ("POST", "/session/keepalive", {}, of(ALL, 200)),
        ("GET", "/security", {}, of(ALL, 200)),
        ("POST", "/security/sessions/end-others", {}, of(ALL, 303)),
        ("GET", "/security/accounts", {}, of({"secadmin"}, 200)),
        ("POST", "/security/accounts/<username>/<any(unlock, mfa, role):action>",
         {"user": "clerk_b", "action": "unlock"}, of({"secadmin"}, 303)),
        ("POST", "/audit/alerts/<int:alert_id>/acknowledge", {"alert": w["alert"], "data": {"note": "已核查"}},
         of({"auditadmin"}, 303)),
        ("GET", "/favicon.ico", {}, of(ALL, 200)),
        ("GET", "/search", {"query_string": {"q": "立案"}}, of(ALL - ADMINS, 200)),
        ("GET", "/documents", {}, of(ALL, 302)),  # old addresses: to the case list
        ("GET", "/upload", {}, of(ALL, 302)),
        # cases
        ("GET", "/cases", {}, table(reviewer=302, sysadmin=403, secadmin=403, auditadmin=403, rest=200)),
        ("GET", "/cases/new", {}, of(WRITERS_A | {"clerk_ay", "clerk_b"}, 200)),
        ("POST", "/cases/new", {"data": {"number": "津武市监罚〔2026〕911号", "agency": "A-SJJ", "kind": "penalty",
                                         "procedure": "general", "power": "SJ-FOOD-124", "party_name": "某公司",
                                         "party_type": "organisation", "opened_on": "2026-09-01"}},
         table(clerk_a=302, legal_a=302, clerk_ay=422, clerk_b=422, rest=403)),
        ("GET", "/cases/<case_id>", {}, case_a(200)),
        ("POST", "/cases/<case_id>/stages", {"data": {"stage": "investigation",
                                                      "completed_at": "2026-08-20T10:00"}}, case_a(302, write=True)),
        ("POST", "/cases/<case_id>/periods", {"data": {"kind": "extension", "days": "30", "approved_by": "局长",
                                                       "reason": "案情复杂"}}, case_a(302, write=True)),
        ("POST", "/cases/<case_id>/periods/<int:period_id>/end", {"p": w["period"], "data": {"end_on": "2026-08-20"}},
         case_a(302, write=True)),
        ("POST", "/cases/<case_id>/upload", {"data": {"stage": "filing", "form": "filing_approval",
                                                      "file": (io.BytesIO(pdf), "a.pdf")}}, case_a(303, write=True)),
        ("POST", "/cases/<case_id>/archive", {}, case_a(303, write=True)),  # not closed: the page says so
        ("GET", "/cases/<case_id>/checks/<int:check_id>", {"check": w["check"]}, case_a(200)),
        ("GET", "/cases/<case_id>/checks/<int:check_id>.pdf", {"check": w["check"]}, case_a(200)),
        ("POST", "/cases/<case_id>/corrections", {"data": {"field": "opened_on", "new_value": "2026-08-01",
                                                           "reason": "录入错误"}}, case_a(303, write=True)),
        ("POST", "/case-corrections/<int:correction_id>/decision", {"cc": w["correction"], "data": {
            "decision": "reject", "note": "不予更正"}},
         lambda who: 303 if who == "district_a" else 403 if who in SCOPE_A else 404),
        # documents and amendments
        ("GET", "/documents/<doc_id>", {"doc": w["doc1"]}, case_a(200)),
        ("POST", "/documents/<doc_id>/metadata", {"doc": w["doc1"], "data": {"题名": "立案审批表（更正题名）"}},
         case_a(303, write=True)),
        ("POST", "/documents/<doc_id>/amend", {"doc": w["doc2"], "data": {
            "reason": "笔误", "file": (io.BytesIO(pdf), "更正.pdf")}}, case_a(303, write=True)),
        ("GET", "/amendments", {}, of(ALL, 200)),  # as GET /api/amendments: a list within the scope
        ("GET", "/amendments/<int:amendment_id>", {"a": w["amendment"]}, of(SCOPE_A, 200, otherwise=404)),
        ("POST", "/amendments/<int:amendment_id>/decide", {"a": w["amendment"], "data": {
            "decision": "reject", "note": "不予更正"}},
         lambda who: 303 if who == "district_a" else 403 if who in SCOPE_A else 404),
        # warnings
        ("GET", "/warnings", {}, of(ALL, 200)),  # as GET /api/warnings: a list within the scope
        ("GET", "/warnings/<int:warning_id>", {"wid": w["warning"]}, of(SCOPE_A, 200, otherwise=404)),
        ("POST", "/warnings/<int:warning_id>/handle", {"wid": w["warning"], "data": {"note": "已整改"}},
         lambda who: 303 if who == "legal_a" else 403 if who in SCOPE_A else 404),
        ("POST", "/warnings/handle", {"data": {"ids": [str(w["warning"])], "note": "已整改"}},
         table(legal_a=303, rest=303)),
        # complaints
        ("GET", "/complaints", {}, of(HANDLERS, 200)),
        ("GET", "/complaints/new", {}, of(HANDLERS, 200)),
        ("POST", "/complaints/new", {"data": {"received_at": "2026-09-02T09:00", "complainant": "李某",
                                              "text": "反映", "agency": "A-SJJ"}},
         table(complaints_a=303, district_a=303, city=303, district_b=422, rest=403)),
        ("GET", "/complaints/<int:complaint_id>", {"k": w["complaint"]}, complaint_page(200)),
        ("POST", "/complaints/<int:complaint_id>/links", {"k": w["complaint"], "data": {"case_id": w["case"]}},
         complaint_page(303)),
        ("POST", "/complaints/<int:complaint_id>/steps", {"k": w["complaint"], "data": {
            "done_on": today, "text": "调阅案卷"}}, complaint_page(303)),
        ("POST", "/complaints/<int:complaint_id>/attachments", {"k": w["complaint"], "data": {
            "file": (io.BytesIO(pdf), "举报信.pdf")}}, complaint_page(303)),
        ("POST", "/complaints/<int:complaint_id>/close", {"k": w["complaint"], "data": {
            "handling": "调阅核实", "outcome": "不属实"}}, complaint_page(303)),
        # tasks
        ("GET", "/tasks", {}, of(TASK_ROLES, 200)),
        ("GET", "/tasks/new", {}, of({"district_a", "district_b", "city"}, 200)),
        ("POST", "/tasks/new", {"data": {"assignee": "A-SJJ", "subject": "核查", "text": "请核查", "due_days": "3"}},
         table(district_a=303, district_b=422, city=422, rest=403)),
        ("GET", "/tasks/<int:task_id>", {"t": w["task"]},
         lambda who: 200 if who in TASK_READERS else 403 if who not in TASK_ROLES else 404),
        ("POST", "/tasks/<int:task_id>", {"t": w["task"], "data": {"action": "answer", "text": "已核查"}},
         lambda who: 303 if who in {"clerk_a", "legal_a"} else 403 if who in TASK_READERS or who not in TASK_ROLES
         else 404),
        # sampling and reviews
        ("GET", "/sampling", {}, of(PLAN_READERS, 200)),
        ("GET", "/sampling/new", {}, of({"city"}, 200)),
        ("POST", "/sampling/new", {"data": {"name": "新计划", "period_start": "2026-08-01", "period_end": "2026-08-31",
                                            "kinds": "penalty", "mode": "count", "count": "1",
                                            "review_deadline": "2099-12-31"}}, of({"city"}, 303)),
        ("GET", "/sampling/<int:plan_id>", {"pl": w["plan"]}, of(PLAN_READERS, 200, otherwise=404)),
        ("GET", "/sampling/<int:plan_id>/results", {"pl": w["plan"]}, of(PLAN_READERS, 200, otherwise=404)),
        ("GET", "/sampling/<int:plan_id>/verify", {"pl": w["plan"]}, of(PLAN_READERS, 200, otherwise=404)),
        ("GET", "/sampling/<int:plan_id>/verify/<any(populations, result):what>.json", {"pl": w["plan"],
                                                                                         "what": "result"},
         of(PLAN_READERS, 200, otherwise=404)),
        ("POST", "/sampling/<int:plan_id>/freeze", {"pl": w["draft"]},
         lambda who: 303 if who == "city" else 403 if who in PLAN_READERS else 404),
        ("POST", "/sampling/<int:plan_id>/withdraw", {"pl": w["draft"], "data": {"reason": "计划有误"}},
         lambda who: 303 if who == "city" else 403 if who in PLAN_READERS else 404),
        ("POST", "/sampling/<int:plan_id>/draw", {"pl": w["empty"], "data": {"seed": "x"}},
         lambda who: 303 if who == "city" else 403 if who in PLAN_READERS else 404),
        ("GET", "/reviews", {}, table(reviewer=200, district_a=302, district_b=302, city=302, auditor=302, rest=403)),
        ("GET", "/reviews/<int:review_id>", {"r": w["review"]}, of(REVIEW_READERS_A, 200, otherwise=404)),
        ("POST", "/reviews/<int:review_id>", {"r": w["review"], "data": {"action": "save"}},
         lambda who: 303 if who == "reviewer" else 403 if who in REVIEW_READERS_A else 404),
        ("POST", "/reviews/conflicts", {"data": {"scope": "agency", "agency": "B-SJJ", "reason": "曾在该局任职"}},
         of({"reviewer"}, 303)),
        # supervision figures, registry, fixity, audit, accounts, calendar
        ("GET", "/filings", {}, of(FILING_READERS, 200)),
        ("GET", "/filings/<case_id>", {}, lambda who: 404 if who in FILING_READERS else 403),
        ("POST", "/filings/<case_id>", {"data": {}},  # as POST /api/filings/<case_id>/review
         lambda who: 404 if who in {"district_a", "district_b"} else 403),
        ("GET", "/stats/performance", {}, of(STATS, 200)),
        ("GET", "/stats/scores", {"query_string": {"month": "2026-10"}}, of(STATS, 200)),
        ("GET", "/stats/daily-use", {"query_string": {"month": "2026-10"}}, of(STATS, 200)),
        ("GET", "/stats/charts/<name>.png", {"name": "scores", "query_string": {"month": "2026-10"}}, of(STATS, 200)),
        ("POST", "/stats/thresholds/<int:year>", {"year": 2026, "data": {"percent": "60"}}, of({"city"}, 303)),
        ("GET", "/basic-info", {}, of(STATS, 200)),
        ("GET", "/stats/training", {"query_string": {"year": "2026"}}, of(STATS, 200)),
        ("POST", "/basic-info/entry", {"data": {"kind": "trainings", "agency": "A-SJJ", "certificate_no": "12010001",
                                                "name": "张明", "course": "执法培训", "organiser": "区司法局",
                                                "start_on": "2026-03-02", "end_on": "2026-03-03", "hours": "16"}},
         table(district_a=303, city=303, district_b=422, rest=403)),
        ("GET", "/basic-info/template/<any(powers, officers, plans, trainings, exams):kind>.csv", {"kind": "officers"}, of(STATS, 200)),
        ("POST", "/basic-info/import", {"data": {"kind": "officers", "file": (io.BytesIO(OFFICER_A), "officers.csv")}},
         table(district_a=303, city=303, district_b=422, rest=403)),
        ("GET", "/basic-info/changes", {}, of(STATS, 200)),
        ("POST", "/basic-info/changes", {"data": {"kind": "officers", "effective_on": "2026-11-20", "reason": "调入",
                                                  "file": (io.BytesIO(OFFICER_A), "officers.csv")}},
         table(clerk_a=303, legal_a=303, clerk_ay=422, clerk_b=422, rest=403)),
        ("GET", "/basic-info/changes/<int:change_id>", {"ch": w["change"]},
         lambda who: 403 if who in ("reviewer", "complaints_a") or who in ADMINS else 200 if who in SCOPE_A else 404),
        ("POST", "/basic-info/changes/<int:change_id>", {"ch": w["change"], "data": {"decision": "reject",
                                                                                       "note": "退回"}},
         lambda who: 403 if who in ("reviewer", "complaints_a") or who in ADMINS else 303 if who == "district_a"
         else 403 if who in SCOPE_A else 404),
        # 移交: the district office's; a package that is not there is the 404 page, for its officers too
        ("GET", "/transfers", {}, of({"district_a", "district_b"}, 200)),
        ("POST", "/transfers/export", {"data": {"agency": "A-SJJ", "year": "2026"}},
         table(district_a=303, district_b=404, rest=403)),  # nothing filed yet: the page says so
        ("GET", "/transfers/<name>", {"name": "A-SJJ-2026-20260101T000000"},
         of(set(), 200, unseen={"district_a", "district_b"})),
        ("GET", "/transfers/<name>.zip", {"name": "A-SJJ-2026-20260101T000000"},
         of(set(), 200, unseen={"district_a", "district_b"})),
        ("POST", "/transfers/<name>/accept", {"name": "A-SJJ-2026-20260101T000000"},
         of(set(), 303, unseen={"district_a", "district_b"})),
        # 操作手册: every chapter for everyone
        ("GET", "/help", {}, of(ALL, 200)),
        ("GET", "/help/<role>", {"role": "agency_clerk"}, of(ALL, 200)),
        ("GET", "/help/<role>.pdf", {"role": "security_admin"}, of(ALL, 200)),
        ("GET", "/help/shots/<name>", {"name": "security-own-page.png"}, of(ALL, 200)),
        # 消息 (everyone's own) and 简报
        ("GET", "/notifications", {}, of(ALL, 200)),
        ("GET", "/notifications/<int:notification_id>/open", {"nid": 999999}, of(set(), 200, unseen=ALL)),
        ("POST", "/notifications/read", {}, of(ALL, 303)),
        ("POST", "/notifications/settings", {"data": {"email": "", "mode_task": "digest"}}, of(ALL, 303)),
        ("GET", "/briefings", {}, of(BRIEFING_READERS, 200)),
        ("POST", "/briefings", {"data": {"month": "2026-11"}}, of(OFFICES, 303)),
        ("GET", "/briefings/<int:pub_id>", {"pub": 999999}, of(set(), 200, unseen=ALL)),
        # 鉴定与销毁: the offices'; case A is not filed (the page says so: 303 back to the list)
        ("GET", "/appraisal", {}, of(OFFICES, 200)),
        ("GET", "/appraisal/register", {}, of(OFFICES, 200)),
        ("POST", "/appraisal/cases/<case_id>/keep", {"data": {"period": "D10", "reason": "有保存价值"}},
         table(district_a=303, city=303, district_b=404, rest=403)),
        ("POST", "/appraisal/cases/<case_id>/dispose", {"data": {"reason": "保管期满"}},
         table(district_a=303, city=303, district_b=404, rest=403)),
        ("GET", "/appraisal/disposals/<int:appraisal_id>", {"ap": 999999}, of(set(), 200, unseen=OFFICES)),
        ("POST", "/appraisal/disposals/<int:appraisal_id>/decision", {"ap": 999999, "data": {"approve": "1"}},
         of(set(), 303, unseen=OFFICES)),
        ("GET", "/fixity", {}, of({"legal_a", "district_a", "district_b", "city", "auditor"}, 200)),
        ("GET", "/audit", {}, of(AUDIT_READERS, 200)),
        ("GET", "/accounts", {}, of({"sysadmin"}, 200)),
        ("POST", "/accounts", {"data": {"username": "new_clerk", "display_name": "新科员", "role": "agency_clerk",
                                        "scope_code": "A-SJJ"}}, table(sysadmin=200, rest=403)),
        ("POST", "/accounts/<username>/<any(disable, password, sessions):action>",
         {"user": "clerk_a", "action": "sessions"}, of({"sysadmin"}, 303)),
        ("GET", "/calendar", {}, of({"sysadmin"}, 200)),
        ("POST", "/calendar", {"data": {"year": "2031", "holidays": "2031-01-01", "workdays": ""}},
         of({"sysadmin"}, 200)),
    ]


def _path(rule: str, w: dict, kw: dict) -> str:
    """The API matrix's ids, and the pages' own placeholders."""
    for placeholder, key in (("<role>", "role"), ("<username>", "user"), ("<any(disable, password, sessions):action>", "action"),
                             ("<any(unlock, mfa, role):action>", "action"), ("<int:alert_id>", "alert"),
                             ("<int:check_id>", "check"),
                             ("<any(populations, result):what>", "what"), ("<name>", "name")):
        if placeholder in rule:
            rule = rule.replace(placeholder, str(kw.pop(key)))
    return api_path(rule, w, kw)


def page_rules(app) -> set[tuple[str, str]]:
    return {(m, r.rule) for r in app.url_map.iter_rules()
            if not r.rule.startswith(("/api/", "/static/")) for m in (r.methods or set()) - {"HEAD", "OPTIONS"}}


def test_the_matrix_covers_every_page_route(app, world):
    listed = {(m, r) for m, r, *_ in routes(world)}
    for method, rule in sorted(page_rules(app)):
        assert (method, rule) in listed, f"{method} {rule} has no row in the page matrix"
    assert listed <= page_rules(app), sorted(listed - page_rules(app))  # no row for a route that is gone


@pytest.mark.parametrize("who", ROLES)
def test_every_page_answers_each_role_as_promised(app, archive, world, who):
    c = client_as(app, who)
    wrong = []
    for method, rule, kwargs, expect in routes(world):
        kw = dict(kwargs)
        path = _path(rule, world, kw)
        if "data" in kw and any(isinstance(v, tuple) for v in kw["data"].values()):
            kw["content_type"] = "multipart/form-data"
        with archive.sessions() as s:
            before = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access.refused"))
        r = c.open(path, method=method, **kw)
        wanted = expect(who)
        wrong += security_header_problems(r, path)
        if r.status_code != wanted:
            wrong.append((method, rule, r.status_code, wanted))
            continue
        if wanted in (403, 404) and not rule.startswith("/login"):
            html = r.get_data(as_text=True)
            shown = "不能" if (method, rule) in INLINE else "没有权限" if wanted == 403 else "找不到这个页面"
            assert r.mimetype == "text/html" and shown in html, (who, rule)
            with archive.sessions() as s:
                after = s.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action == "access.refused"))
            assert after == before + 1, (who, method, rule, "every refusal is audited once")
    assert not wrong, (who, wrong)


# Each list page and the API list it shows: a role refused one is refused the other.
TWINS = [("/sampling", "/api/sampling/plans"), ("/complaints", "/api/complaints"), ("/tasks", "/api/tasks"),
         ("/filings", "/api/filings"), ("/warnings", "/api/warnings"), ("/amendments", "/api/amendments"),
         ("/stats/performance", "/api/stats/performance"), ("/basic-info", "/api/basic-info/officers"),
         ("/fixity", "/api/fixity/report"), ("/audit", "/api/audit"), ("/reviews", "/api/reviews"),
         ("/cases", "/api/cases"), ("/search?q=立案", "/api/search?q=立案")]


@pytest.mark.parametrize("who", ROLES)
def test_pages_and_api_refuse_the_same_roles(app, tokens, who):
    c = client_as(app, who)
    for page, api in TWINS:
        p, a = c.get(page).status_code, c.get(api).status_code
        assert (p == 403) == (a == 403), (who, page, p, api, a)
        assert p in (200, 302, 403) and a in (200, 403), (who, page, p, api, a)
