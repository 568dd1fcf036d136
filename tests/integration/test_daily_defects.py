"""Defects users met every day (issue 26), each with the test that failed before its fix."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from archive.demo.documents import make_pdf
from tests.conftest import client_as, concurrently, drain, new_case, record_stage, upload


@pytest.fixture
def decided(app, client):
    """A case of agency A with a decision completed 2026-03-20 whose PDF is indexed."""
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    doc = upload(client, case["id"], make_pdf("行政处罚决定书", ["决定：责令停产停业，并处罚款。"]),
                 filename="决定书.pdf").get_json()
    drain(app.extensions["archive"])
    return case, doc


# -- 1. no input answers 500 -------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["tantivy", "whoosh"])
def test_a_date_filter_open_at_one_end_works_in_the_api_and_the_page(make_app, engine):
    from tests.conftest import authorize

    app = make_app(SEARCH_ENGINE=engine)
    authorize(app)
    city = client_as(app, "city")
    case = new_case(city)
    assert record_stage(city, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    upload(city, case["id"], make_pdf("行政处罚决定书", ["决定：责令停产停业。"]), filename="决定书.pdf")
    drain(app.extensions["archive"])
    for query, total in (({"from": "2026-03-01"}, 1), ({"to": "2026-03-19"}, 0), ({"to": "2026-03-20"}, 1),
                         ({"from": "2026-03-21"}, 0)):
        r = city.get("/api/search", query_string={"q": "停产停业", **query})
        assert r.status_code == 200, (query, r.get_json())
        assert r.get_json()["total"] == total, query
        page = city.get("/search", query_string={"q": "停产停业", **query})
        assert page.status_code == 200, query
        assert re.search(r"共 <strong>(\d+)</strong> 份文书", page.get_data(as_text=True)).group(1) == str(total)


def test_a_month_outside_the_archives_years_is_a_422_naming_the_field(app, client, tokens):
    city = client_as(app, "city")
    for path in ("/api/stats/scores", "/api/stats/daily-use", "/api/reports/monthly"):
        for month in ("0001-01", "9270-12", "1999-12", "2200-01"):
            r = city.get(path, query_string={"month": month})
            assert r.status_code == 422, (path, month, r.status_code)
            body = r.get_json()
            message = str(body["errors"])
            assert "month" in message and "月份应在" in message, body
        assert city.get(path, query_string={"month": "2026-02"}).status_code == 200, path
    # the page falls back to the last whole month instead of failing
    assert city.get("/stats/scores", query_string={"month": "0001-01"}).status_code == 200


def test_without_a_chinese_font_binders_and_charts_answer_503_and_health_says_why(app, client, decided,
                                                                                monkeypatch):
    from archive.casefile import fonts
    from archive.services import charts

    case, _ = decided
    assert client.get("/api/health").get_json()["font"]["ok"] is True

    def no_font():
        raise fonts.FontMissing("no Chinese font (test)")

    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    monkeypatch.setattr(charts, "font_family", no_font)
    binder = client.get(f"/api/cases/{case['id']}/binder.pdf")
    assert binder.status_code == 503, binder.status_code
    assert "中文字体" in binder.get_json()["message"]
    chart = client.get("/stats/charts/scores.png", query_string={"month": "2026-03"})
    assert chart.status_code == 503 and "中文字体" in chart.get_data(as_text=True)
    health = client.get("/api/health").get_json()
    assert health["font"]["ok"] is False and "fonts-noto-cjk" in health["font"]["error"]
    assert health["status"] == "degraded"


# -- 3. warnings a person can work through ------------------------------------------------------

def test_late_files_of_one_stage_and_day_are_one_warning_that_names_each(app, archive, client, monkeypatch):
    from sqlalchemy import select

    from archive.models import WarningRecord

    monkeypatch.setattr("archive.deadlines.warnings.server_now",
                        lambda: dt.datetime(2026, 11, 10, 9, tzinfo=dt.timezone.utc))
    case = new_case(client, number="津武市监罚〔2026〕410号")
    assert record_stage(client, case["id"], "investigation", "2026-11-02T10:00:00+08:00").status_code == 201
    answers = [upload(client, case["id"], b"%PDF-1.4 " + form.encode(), filename=f"{form}.pdf",
                      stage="investigation", form=form, record=False).get_json()
               for form in ("inquiry_record", "onsite_record", "evidence_extraction")]
    with archive.sessions() as s:
        late = s.scalars(select(WarningRecord).where(WarningRecord.case_id == case["id"],
                                                     WarningRecord.rule == "late_upload")).all()
    assert len(late) == 1, [w.message for w in late]
    assert all(name in late[0].message for name in ("《询问笔录》", "《现场笔录》", "《证据提取单》")), late[0].message
    assert "3 份文书" in late[0].message
    # each uploader is told, the last one of the whole day's list
    assert all(a["warnings"] for a in answers) and "3 份文书" in answers[-1]["warnings"][0]


def test_a_warning_raised_today_about_an_old_fact_is_not_born_overdue(app, archive, client, monkeypatch):
    from sqlalchemy import select

    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import escalate
    from archive.models import WarningRecord

    raised = dt.datetime(2026, 11, 24, 1, tzinfo=dt.timezone.utc)  # Tuesday 24 Nov, 09:00 in Beijing
    monkeypatch.setattr("archive.deadlines.warnings.server_now", lambda: raised)
    case = new_case(client, number="津武市监罚〔2026〕411号", opened_on="2026-10-08")
    # the filing approval was due on 9 Oct: the missing-document fact is six weeks old when found
    assert record_stage(client, case["id"], "filing", "2026-10-08T10:00:00+08:00").status_code == 201
    with archive.sessions() as s:
        w = s.scalars(select(WarningRecord).where(WarningRecord.case_id == case["id"])).one()
        assert w.rule == "missing_documents" and w.opened_at < raised - dt.timedelta(days=40)
        assert w.due_at > raised  # three working days from today, not from 9 Oct
        assert escalate(s, load_rules(), load_calendar(s), raised + dt.timedelta(minutes=5)) == 0
        s.refresh(w)
        assert w.level == 1


@pytest.fixture
def open_warnings(app, archive, client):
    """Three cases of agency A and one of B, each with an open missing-document warning."""
    from sqlalchemy import select

    from archive.models import WarningRecord

    ids = {}
    for i, agency in enumerate(("A-SJJ", "A-SJJ", "A-SJJ", "B-SJJ")):
        case = new_case(client, number=f"津武市监罚〔2026〕{420 + i}号", agency=agency)
        assert record_stage(client, case["id"], "filing", "2026-11-02T10:00:00+08:00").status_code == 201
        with archive.sessions() as s:
            ids.setdefault(agency, []).append(
                s.scalars(select(WarningRecord.id).where(WarningRecord.case_id == case["id"])).one())
    return ids


def test_warnings_of_one_agency_are_handled_together_with_one_note(app, archive, open_warnings):
    from archive.models import AuditEntry, WarningRecord
    from sqlalchemy import func, select

    legal = client_as(app, "legal_a")
    a, b = open_warnings["A-SJJ"], open_warnings["B-SJJ"]
    assert legal.post("/api/warnings/handle", json={"ids": a, "note": " "}).status_code == 422
    assert legal.post("/api/warnings/handle", json={"ids": [], "note": "x"}).status_code == 422
    assert legal.post("/api/warnings/handle", json={"ids": a + b, "note": "x"}).status_code == 404  # B: not in scope
    assert client_as(app, "district_a").post("/api/warnings/handle", json={"ids": a, "note": "x"}).status_code == 403
    assert client_as(app, "city").post("/api/warnings/handle", json={"ids": a + b, "note": "x"}).status_code == 422
    with archive.sessions() as s:  # nothing was handled by the refusals
        assert s.scalar(select(func.count()).select_from(WarningRecord).where(WarningRecord.status != "open")) == 0
    legal.post(f"/api/warnings/{a[0]}/handle", json={"note": "先处理了一条"})
    r = legal.post("/api/warnings/handle", json={"ids": a, "note": "已督促承办人补传立案审批表"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert sorted(w["id"] for w in body["handled"]) == a[1:]
    assert body["skipped"] == [{"id": a[0], "reason": "已处理或已自动解除"}]
    with archive.sessions() as s:
        notes = s.scalars(select(WarningRecord.handled_note).where(WarningRecord.id.in_(a[1:]))).all()
        assert notes == ["已督促承办人补传立案审批表"] * 2
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "warning.handle")) == 3


def test_concurrent_batches_handle_each_warning_once(app, archive, open_warnings):
    a = open_warnings["A-SJJ"]
    legal = [client_as(app, "legal_a") for _ in range(6)]
    out = concurrently(6, lambda i: legal[i].post("/api/warnings/handle", json={"ids": a, "note": f"批次 {i}"}))
    assert all(r.status_code == 200 for r in out), [getattr(r, "status_code", r) for r in out]
    handled = [w["id"] for r in out for w in r.get_json()["handled"]]
    assert sorted(handled) == sorted(a)  # each exactly once across the batches


def test_the_warnings_page_handles_the_ticked_ones(app, archive, open_warnings):
    from sqlalchemy import select

    from archive.models import WarningRecord
    from tests.integration.test_accounts_audit import csrf_of

    legal = client_as(app, "legal_a")
    page = legal.get("/warnings", query_string={"status": "open"}).get_data(as_text=True)
    a = open_warnings["A-SJJ"]
    for wid in a:
        assert f'name="ids" value="{wid}" form="batch"' in page
    assert "处理所选预警" in page
    r = legal.post("/warnings/handle", data={"ids": [str(x) for x in a[:2]], "note": "已统一督促补传",
                                             "csrf_token": csrf_of(page.encode())}, follow_redirects=True)
    assert r.status_code == 200 and "已处理 2 条预警" in r.get_data(as_text=True)
    r = legal.post("/warnings/handle", data={"ids": [str(a[2])], "note": "",
                                             "csrf_token": csrf_of(page.encode())}, follow_redirects=True)
    assert "未能批量处理：请写明处理情况" in r.get_data(as_text=True)
    with archive.sessions() as s:
        assert s.scalars(select(WarningRecord.status).where(WarningRecord.id == a[2])).one() == "open"
        assert set(s.scalars(select(WarningRecord.handled_note).where(WarningRecord.id.in_(a[:2])))) == {"已统一督促补传"}


# -- 2. dates that cannot be --------------------------------------------------------------------

def test_dates_that_cannot_be_are_refused_naming_the_field(app, client, tokens, monkeypatch):
    from tests.conftest import _clerk_headers

    clerk = _clerk_headers(client, "A-SJJ")
    monkeypatch.setattr("archive.services.cases.server_now",
                        lambda: dt.datetime(2026, 6, 30, 4, tzinfo=dt.timezone.utc))  # noon, 30 June 2026
    body = {"number": "津武市监罚〔2026〕430号", "agency": "A-SJJ", "kind": "penalty", "power": "SJ-FOOD-124",
            "party_name": "某公司", "summary": "x", "opened_on": "2026-07-01"}
    r = client.post("/api/cases", json=body, headers=clerk)
    assert r.status_code == 422 and "立案日期不能晚于今天" in r.get_json()["errors"]["opened_on"][0]
    case = new_case(client, number="津武市监罚〔2026〕431号", opened_on="2026-06-01")
    url = f"/api/cases/{case['id']}/stages"

    def stage(name, at):
        return client.post(url, json={"stage": name, "completed_at": at}, headers=clerk)

    for name, at, why in (("filing", "2026-05-31T10:00:00+08:00", "不能早于立案日期（2026-06-01）"),
                          ("filing", "2026-07-02T10:00:00+08:00", "不能晚于现在")):
        r = stage(name, at)
        assert r.status_code == 422 and why in r.get_json()["errors"]["completed_at"][0], r.get_json()
    assert stage("filing", "2026-06-01T10:00:00+08:00").status_code == 201
    assert stage("decision", "2026-06-20T10:00:00+08:00").status_code == 201
    r = stage("investigation", "2026-06-25T10:00:00+08:00")  # after the decision already recorded
    assert r.status_code == 422 and "不能晚于“处罚决定”环节的完成时间" in r.get_json()["errors"]["completed_at"][0]
    r = stage("execution", "2026-06-19T10:00:00+08:00")  # before the decision
    assert r.status_code == 422 and "不能早于“处罚决定”环节的完成时间" in r.get_json()["errors"]["completed_at"][0]
    assert stage("investigation", "2026-06-10T10:00:00+08:00").status_code == 201
    # the page shows the same next to the field, in Chinese
    page = client_as(app, "clerk_a")
    from tests.integration.test_accounts_audit import csrf_of

    form = page.get(f"/cases/{case['id']}").data
    r = page.post(f"/cases/{case['id']}/stages", data={"stage": "execution", "completed_at": "2026-06-19T10:00",
                                                       "csrf_token": csrf_of(form)})
    assert r.status_code == 422 and "不能早于“处罚决定”环节的完成时间" in r.get_data(as_text=True)


def test_a_reversed_range_is_said_next_to_the_field_not_answered_with_nothing(app, client, tokens):
    city, auditor = client_as(app, "city"), client_as(app, "auditor")
    for c, path, params, field in ((city, "/api/search", {"q": "罚款", "from": "2026-05-01", "to": "2026-04-01"}, "to"),
                                   (city, "/api/cases", {"opened_from": "2026-05-01", "opened_to": "2026-04-01"},
                                    "opened_to"),
                                   (auditor, "/api/audit", {"from": "2026-05-01T00:00:00+08:00",
                                                            "to": "2026-04-01T00:00:00+08:00"}, "to")):
        r = c.get(path, query_string=params)
        assert r.status_code == 422, (path, r.status_code)
        assert "结束日期早于开始日期" in str(r.get_json()["errors"]) and field in str(r.get_json()["errors"]), r.get_json()
    for c, path, params, field in ((city, "/search", {"q": "罚款", "from": "2026-05-01", "to": "2026-04-01"}, "to"),
                                   (city, "/cases", {"opened_from": "2026-05-01", "opened_to": "2026-04-01"},
                                    "opened_to"),
                                   (auditor, "/audit", {"from": "2026-05-01", "to": "2026-04-01"}, "to")):
        html = c.get(path, query_string=params).get_data(as_text=True)
        at = html.index(f'name="{field}"')
        assert "结束日期早于开始日期" in html[at:at + 400], path
        assert "共 <strong>0</strong>" not in html, path


# -- 2. duplicate uploads --------------------------------------------------------------------------

def _versions_under(archive, case_id) -> int:
    store = archive.store
    return sum(1 for _ in store.client.list_objects(store.bucket, prefix=f"cases/{case_id}/documents/",
                                                     recursive=True, include_version=True))


@pytest.mark.parametrize("size", [2_000, 3 * 1024 * 1024])
def test_a_file_the_case_holds_already_is_not_stored_again_silently(app, archive, client, size):
    import hashlib
    import os

    case = new_case(client, number=f"津武市监罚〔2026〕44{size % 7}号")
    data = b"%PDF-1.4 " + os.urandom(size)
    first = upload(client, case["id"], data, filename="决定书.pdf")
    assert first.status_code == 201
    stored = _versions_under(archive, case["id"])
    again = upload(client, case["id"], data, filename="决定书（再次）.pdf")  # streamed, no declared SHA-256
    assert again.status_code == 409, again.get_json()
    body = again.get_json()
    assert body["duplicate_of"]["id"] == first.get_json()["id"] and body["duplicate_of"]["form_name"] == "行政处罚决定书"
    assert "此文件已于" in body["errors"]["file"][0] and "《行政处罚决定书》" in body["errors"]["file"][0]
    declared = upload(client, case["id"], data, filename="x.pdf", sha256=hashlib.sha256(data).hexdigest())
    assert declared.status_code == 409
    assert _versions_under(archive, case["id"]) == stored  # refused before a byte was stored
    forced = upload(client, case["id"], data, filename="决定书（副本）.pdf", allow_duplicate="true")
    assert forced.status_code == 201, forced.get_json()
    assert _versions_under(archive, case["id"]) == stored + 1
    other = new_case(client, number=f"津武市监罚〔2026〕45{size % 7}号")  # another case may hold the same file
    assert upload(client, other["id"], data).status_code == 201


def test_two_uploads_of_one_file_at_once_store_it_once(app, archive, client):
    import os

    from sqlalchemy import func, select

    from archive.models import Document

    case = new_case(client, number="津武市监罚〔2026〕460号")
    upload(client, case["id"], b"%PDF-1.4 first")  # records the stage
    data = b"%PDF-1.4 " + os.urandom(50_000)
    clients = [client.application.test_client() for _ in range(6)]
    out = concurrently(6, lambda i: upload(clients[i], case["id"], data, filename=f"{i}.pdf", record=False))
    codes = sorted(r.status_code for r in out)
    assert codes == [201, 409, 409, 409, 409, 409], codes
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document).where(Document.case_id == case["id"])) == 2


def test_the_upload_form_without_javascript_names_the_duplicate_and_stores_it_when_asked(app, archive, client):
    from tests.integration.test_accounts_audit import csrf_of

    case = new_case(client, number="津武市监罚〔2026〕461号")
    upload(client, case["id"], b"%PDF-1.4 the decision")
    page = client_as(app, "clerk_a")
    token = csrf_of(page.get(f"/cases/{case['id']}").data)
    import io

    def send(**extra):
        return page.post(f"/cases/{case['id']}/upload", data={
            "stage": "decision", "form": "penalty_decision", "csrf_token": token,
            "file": (io.BytesIO(b"%PDF-1.4 the decision"), "决定书.pdf"), **extra},
            content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)

    html = send()
    assert "此文件已于" in html and "《行政处罚决定书》" in html and "仍要上传" in html
    assert "已保存" in send(allow_duplicate="1")


# -- 7. small things seen ----------------------------------------------------------------------------

def test_small_things_seen(app, archive, client, decided):
    case, doc = decided
    city = client_as(app, "city")
    # /favicon.ico answers on every page, without a login
    icon = app.test_client().get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert 'rel="icon"' in city.get("/").get_data(as_text=True)
    # after an approved amendment the original version keeps its file name on the document page
    r = client_as(app, "clerk_a").post(f"/api/documents/{doc['id']}/amendments", data={
        "reason": "笔误", "file": (io.BytesIO(make_pdf("更正", ["更正后的决定"])), "更正决定书.pdf")},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert client_as(app, "district_a").post(f"/api/amendments/{r.get_json()['id']}/decision",
                                             json={"approve": True, "note": "核实无误"}).status_code == 200
    page = city.get(f"/amendments/{r.get_json()['id']}").get_data(as_text=True)
    original = page[page.index("原文件（第 1 版）"):page.index("更正后的文件")]
    assert "决定书.pdf · " in original and doc["sha256"][:16] in original, original
    # lists keep case numbers and dates on one line
    assert 'class="nw"' in city.get("/cases").get_data(as_text=True)


def test_the_major_case_filing_summary_names_every_penalty(app, archive, client):
    from sqlalchemy import update

    from archive.models import Case

    case = new_case(client, number="津武市监罚〔2026〕470号")
    with archive.sessions() as s:
        s.execute(update(Case).where(Case.id == case["id"]).values(
            penalty_types='["fine", "suspend_business"]', fine_amount=50000))
        s.commit()
        from archive.web.filters import penalties

        assert penalties(s.get(Case, case["id"])) == "责令停产停业、罚款 50,000 元"


# -- 4. Chinese everywhere a user looks -----------------------------------------------------------

def test_the_plan_forms_mistakes_are_chinese_and_all_shown_on_the_first_submit(app, tokens):
    from tests.integration.test_accounts_audit import csrf_of

    city = client_as(app, "city")
    token = csrf_of(city.get("/sampling/new").data)
    r = city.post("/sampling/new", data={"csrf_token": token, "name": "", "kinds": "penalty", "mode": "count",
                                         "period_start": "2026-09-30", "period_end": "2026-07-01",
                                         "review_deadline": "2026-06-01"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    for said in ("抽查期间的结束日期早于开始日期", "每层抽取份数与抽取比例请填写其一", "评查截止日期早于抽查期间的结束日期"):
        assert said in html, said
    assert "必填" in html  # the missing name, in the same answer
    assert "the period ends before it starts" not in html and "give either a count" not in html
    api = city.post("/api/sampling/plans", json={"name": "x", "kinds": ["penalty"], "period_start": "2026-09-30",
                                                 "period_end": "2026-07-01", "review_deadline": "2026-10-31",
                                                 "count": 3})
    assert api.status_code == 422 and "抽查期间的结束日期早于开始日期" in api.get_json()["errors"]["period_end"][0]


def test_a_failed_extraction_reads_in_chinese_with_the_detail_folded(app, archive, client):
    case = new_case(client, number="津武市监罚〔2026〕480号")
    doc = upload(client, case["id"], b"%PDF-1.4\n1 0 obj << /Length 99999 >> stream\nbroken", filename="坏.pdf").get_json()
    drain(archive)
    got = client.get(f"/api/documents/{doc['id']}").get_json()
    assert got["text_status"] == "failed" and got["text_note"] == "PDF 文件已损坏，无法读取其中的文字", got
    html = client.get(f"/documents/{doc['id']}").get_data(as_text=True)
    line = html[html.index("<dt>全文</dt>"):html.index("</dd>", html.index("<dt>全文</dt>"))]
    assert "提取失败（PDF 文件已损坏，无法读取其中的文字）" in line and "<summary>技术细节</summary>" in line


def test_the_audit_page_speaks_chinese_names_objects_and_details(app, archive, client, decided):
    case, doc = decided
    auditor = client_as(app, "auditor")
    html = auditor.get("/audit").get_data(as_text=True)
    table = html[html.index('<table class="list audit">'):]
    assert "上传文书（document.upload）" in table and "新建案件（case.create）" in table
    assert f'<a href="/cases/{case["id"]}">案件 津武市监罚〔2026〕12号</a>' in table
    assert f'<a href="/documents/{doc["id"]}">文书 《决定书.pdf》</a>' in table
    assert '<dt>文件名</dt><dd>决定书.pdf</dd>' in table and '{"' not in table  # no raw JSON
    # the action filter is a list of Chinese names
    assert '<option value="document.upload">上传文书</option>' in html
    only = auditor.get("/audit", query_string={"action": "document.upload"}).get_data(as_text=True)
    assert "新建案件（case.create）" not in only[only.index('<table class="list audit">'):]


def test_basic_information_templates_have_chinese_headers_and_both_are_read(app, archive, tokens):
    from archive.services import basicinfo

    for kind in ("powers", "officers", "plans"):
        header = basicinfo.template_csv(kind).decode("utf-8-sig").splitlines()[0]
        assert header.split(",")[:2] == ["执法机关编码", {"powers": "职权编码", "officers": "姓名", "plans": "计划编码"}[kind]]
        assert not any(c.isascii() and c.isalpha() for c in header), header
    chinese = "执法机关编码,职权编码,职权名称,类别,执法依据\nA-SJJ,SJ-9,对无证经营的处罚,行政处罚,《食品安全法》\n"
    english = "agency,code,name,category,legal_basis\nA-SJJ,SJ-10,对过期食品的处罚,penalty,《食品安全法》\n"
    rows = basicinfo.read_table(chinese.encode(), "职权.csv", "powers") + \
        basicinfo.read_table(english.encode(), "powers.csv", "powers")
    with archive.sessions() as s:
        assert basicinfo.import_rows(s, "powers", rows)
        s.commit()
    district = client_as(app, "district_a")
    listed = district.get("/api/basic-info/powers").get_json()
    got = {p["code"]: p["category"] for p in listed["entries"]}
    assert got == {"SJ-9": "penalty", "SJ-10": "penalty"}, listed
    bad = "执法机关编码,职权名称\nA-SJJ,x\n"
    try:
        basicinfo.read_table(bad.encode(), "x.csv", "powers")
        raise AssertionError("a header without the code column was read")
    except Exception as exc:
        assert "表头缺少列：职权编码、类别" in str(exc), exc



def test_pages_name_people_by_their_display_names_and_organisations(app, archive, client, decided):
    from sqlalchemy import update

    from archive.auth.bootstrap import DEMO_USERS, DISPLAY_NAMES
    from archive.models import User

    assert all(DISPLAY_NAMES.get(u) for u, _, _ in DEMO_USERS) and DISPLAY_NAMES["sysadmin"]
    case, doc = decided
    with archive.sessions() as s:
        s.execute(update(User).where(User.username == "clerk_a").values(display_name="张丽"))
        s.execute(update(User).where(User.username == "district_a").values(display_name="王建国"))
        s.commit()
    r = client_as(app, "clerk_a").post(f"/api/documents/{doc['id']}/amendments", data={
        "reason": "笔误", "file": (io.BytesIO(make_pdf("更正", ["更正"])), "更正.pdf")}, content_type="multipart/form-data")
    client_as(app, "district_a").post(f"/api/amendments/{r.get_json()['id']}/decision", json={"approve": True, "note": "同意"})
    page = client_as(app, "city").get(f"/documents/{doc['id']}").get_data(as_text=True)
    main = page[page.index("<main"):]
    assert "张丽（武清区市场监督管理局）" in main and "王建国（武清区）" in main
    assert "clerk_a" not in main and "district_a" not in main
    audit = client_as(app, "auditor").get("/audit").get_data(as_text=True)
    assert "张丽〔clerk_a〕（武清区市场监督管理局）" in audit  # auditors see the login beside the name


# -- 5. the city office runs the system from the browser -------------------------------------------

def _weekend_in_january(year: int) -> dt.date:
    day = dt.date(year, 1, 4)
    while day.weekday() != 5:
        day += dt.timedelta(days=1)
    return day


def test_the_system_administrator_loads_a_years_holidays_on_a_page(app, archive, client, tokens):
    from sqlalchemy import func, select

    from archive.deadlines.service import missing_calendar_years
    from archive.models import AuditEntry, CalendarYear, Case
    from tests.integration.test_accounts_audit import csrf_of

    with archive.sessions() as s:
        missing = missing_calendar_years(s)
    year = missing[0] if missing else dt.date.today().year + 1
    saturday = _weekend_in_january(year)
    notice = (f"一、元旦：1月1日至3日放假调休，共3天。{saturday.month}月{saturday.day}日（周六）上班。\n"
              "二、春节：2月10日至2月16日放假，共7天。")
    assert client_as(app, "clerk_a").get("/calendar").status_code == 403
    assert client_as(app, "district_a").get("/calendar").status_code == 403
    assert client_as(app, "city").get("/calendar").status_code == 403  # configuration, not the city's business
    case = new_case(client, number="津武市监罚〔2026〕490号")
    record_stage(client, case["id"], "filing", "2026-03-02T10:00:00+08:00")
    city = client_as(app, "sysadmin")
    page = city.get("/calendar").get_data(as_text=True)
    assert "节假日安排" in page and (not missing or f"缺少 {missing[0]}" in page)
    token = csrf_of(page.encode())
    bad = city.post("/calendar", data={"csrf_token": token, "year": str(year), "action": "preview",
                                       "holidays": "1月1日放假", "workdays": f"{year}-01-05"})
    body = bad.get_data(as_text=True)
    if dt.date(year, 1, 5).weekday() < 5:
        assert bad.status_code == 422 and f"调休上班日 {year}-01-05 不是周六或周日" in body
    seen = city.post("/calendar", data={"csrf_token": token, "year": str(year), "action": "preview", "holidays": notice})
    html = seen.get_data(as_text=True)
    assert seen.status_code == 200 and f"放假 10 天，调休上班 1 天" in html and f"保存 {year} 年安排" in html
    assert html.count('class="month"') == 12 and f'title="{year}-02-12"' in html
    with archive.sessions() as s:
        assert s.get(CalendarYear, year) is None  # a preview saves nothing
    saved = city.post("/calendar", data={"csrf_token": token, "year": str(year), "action": "save", "holidays": notice},
                      follow_redirects=True)
    assert saved.status_code == 200 and f"{year} 年节假日安排已保存" in saved.get_data(as_text=True)
    with archive.sessions() as s:
        row = s.get(CalendarYear, year)
        assert row is not None and f"{year}-02-16" in row.holidays and saturday.isoformat() in row.workdays
        assert year not in missing_calendar_years(s)
        assert s.get(Case, case["id"]).checked_at is None  # looked at again by the next round
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "calendar.load")) == 1


def test_the_system_administrator_manages_accounts_from_a_page(app, archive, tokens):
    from sqlalchemy import func, select

    from archive.auth.accounts import login
    from archive.models import AuditEntry, User
    from tests.integration.test_accounts_audit import csrf_of

    assert client_as(app, "clerk_a").get("/accounts").status_code == 403
    for office in ("auditor", "district_a", "city", "secadmin", "auditadmin"):  # 三权分立: accounts are the 系统管理员's
        assert client_as(app, office).get("/accounts").status_code == 403
    district = client_as(app, "sysadmin")
    page = district.get("/accounts").get_data(as_text=True)
    listed = page[page.index('<table class="list accounts">'):page.index("</table>")]
    assert "clerk_a" in listed and "clerk_b" in listed and "district_a" in listed and "city" in listed
    assert "secadmin" not in listed and "auditadmin" not in listed  # administrators are the operator's (CLI)
    token = csrf_of(page.encode())
    # the system administrator creates a clerk, and no administrator
    made = district.post("/accounts", data={"csrf_token": token, "username": "wq_sjj_zhao", "display_name": "赵强",
                                            "role": "agency_clerk", "scope_code": "A-SJJ"})
    html = made.get_data(as_text=True)
    assert made.status_code == 200 and "wq_sjj_zhao" in html
    password = html.split('<code class="password">')[1].split("</code>")[0]
    with archive.sessions() as s:
        assert login(s, "wq_sjj_zhao", password, "127.0.0.1")[0].display_name == "赵强"
        s.commit()
    again = district.post("/accounts", data={"csrf_token": token, "username": "wq_sjj_zhao", "display_name": "赵强",
                                             "role": "agency_clerk", "scope_code": "A-SJJ"})
    assert again.status_code == 409 and "登录名已存在" in again.get_data(as_text=True)
    for role, scope in (("security_admin", ""), ("audit_admin", ""), ("sys_admin", "")):
        refused = district.post("/accounts", data={"csrf_token": token, "username": f"x_{role}", "display_name": "某",
                                                   "role": role, "scope_code": scope})
        assert refused.status_code == 422 and "请从列表中选择角色" in refused.get_data(as_text=True), role
    missing = district.post("/accounts", data={"csrf_token": token, "username": "bad name", "display_name": "",
                                               "role": "agency_clerk", "scope_code": "A-SJJ"})
    body = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "登录名只能由字母" in body and "请填写姓名" in body
    # reset (shown once, sessions end), end sessions, disable
    reset = district.post("/accounts/wq_sjj_zhao/password", data={"csrf_token": token})
    new = reset.get_data(as_text=True).split('<code class="password">')[1].split("</code>")[0]
    assert new != password
    assert district.post("/accounts/wq_sjj_zhao/sessions", data={"csrf_token": token}).status_code == 303
    assert district.post("/accounts/wq_sjj_zhao/disable", data={"csrf_token": token}).status_code == 303
    assert district.post("/accounts/secadmin/disable", data={"csrf_token": token}).status_code == 404  # not theirs
    with archive.sessions() as s:
        user = s.scalar(select(User).where(User.username == "wq_sjj_zhao"))
        assert user.active is False
        assert s.scalar(select(User.active).where(User.username == "secadmin")) is True
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "wq_sjj_zhao")))
        assert {"user.create", "user.password", "user.sessions_end", "user.disable"} <= actions
    from click.testing import CliRunner

    from archive.cli import main
    import os

    env = {"ARCHIVE_DATA_DIR": archive.config["DATA_DIR"], "ARCHIVE_DATABASE_URL": archive.config["DATABASE_URL"]}
    out = CliRunner().invoke(main, ["users", "list"], env={**os.environ, **env})
    assert out.exit_code == 0 and "wq_sjj_zhao\t赵强\tagency_clerk\tA-SJJ" in out.output and "disabled" in out.output


def test_one_login_created_at_once_twice_is_one_account(app, archive, tokens):
    from sqlalchemy import func, select

    from archive.auth.principal import Principal
    from archive.errors import Conflict
    from archive.models import User
    from archive.services import users

    district = Principal(user_id=0, username="sysadmin", role="sys_admin", scope_code=None,
                         agencies=frozenset(), via="session")

    def make(i):
        with archive.sessions() as s:
            return users.create(s, district, username="same_login", display_name=f"某{i}", role="agency_clerk",
                                scope_code="A-SJJ")[0].username

    out = concurrently(6, make)
    assert sum(1 for r in out if r == "same_login") == 1, out
    assert all(isinstance(r, Conflict) for r in out if r != "same_login"), out
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username == "same_login")) == 1


def test_the_new_case_form_offers_the_agencys_own_powers(app, archive, client, tokens, monkeypatch, tmp_path):
    from archive.services import basicinfo
    from tests.integration.test_accounts_audit import csrf_of

    clerk = client_as(app, "clerk_a")
    empty = clerk.get("/cases/new").get_data(as_text=True)
    assert "尚未录入职权清单" in empty and "/basic-info?kind=powers" in empty
    assert 'name="power" list="power-list"' in empty and "required" in empty.split('name="power"')[1][:120]
    assert ">default<" not in empty  # every sector option has a Chinese name
    rows = basicinfo.read_table("职权编码,职权名称,类别,执法机关编码\nSJ-1,对销售过期食品的处罚,行政处罚,A-SJJ\n"
                                "SJ-2,对无证经营的处罚,行政处罚,A-SJJ\nYJ-1,安全生产处罚,行政处罚,A-YJJ\n".encode(), "x.csv", "powers")
    with archive.sessions() as s:
        basicinfo.import_rows(s, "powers", rows)
        s.commit()
    form = clerk.get("/cases/new").get_data(as_text=True)
    assert '<option value="SJ-1" data-agency="A-SJJ">SJ-1 对销售过期食品的处罚</option>' in form
    assert "YJ-1" not in form and "尚未录入职权清单" not in form
    base = {"csrf_token": csrf_of(form.encode()), "number": "津武市监罚〔2026〕495号", "agency": "A-SJJ",
            "kind": "penalty", "procedure": "general", "party_type": "organisation", "opened_on": "2026-03-02",
            "party_name": "某公司"}
    for power, said in (("", "请选择职权"), ("YJ-1", "不在本机关的职权清单中")):
        r = clerk.post("/cases/new", data={**base, "power": power})
        assert r.status_code == 422 and said in r.get_data(as_text=True), power
    assert clerk.post("/cases/new", data={**base, "power": "SJ-2"}).status_code == 302


# -- 2. correcting a case's facts --------------------------------------------------------------------

def test_a_wrong_filing_date_is_corrected_by_request_and_approval_and_kept_in_the_history(app, archive, client):
    from sqlalchemy import select

    from archive.models import AuditEntry, Case

    case = new_case(client, number="津武市监罚〔2026〕500号", opened_on="2026-03-05")
    assert record_stage(client, case["id"], "filing", "2026-03-05T10:00:00+08:00").status_code == 201
    clerk, district = client_as(app, "clerk_a"), client_as(app, "district_a")
    url = f"/api/cases/{case['id']}/corrections"
    assert district.post(url, json={"field": "opened_on", "new_value": "2026-03-02", "reason": "x"}).status_code == 403
    assert client_as(app, "clerk_b").post(url, json={"field": "opened_on", "new_value": "2026-03-02",
                                                     "reason": "x"}).status_code == 404
    bad = clerk.post(url, json={"field": "opened_on", "new_value": "2026-03-09", "reason": "录入错误"})
    assert bad.status_code == 422 and "不能晚于已登记环节的完成日期" in bad.get_json()["errors"]["new_value"][0]
    assert clerk.post(url, json={"field": "party_id", "new_value": "12345", "reason": "x"}).status_code == 422
    asked = clerk.post(url, json={"field": "opened_on", "new_value": "2026-03-02", "reason": "立案审批表载明 3 月 2 日立案"})
    assert asked.status_code == 201, asked.get_json()
    k = asked.get_json()
    assert (k["old_value"], k["new_value"], k["status"]) == ("2026-03-05", "2026-03-02", "pending")
    again = clerk.post(url, json={"field": "opened_on", "new_value": "2026-03-01", "reason": "再次"})
    assert again.status_code == 409  # one pending request per fact
    decide = f"/api/case-corrections/{k['id']}/decision"
    assert clerk.post(decide, json={"approve": True}).status_code == 403  # the requester does not decide
    assert client_as(app, "city").post(decide, json={"approve": True}).status_code == 403  # not the supervising level
    assert client_as(app, "district_b").post(decide, json={"approve": True}).status_code == 404
    assert district.post(decide, json={"approve": False}).status_code == 422  # a rejection says why
    ok = district.post(decide, json={"approve": True, "note": "与立案审批表一致"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    assert district.post(decide, json={"approve": False, "note": "x"}).status_code == 409
    assert client.get(f"/api/cases/{case['id']}").get_json()["opened_on"] == "2026-03-02"
    history = client.get(url).get_json()["corrections"]
    assert [(h["field"], h["old_value"], h["new_value"], h["decided_by"]) for h in history] == [
        ("opened_on", "2026-03-05", "2026-03-02", "district_a")]
    with archive.sessions() as s:
        actions = [a for a in s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == case["id"]))]
        assert "case.correction_request" in actions and "case.correction_decide" in actions
        assert s.get(Case, case["id"]).changed_at is not None
    page = client_as(app, "legal_a").get(f"/cases/{case['id']}").get_data(as_text=True)
    section = page[page.index('id="corrections"'):]
    assert "2026-03-05" in section and "2026-03-02" in section and "批准：与立案审批表一致" in section


def test_concurrent_decisions_on_a_correction_decide_once(app, archive, client):
    case = new_case(client, number="津武市监罚〔2026〕501号")
    k = client_as(app, "clerk_a").post(f"/api/cases/{case['id']}/corrections", json={
        "field": "party_name", "new_value": "天津宏泰食品股份有限公司", "reason": "名称变更"}).get_json()
    clients = [client_as(app, "district_a") for _ in range(6)]
    out = concurrently(6, lambda i: clients[i].post(f"/api/case-corrections/{k['id']}/decision",
                                                     json={"approve": i % 2 == 0, "note": f"意见 {i}"}))
    codes = sorted(r.status_code for r in out)
    assert codes == [200, 409, 409, 409, 409, 409], codes
    asks = [client_as(app, "clerk_a") for _ in range(6)]
    out = concurrently(6, lambda i: asks[i].post(f"/api/cases/{case['id']}/corrections", json={
        "field": "summary", "new_value": f"摘要 {i}", "reason": "补充"}))
    assert sorted(r.status_code for r in out) == [201, 409, 409, 409, 409, 409]


def test_the_pages_ask_for_and_decide_a_correction(app, archive, client):
    from tests.integration.test_accounts_audit import csrf_of

    case = new_case(client, number="津武市监罚〔2026〕502号")
    clerk = client_as(app, "clerk_a")
    token = csrf_of(clerk.get(f"/cases/{case['id']}").data)
    refused = clerk.post(f"/cases/{case['id']}/corrections", data={"csrf_token": token, "field": "party_name",
                                                                   "new_value": "", "reason": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写当事人名称" in html and "请写明更正理由" in html
    r = clerk.post(f"/cases/{case['id']}/corrections", data={"csrf_token": token, "field": "party_name",
                                                             "new_value": "天津宏泰食品股份有限公司", "reason": "营业执照已变更"},
                   follow_redirects=True)
    assert "更正申请已提交" in r.get_data(as_text=True)
    district = client_as(app, "district_a")
    home = district.get("/").get_data(as_text=True)
    assert "案件信息更正（当事人）" in home
    listing = district.get("/amendments").get_data(as_text=True)
    assert "天津宏泰食品股份有限公司" in listing and 'value="approve"' in listing
    from sqlalchemy import select

    from archive.models import CaseCorrection

    with archive.sessions() as s:
        kid = s.scalars(select(CaseCorrection.id)).one()
    done = district.post(f"/case-corrections/{kid}/decision", data={"csrf_token": csrf_of(listing.encode()),
                                                                    "decision": "approve", "note": ""},
                         follow_redirects=True)
    assert "已批准" in done.get_data(as_text=True)
    assert client.get(f"/api/cases/{case['id']}").get_json()["party_name"] == "天津宏泰食品股份有限公司"


# -- 5. sampling plans ------------------------------------------------------------------------------

def test_a_frozen_plan_not_yet_drawn_is_withdrawn_with_a_reason_and_kept(app, archive, client, tokens):
    from tests.integration.test_accounts_audit import csrf_of

    body = {"name": "2026 抽查", "period_start": "2026-01-01", "period_end": "2026-06-30", "kinds": ["penalty"],
            "count": 1, "reviewers_per_file": 1, "max_load": 10, "review_deadline": "2099-12-31"}
    city = client_as(app, "city")
    plan = city.post("/api/sampling/plans", json=body).get_json()
    url = f"/api/sampling/plans/{plan['id']}/withdraw"
    assert city.post(url, json={"reason": "x"}).status_code == 409  # a draft is not frozen yet
    assert city.post(f"/api/sampling/plans/{plan['id']}/freeze").status_code == 200
    assert client_as(app, "district_a").post(url, json={"reason": "x"}).status_code == 403
    assert city.post(url, json={"reason": ""}).status_code == 422
    out = concurrently(4, lambda i: (city.post(url, json={"reason": "计划范围有误，重新制定"}) if i % 2 else
                                     city.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": f"s{i}"})))
    codes = sorted(r.status_code for r in out)
    assert codes.count(200) == 1, codes  # a draw and a withdrawal never both happen
    got = city.get(f"/api/sampling/plans/{plan['id']}").get_json()
    assert got["status"] in ("withdrawn", "drawn")
    if got["status"] == "withdrawn":
        assert got["withdraw_reason"] == "计划范围有误，重新制定" and got["withdrawn_by"] == "city"
        page = city.get(f"/sampling/{plan['id']}").get_data(as_text=True)
        assert "已撤回" in page and "计划范围有误，重新制定" in page and "抽取并分配评查人员" not in page
    # the plan page shows each agency's eligible reviewers before the draw; the form's default fits the pool
    other = city.post("/api/sampling/plans", json={**body, "name": "第二次"}).get_json()
    page = city.get(f"/sampling/{other['id']}").get_data(as_text=True)
    assert "可用评查人员" in page and "武清区市场监督管理局" in page[page.index('id="eligible"'):]
    form = city.get("/sampling/new").get_data(as_text=True)
    assert 'name="reviewers_per_file"' in form
    from archive.sampling.service import default_reviewers_per_file

    with archive.sessions() as s:
        n = default_reviewers_per_file(s)
    assert 1 <= n <= 2 and f'name="reviewers_per_file" type="number" value="{n}"' in form
