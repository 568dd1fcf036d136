"""The web pages against both databases: scope on every page and count, one decision under
concurrent form posts, CSRF on forms, the plain upload form, and search covering exactly what
each user may read (a reviewer: the files assigned to it)."""
from __future__ import annotations

import io
import json
import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from archive.demo.documents import make_pdf
from archive.labels import ROLE_NAMES
from archive.models import Amendment, AuditEntry, Document, Review, WarningRecord
from tests.conftest import ACCOUNTS, client_as, new_case, record_stage, upload
from tests.integration.test_accounts_audit import PASSWORD, csrf_of, log_in, person  # noqa: F401
from tests.integration.test_hardening import concurrently

SCOPE_A = {"clerk_a", "legal_a", "district_a", "city", "complaints_a", "auditor"}
WORD = "婴幼儿配方奶粉"


@pytest.fixture
def files(app, client):
    """Case A (A-SJJ) with a filing recorded long ago and a document; case B (B-SJJ) likewise."""
    a = new_case(client, number="津武市监罚〔2026〕31号")
    assert record_stage(client, a["id"], "filing", "2026-03-02T10:00:00+08:00").status_code == 201
    doc_a = upload(client, a["id"], make_pdf("案件来源登记表", [f"举报：销售过期{WORD}。"]), filename="来源.pdf",
                   stage="filing", form="case_source").get_json()
    b = new_case(client, number="津辰市监罚〔2026〕31号", agency="B-SJJ", opened_on="2026-06-01")
    assert record_stage(client, b["id"], "filing", "2026-06-01T10:00:00+08:00").status_code == 201
    doc_b = upload(client, b["id"], make_pdf("案件来源登记表", [f"举报：销售过期{WORD}。"]), filename="来源.pdf",
                   stage="filing", form="case_source").get_json()
    from tests.conftest import drain

    drain(app.extensions["archive"])
    return {"a": a, "b": b, "doc_a": doc_a, "doc_b": doc_b}


def _audits(archive, action: str) -> int:
    with archive.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0


def test_every_page_answers_each_role_within_its_scope(app, archive, files):
    for who, role, _ in ACCOUNTS:
        c = client_as(app, who)
        for path in ("/", "/search?q=" + WORD, "/warnings", "/amendments", "/cases"):
            r = c.get(path)
            expected = 302 if (path == "/cases" and role == "reviewer") else 200
            if role.endswith("_admin") and path.startswith(("/search", "/cases")):
                expected = 403  # 三权分立: administrators neither list nor search case files
            assert r.status_code == expected, (who, path, r.status_code)
            if expected == 200:
                html = r.get_data(as_text=True)
                assert ROLE_NAMES[role] in html.split("<main>")[0]  # the header names the role in Chinese
        case_page = c.get(f"/cases/{files['a']['id']}")
        doc_page = c.get(f"/documents/{files['doc_a']['id']}")
        if who in SCOPE_A:
            assert case_page.status_code == 200 and "津武市监罚〔2026〕31号" in case_page.get_data(as_text=True)
            assert doc_page.status_code == 200
        else:
            for r in (case_page, doc_page):
                assert r.status_code == 404 and "找不到这个页面" in r.get_data(as_text=True)
                assert r.mimetype == "text/html"
        if role.endswith("_admin"):
            continue
        listed = c.get("/cases").get_data(as_text=True)
        if role != "reviewer":
            assert ("津武市监罚〔2026〕31号" in listed) == (who in SCOPE_A), who
            total = int(re.search(r"共 <strong>(\d+)</strong> 件", listed).group(1))
            assert total == (who in SCOPE_A) + (who in {"clerk_b", "district_b", "city", "auditor"}), who
        warnings = c.get("/warnings").get_data(as_text=True)
        assert ("津武市监罚〔2026〕31号" in warnings) == (who in SCOPE_A), who
        hits = c.get("/search?q=" + WORD).get_data(as_text=True)
        found = re.search(r"共 <strong>(\d+)</strong> 份文书", hits)
        assert found, who
        expected_hits = {"clerk_a": 1, "legal_a": 1, "district_a": 1, "complaints_a": 1, "clerk_b": 1,
                         "district_b": 1, "city": 2, "auditor": 2}.get(who, 0)
        assert int(found.group(1)) == expected_hits, who


