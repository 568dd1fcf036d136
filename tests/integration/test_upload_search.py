"""Upload → index → search, end to end through the HTTP API on SeaweedFS, SQLite and PostgreSQL,
with each search engine (tantivy and Whoosh)."""
from __future__ import annotations

import hashlib

import pytest

from archive.demo.documents import make_docx, make_pdf
from tests.conftest import drain, new_case, record_stage, upload

# The decision wraps 停产停业 across two lines, as a PDF layout does.
DECISION_LINES = ["津武市监罚〔2026〕12号", "当事人：天津宏泰食品有限公司",
                  "统一社会信用代码：91120222300417765H",
                  "经查，当事人销售超过保质期的食品。本机关决定：责令停产", "停业，并处罚款人民币五万元。"]


@pytest.fixture(params=["tantivy", "whoosh"])
def app(request, make_app):
    """Every test of this module runs on each engine (and each database)."""
    return make_app(SEARCH_ENGINE=request.param)


@pytest.fixture
def corpus(client, archive, orgs):
    """Two cases in two agencies of one district and one in another district, indexed."""
    c1 = new_case(client)
    assert record_stage(client, c1["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    r = upload(client, c1["id"], make_pdf("行政处罚决定书", DECISION_LINES), filename="行政处罚决定书.pdf")
    assert r.status_code == 201, r.get_json()
    c2 = new_case(client, number="津武应急罚〔2026〕7号", agency="A-YJJ", party_name="天津市恒通物流有限公司",
                  party_id="91120222MA06B8PT5Y")
    assert record_stage(client, c2["id"], "investigation", "2026-04-02T09:00:00+08:00").status_code == 201
    r2 = upload(client, c2["id"], make_docx("询问笔录", ["问：是否组织安全生产教育培训？", "答：没有组织，我们愿意整改。"]),
                filename="询问笔录.docx", stage="investigation", form="inquiry_record")
    assert r2.status_code == 201
    c3 = new_case(client, number="津辰市监罚〔2026〕3号", agency="B-SJJ", party_name="天津众诚餐饮管理有限公司",
                  party_id="91120222MA05P9WQ3B")
    assert record_stage(client, c3["id"], "investigation", "2026-05-06T09:00:00+08:00").status_code == 201
    r3 = upload(client, c3["id"], "现场检查发现责令停产停业决定未执行。".encode("gb18030"), filename="检查记录.txt",
                stage="investigation", form="onsite_record")
    assert r3.status_code == 201
    assert drain(archive) == 3
    return {"c1": c1, "c2": c2, "c3": c3, "d1": r.get_json(), "d2": r2.get_json(), "d3": r3.get_json()}


def search(client, **params):
    r = client.get("/api/search", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def ids(result):
    return {h["document_id"] for h in result["hits"]}


def test_upload_is_recorded_with_checksum_and_detected_type(client, corpus):
    d1 = corpus["d1"]
    assert d1["media_type"] == "application/pdf" and d1["stage"] == "decision"
    assert len(d1["sha256"]) == 64 and d1["version_id"]
    doc = client.get(f"/api/documents/{d1['id']}").get_json()
    assert doc["text_status"] == "extracted" and doc["page_count"] == 1
    body = client.get(f"/api/documents/{d1['id']}/content").data
    assert hashlib.sha256(body).hexdigest() == d1["sha256"]


def test_word_wrapped_across_lines_in_a_decision_is_found(client, corpus):
    r = search(client, q="责令停产停业")
    assert ids(r) == {corpus["d1"]["id"], corpus["d3"]["id"]}
    hit = next(h for h in r["hits"] if h["document_id"] == corpus["d1"]["id"])
    assert any("<mark>停产停业</mark>" in f or "<mark>责令停产停业</mark>" in f for f in hit["highlights"]["content"])
    assert hit["case_number"] == "津武市监罚〔2026〕12号"


def test_two_character_substring_of_a_longer_word(client, corpus):
    r = search(client, q="处罚")
    assert corpus["d1"]["id"] in ids(r)  # 行政处罚决定书
    hit = next(h for h in r["hits"] if h["document_id"] == corpus["d1"]["id"])
    assert "<mark>处罚</mark>" in "".join(hit["highlights"]["content"] + hit["highlights"]["filename"])


def test_case_number_party_name_and_credit_code(client, corpus):
    assert ids(search(client, q="津武市监罚〔2026〕12号")) == {corpus["d1"]["id"]}
    assert ids(search(client, q="〔2026〕7号")) == {corpus["d2"]["id"]}
    assert ids(search(client, q="恒通物流")) == {corpus["d2"]["id"]}
    assert ids(search(client, q="91120222MA05P9WQ3B")) == {corpus["d3"]["id"]}
    assert ids(search(client, q="91120222ma05p9wq3b")) == {corpus["d3"]["id"]}


def test_no_false_hits_from_scattered_characters(client, corpus):
    # 安全 and 生产 both occur in the inquiry record, but never 全生 of 安全生产 next to 产教.
    assert search(client, q="安全生产")["total"] == 1
    assert search(client, q="生产安全")["total"] == 0


def test_filters_by_agency_district_kind_stage_form_and_date(client, corpus):
    assert ids(search(client, q="停产停业", agency="A-SJJ")) == {corpus["d1"]["id"]}
    assert ids(search(client, q="停产停业", agency="120113")) == {corpus["d3"]["id"]}
    assert search(client, agency="120114")["total"] == 2
    assert ids(search(client, stage="investigation", agency="120114")) == {corpus["d2"]["id"]}
    assert ids(search(client, form="penalty_decision")) == {corpus["d1"]["id"]}
    assert search(client, kind="inspection")["total"] == 0
    assert ids(search(client, **{"from": "2026-04-01", "to": "2026-04-30"})) == {corpus["d2"]["id"]}
    assert ids(search(client, **{"from": "2026-03-20", "to": "2026-03-20"})) == {corpus["d1"]["id"]}


def test_exclusion_sort_and_pagination(client, corpus):
    assert ids(search(client, q="停产停业 -食品")) == {corpus["d3"]["id"]}
    all_by_date = search(client, sort="date_asc", per_page=2)
    assert all_by_date["total"] == 3 and len(all_by_date["hits"]) == 2
    assert all_by_date["hits"][0]["document_id"] == corpus["d1"]["id"]
    page2 = search(client, sort="date_asc", per_page=2, page=2)
    assert len(page2["hits"]) == 1 and page2["total"] == 3
    assert search(client, sort="date_asc", per_page=2, page=9)["hits"] == []


def test_query_with_no_hits(client, corpus):
    r = search(client, q="吊销许可证")
    assert r == {"total": 0, "page": 1, "per_page": 20, "hits": []}


@pytest.mark.parametrize("q", ['"停产', "。。。", "-罚款"])
def test_query_syntax_errors_are_400_with_the_error_shape(client, corpus, q):
    r = client.get("/api/search", query_string={"q": q})
    assert r.status_code == 400
    body = r.get_json()
    assert body["code"] == 400 and body["status"] == "Bad Request" and body["message"] and body["errors"]["q"]


def test_upload_does_not_wait_for_the_index(client, archive, corpus):
    r = upload(client, corpus["c1"]["id"], make_pdf("送达回证", ["送达文书：行政处罚决定书，受送达人签收。"]),
               filename="送达回证.pdf", form="service_receipt")
    assert r.status_code == 201 and r.get_json()["text_status"] == "pending"
    assert search(client, q="受送达人")["total"] == 0
    assert drain(archive) == 1
    assert search(client, q="受送达人")["total"] == 1


def test_snippets_come_from_early_text_and_from_deep_in_a_long_one(client, archive, orgs):
    """A hit's snippet is looked for in its first few thousand characters, then (only when the
    terms are not there) in the rest read up to the cap: a term deep in a long text still shows."""
    from archive.services.search import QUICK_CHARS

    case = new_case(client)
    filler = "本页为案卷材料的续页内容。" * (QUICK_CHARS // 6)  # longer than the quick window
    early = "首页即载明扣押物品清单。" + filler
    deep = filler + "末尾才出现查封场所记录。"
    for text, name in ((early, "前.txt"), (deep, "后.txt")):
        r = upload(client, case["id"], text.encode("utf-8"), filename=name, stage="investigation",
                   form="inquiry_record")
        assert r.status_code == 201, r.get_json()
    drain(archive)
    for q in ("扣押物品清单", "查封场所记录"):
        hits = client.get("/api/search", query_string={"q": q}).get_json()["hits"]
        assert len(hits) == 1 and hits[0]["highlights"]["content"], (q, hits)
        assert any("<mark>" in f for f in hits[0]["highlights"]["content"])