def test_a_reviewer_searches_exactly_the_files_assigned_to_it(app, archive, client, files):
    reviewer = client_as(app, "reviewer")
    assert reviewer.get("/api/search", query_string={"q": WORD}).get_json()["total"] == 0
    plan = client.post("/api/sampling/plans", json={
        "name": "第一季度抽查", "period_start": "2026-01-01", "period_end": "2026-03-31", "kinds": ["penalty"],
        "count": 1, "reviewers_per_file": 1, "max_load": 5, "review_deadline": "2099-06-30"}).get_json()
    drawn = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "s"}).get_json()
    assert [a["case_number"] for a in drawn["assignments"]] == ["津武市监罚〔2026〕31号"]
    result = reviewer.get("/api/search", query_string={"q": WORD}).get_json()
    assert result["total"] == 1 and [h["document_id"] for h in result["hits"]] == [files["doc_a"]["id"]]
    page = reviewer.get("/search", query_string={"q": WORD}).get_data(as_text=True)
    assert "共 <strong>1</strong> 份文书" in page and files["doc_a"]["id"] in page and files["doc_b"]["id"] not in page
    # the assigned file opens; the other agency's does not
    assert reviewer.get(f"/documents/{files['doc_a']['id']}").status_code == 200
    assert reviewer.get(f"/documents/{files['doc_b']['id']}").status_code == 404


def test_concurrent_handling_from_the_page_handles_once(app, archive, files):
    with archive.sessions() as s:
        w = s.scalars(select(WarningRecord).where(WarningRecord.case_id == files["a"]["id"],
                                                  WarningRecord.rule == "missing_documents")).one()
    out = concurrently(4, lambda i: client_as(app, "legal_a").post(f"/warnings/{w.id}/handle",
                                                                   data={"note": f"第 {i} 次处理"}))
    assert all(r.status_code == 303 for r in out), [r.status_code for r in out]
    assert _audits(archive, "warning.handle") == 1
    with archive.sessions() as s:
        done = s.get(WarningRecord, w.id)
        assert done.status == "handled" and done.handled_by == "legal_a"
    # the clerk sees it but may not handle it (403 page); the other district never sees it (404)
    refused = client_as(app, "clerk_a").post(f"/warnings/{w.id}/handle", data={"note": "x"})
    assert refused.status_code == 403 and "没有权限" in refused.get_data(as_text=True)
    r = client_as(app, "district_b").get(f"/warnings/{w.id}")
    assert r.status_code == 404 and "找不到这个页面" in r.get_data(as_text=True)


def test_concurrent_decisions_from_the_page_decide_once(app, archive, client, files):
    r = client_as(app, "clerk_a").post(f"/documents/{files['doc_a']['id']}/amend", data={
        "reason": "日期笔误", "file": (io.BytesIO(make_pdf("案件来源登记表", ["更正后的内容。"])), "更正.pdf")},
        content_type="multipart/form-data")
    assert r.status_code == 303
    with archive.sessions() as s:
        a = s.scalars(select(Amendment)).one()
    assert client_as(app, "clerk_a").post(f"/amendments/{a.id}/decide", data={"decision": "approve"}).status_code == 403
    refused = client_as(app, "district_a").post(f"/amendments/{a.id}/decide", data={"decision": "reject", "note": " "})
    assert refused.status_code == 422 and "驳回时请写明理由" in refused.get_data(as_text=True)
    decisions = ["approve", "approve", "reject", "approve"]
    out = concurrently(4, lambda i: client_as(app, "district_a").post(
        f"/amendments/{a.id}/decide", data={"decision": decisions[i], "note": "核实无误" if i != 2 else "不予更正"}))
    assert Counter(r.status_code for r in out) == Counter({303: 4})
    assert _audits(archive, "amendment.decide") == 1
    with archive.sessions() as s:
        decided = s.get(Amendment, a.id)
        doc = s.get(Document, files["doc_a"]["id"])
        assert decided.status in ("approved", "rejected")
        assert doc.version_no == (2 if decided.status == "approved" else 1)
    page = client_as(app, "clerk_a").get("/").get_data(as_text=True)
    assert "我的更正申请" in page and ("已批准（第 2 版）" in page or "已驳回：不予更正" in page)


def test_forms_need_the_csrf_token_of_the_session(app, archive, person):  # noqa: F811
    c = app.test_client()
    assert log_in(c, person, PASSWORD).status_code == 302
    body = {"number": "津武市监罚〔2026〕41号", "agency": "A-SJJ", "kind": "penalty", "opened_on": "2026-03-02",
            "power": "SJ-FOOD-124"}
    r = c.post("/cases/new", data=body)
    assert r.status_code == 400 and "页面已过期或请求无效" in r.get_data(as_text=True)
    token = csrf_of(c.get("/cases/new").data)
    r = c.post("/cases/new", data={**body, "csrf_token": token})
    assert r.status_code == 302 and "/cases/" in r.headers["Location"]
    again = c.post("/cases/new", data={**body, "csrf_token": token})
    assert again.status_code == 409 and "已存在" in again.get_data(as_text=True)


def test_the_upload_form_works_without_javascript(app, archive, files):
    clerk = client_as(app, "clerk_a")
    case_id = files["a"]["id"]
    r = clerk.post(f"/cases/{case_id}/upload", data={
        "stage": "filing", "form": "filing_approval",
        "file": [(io.BytesIO(make_pdf("立案审批表", ["同意立案。"])), "审批表.pdf"),
                 (io.BytesIO(make_pdf("立案审批表", ["附页。"])), "审批表附页.pdf")]},
        content_type="multipart/form-data")
    assert r.status_code == 303
    page = clerk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert page.count("已保存，SHA-256") == 2 and "逾期上传" in page
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document).where(Document.case_id == case_id)) == 3
        # the missing approval arrived: that warning closed itself, keeping its history
        w = s.scalars(select(WarningRecord).where(WarningRecord.case_id == case_id,
                                                  WarningRecord.rule == "missing_documents")).one()
        assert w.status == "resolved" and w.handled_note
    bad = clerk.post(f"/cases/{case_id}/upload", data={
        "stage": "filing", "form": "inspection_record", "file": (io.BytesIO(b"%PDF-1.4 x"), "x.pdf")},
        content_type="multipart/form-data")
    assert bad.status_code == 303
    assert "x.pdf：" in clerk.get(f"/cases/{case_id}").get_data(as_text=True)
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document).where(Document.case_id == case_id)) == 3
    # a reader who may not write gets the 403 page, not a stored file
    r = client_as(app, "district_a").post(f"/cases/{case_id}/upload", data={
        "stage": "filing", "form": "case_source", "file": (io.BytesIO(b"%PDF-1.4 y"), "y.pdf")},
        content_type="multipart/form-data")
    assert r.status_code == 403 and "没有权限" in r.get_data(as_text=True)


def test_case_list_filters_by_stage_warnings_and_lateness(app, client, files):
    on_time = new_case(client, number="津武市监罚〔2026〕32号", opened_on="2026-03-05")
    clerk = client_as(app, "clerk_a")
    listed = lambda **q: [c["number"] for c in clerk.get("/api/cases", query_string=q).get_json()["cases"]]  # noqa: E731
    assert sorted(listed()) == ["津武市监罚〔2026〕31号", on_time["number"]]
    assert listed(stage="filing") == ["津武市监罚〔2026〕31号"]
    assert listed(open_warnings="true") == ["津武市监罚〔2026〕31号"]
    assert listed(open_warnings="false") == [on_time["number"]]
    assert listed(late="true") == ["津武市监罚〔2026〕31号"]
    assert listed(opened_from="2026-03-03") == [on_time["number"]]
    page = clerk.get("/cases", query_string={"late": "1"}).get_data(as_text=True)
    assert "共 <strong>1</strong> 件" in page and "津武市监罚〔2026〕31号" in page


@pytest.fixture
def drawn_review(app, archive, client, files):
    """The city's plan drawn: case A's file assigned to ``reviewer``; a second reviewer exists."""
    from archive.auth.accounts import create_user

    plan = client.post("/api/sampling/plans", json={
        "name": "第一季度抽查", "period_start": "2026-01-01", "period_end": "2026-03-31", "kinds": ["penalty"],
        "count": 1, "reviewers_per_file": 1, "max_load": 5, "review_deadline": "2099-06-30"}).get_json()
    drawn = client.post(f"/api/sampling/plans/{plan['id']}/draw", json={"seed": "s"}).get_json()
    with archive.sessions() as s:  # joins after the draw: assigned nothing
        create_user(s, "reviewer2", "reviewer", "B-SJJ")
        s.commit()
    from archive.auth.accounts import issue_token

    with archive.sessions() as s:
        from archive.auth.accounts import find_user

        app.config["TEST_TOKENS"]["reviewer2"] = issue_token(s, find_user(s, "reviewer2")).token
        s.commit()
    return {"plan": plan["id"], "review": drawn["assignments"][0]["review_id"]}


def test_concurrent_submissions_from_the_scoring_page_score_once(app, archive, drawn_review):
    url = f"/reviews/{drawn_review['review']}"
    out = concurrently(4, lambda i: client_as(app, "reviewer").post(url, data={
        "action": "submit", f"points_C{i + 1}": "2", f"reason_C{i + 1}": f"第 {i} 处不足"}))
    assert all(r.status_code == 303 for r in out), [r.status_code for r in out]
    assert _audits(archive, "review.submit") == 1
    with archive.sessions() as s:
        r = s.get(Review, drawn_review["review"])
        assert r.status == "submitted" and r.score == 98.0 and len(json.loads(r.deductions)) == 1
    # afterwards neither a draft nor a second submission changes it
    again = client_as(app, "reviewer").post(url, data={"action": "draft", "note": "改"}, follow_redirects=True)
    assert "评分已提交，不能再修改" in again.get_data(as_text=True)


def test_scoring_page_validates_in_chinese_and_keeps_a_draft(app, archive, drawn_review):
    reviewer = client_as(app, "reviewer")
    url = f"/reviews/{drawn_review['review']}"
    r = reviewer.post(url, data={"action": "submit", "points_C2": "25", "reason_C2": "证据不足", "veto_V1": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "此项最多扣 20 分" in html and "否决须写明理由" in html
    with archive.sessions() as s:
        review = s.get(Review, drawn_review["review"])
        assert review.status == "assigned" and json.loads(review.draft)["deductions"]["C2"]["points"] == "25"
    page = reviewer.get(url).get_data(as_text=True)
    assert 'value="25"' in page and 'name="veto_V1" value="1" checked' in page


def test_supervision_pages_refuse_who_may_not(app, archive, drawn_review):
    plan, review = drawn_review["plan"], drawn_review["review"]
    for who, path, status in [
        ("clerk_a", "/sampling", 403), ("clerk_a", f"/sampling/{plan}", 404), ("complaints_a", "/sampling", 403),
        ("district_a", f"/sampling/{plan}", 200), ("district_b", f"/sampling/{plan}/results", 200),
        ("city", f"/sampling/{plan}/verify", 200), ("auditor", f"/sampling/{plan}", 200),
        ("reviewer", f"/reviews/{review}", 200), ("reviewer2", f"/reviews/{review}", 404),
        ("clerk_a", f"/reviews/{review}", 404), ("district_a", f"/reviews/{review}", 200),
        ("clerk_a", "/audit", 403), ("city", "/audit", 403), ("auditor", "/audit", 200),
        ("clerk_a", "/fixity", 403), ("city", "/fixity", 200),
    ]:
        r = client_as(app, who).get(path)
        assert r.status_code == status, (who, path, r.status_code)
        if status == 404:
            assert "找不到这个页面" in r.get_data(as_text=True)
        if status == 403:
            assert "没有权限" in r.get_data(as_text=True)
    # only the reviewer scores; an office reading the review cannot post a score
    r = client_as(app, "district_a").post(f"/reviews/{review}", data={"action": "submit"})
    assert r.status_code == 403
    # the plan's other district sees its strata's sizes and digests only
    other = client_as(app, "district_b").get(f"/sampling/{plan}").get_data(as_text=True)
    assert "津武市监罚〔2026〕31号" not in other and "津武市监罚〔2026〕31号" in client_as(app, "district_a").get(
        f"/sampling/{plan}").get_data(as_text=True)
    verified = client_as(app, "auditor").get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    assert "哈希链完整" in verified


def test_complaint_pages_close_once_and_keep_the_log(app, archive, files):
    handler = client_as(app, "complaints_a")
    r = handler.post("/complaints/new", data={"received_at": "2026-11-01T09:00", "complainant": "李某",
                                              "case_numbers": "津武市监罚〔2026〕31号、津辰市监罚〔2026〕31号",
                                              "text": "反映处罚过轻"})
    assert r.status_code == 422 and "没有找到案号 津辰市监罚〔2026〕31号" in r.get_data(as_text=True)  # another district's
    r = handler.post("/complaints/new", data={"received_at": "2026-11-01T09:00", "complainant": "李某",
                                              "case_numbers": "津武市监罚〔2026〕31号", "text": "反映处罚过轻"})
    assert r.status_code == 303
    cid = int(r.headers["Location"].rsplit("/", 1)[1])
    page = handler.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "保全中（不可删除）" in page
    assert handler.post(f"/complaints/{cid}/steps", data={"done_on": "2026-11-02", "text": "调阅案卷"}).status_code == 303
    out = concurrently(4, lambda i: client_as(app, "complaints_a").post(
        f"/complaints/{cid}/close", data={"handling": f"核实 {i}", "outcome": "不属实"}))
    assert all(x.status_code == 303 for x in out), [(x.status_code, x.get_data(as_text=True)[-600:].replace("\n", " ")) for x in out if x.status_code != 303]
    assert _audits(archive, "complaint.close") == 1
    late = handler.post(f"/complaints/{cid}/steps", data={"done_on": "2026-11-03", "text": "补记"}, follow_redirects=True)
    assert "不能再添加办理记录" in late.get_data(as_text=True) or late.status_code == 409
    body = handler.get(f"/api/complaints/{cid}").get_json()
    assert [s["text"] for s in body["steps"]] == ["调阅案卷"] and body["status"] == "closed"
    assert not body["cases"][0]["held"]
    # other roles: a clerk is refused, the other district never sees it
    assert client_as(app, "clerk_a").get(f"/complaints/{cid}").status_code == 403
    assert client_as(app, "district_b").get(f"/complaints/{cid}").status_code == 404
    assert client_as(app, "district_a").get("/complaints").status_code == 200


def test_complaint_attachments_are_stored_write_once_and_read_back_verified(app, archive, files):
    handler = client_as(app, "complaints_a")
    c = handler.post("/api/complaints", json={"received_at": "2026-11-01T09:00:00+08:00", "complainant": "赵某",
                                              "text": "反映问题", "agency": "A-SJJ"}).get_json()
    letter = make_pdf("举报信", ["反映宏泰食品公司销售过期食品。"])
    a = handler.post(f"/api/complaints/{c['id']}/attachments", data={"file": (io.BytesIO(letter), "举报信.pdf")},
                     content_type="multipart/form-data").get_json()
    assert a["size"] == len(letter) and a["media_type"] == "application/pdf"
    got = handler.get(f"/api/complaints/{c['id']}/attachments/{a['id']}")
    assert got.status_code == 200 and got.data == letter
    with archive.sessions() as s:
        from archive.models import ComplaintAttachment

        row = s.get(ComplaintAttachment, a["id"])
        info = archive.store.stat(row.object_key, row.version_id)
        assert info.retain_until is not None and row.object_key.startswith(f"complaints/{c['id']}/attachments/")
    assert handler.delete(f"/api/complaints/{c['id']}/attachments/{a['id']}").status_code == 405
    assert client_as(app, "district_b").get(f"/api/complaints/{c['id']}/attachments/{a['id']}").status_code == 404
    empty = handler.post(f"/api/complaints/{c['id']}/attachments", data={"file": (io.BytesIO(b""), "空.pdf")},
                         content_type="multipart/form-data")
    assert empty.status_code == 422
    page = handler.get(f"/complaints/{c['id']}").get_data(as_text=True)
    assert "举报信.pdf" in page


def test_the_audit_page_names_the_entry_a_broken_chain_starts_at(app, archive, files):
    from sqlalchemy import update

    auditor = client_as(app, "auditor")
    assert "哈希链完整" in auditor.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    with archive.sessions() as s:  # someone edits an entry behind the archive's back
        seq = s.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.action == "case.create"))
        s.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(actor="someone_else"))
        s.commit()
    page = auditor.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    assert f"哈希链在第 {seq} 条处断开：内容与其哈希不符（被修改）" in page
    filtered = auditor.get("/audit", query_string={"action": "case.create"}).get_data(as_text=True)
    assert "共 <strong>2</strong> 条" in filtered


def test_a_reviewer_declares_a_conflict_from_the_scoring_page(app, archive, drawn_review):
    from archive.models import ReviewConflict

    reviewer = client_as(app, "reviewer")
    r = reviewer.post("/reviews/conflicts", data={"review": str(drawn_review["review"]), "scope": "agency",
                                                  "reason": " "}, follow_redirects=True)
    assert "声明回避须写明理由" in r.get_data(as_text=True)
    r = reviewer.post("/reviews/conflicts", data={"review": str(drawn_review["review"]), "scope": "agency",
                                                  "reason": "曾在该局任职"}, follow_redirects=True)
    assert "回避声明已登记" in r.get_data(as_text=True)
    assert client_as(app, "reviewer2").post("/reviews/conflicts", data={
        "review": str(drawn_review["review"]), "reason": "x"}).status_code == 404  # not its review
    assert client_as(app, "clerk_a").post("/reviews/conflicts", data={"reason": "x"}).status_code == 403
    with archive.sessions() as s:
        rows = s.scalars(select(ReviewConflict)).all()
        assert [(c.username, c.agency_code, c.case_number) for c in rows] == [("reviewer", "A-SJJ", None)]


def test_a_top_level_warning_says_it_climbs_no_further(app, archive, files):
    from sqlalchemy import update

    with archive.sessions() as s:
        s.execute(update(WarningRecord).where(WarningRecord.case_id == files["a"]["id"]).values(level=3, due_at=None))
        s.commit()
        wid = s.scalars(select(WarningRecord.id).where(WarningRecord.case_id == files["a"]["id"])).first()
    city = client_as(app, "city")
    assert "最高级，不再升级" in city.get("/warnings", query_string={"level": "3"}).get_data(as_text=True)
    assert "最高级，不再升级" in city.get(f"/warnings/{wid}").get_data(as_text=True)
    assert "最高级，不再升级" in city.get("/").get_data(as_text=True)


def test_the_reviewers_to_do_lines_start_with_the_case_not_a_stray_dot(app, archive, drawn_review):
    """Found by hand: the binder and bundle links were joined by " · ", which began a line when
    they wrapped under the case number."""
    html = client_as(app, "reviewer").get("/").get_data(as_text=True)
    card = html[html.index("评查任务"):]
    item = card[card.index("<li"):card.index("</li>")]
    assert "案卷 PDF" in item and "案卷包" in item and '<span class="extra">' in item
    assert "·" not in item.split('<span class="meta">')[-1]
