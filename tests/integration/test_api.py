"""The rest of the HTTP API: catalog, organisations, health, OpenAPI, content, write-once."""
from __future__ import annotations

import pytest

from archive.demo.documents import make_pdf
from tests.conftest import drain, new_case, record_stage, upload

PDF = make_pdf("行政处罚决定书", ["本机关决定：责令停产停业，并处罚款人民币五万元。"] * 5)


@pytest.fixture
def doc(client, orgs):
    case = new_case(client)
    r = upload(client, case["id"], PDF, filename="行政处罚决定书.pdf")
    assert r.status_code == 201
    return r.get_json() | {"case": case}


def test_forms_catalog(client):
    forms = client.get("/api/forms").get_json()
    by_code = {f["code"]: f for f in forms}
    assert by_code["penalty_decision"] == {"code": "penalty_decision", "name": "行政处罚决定书", "stages": ["decision"]}
    assert all(set(f) == {"code", "name", "stages"} for f in forms)


def test_organisations_tree(client, orgs):
    tree = client.get("/api/organisations").get_json()
    assert [t["code"] for t in tree] == ["120000"]
    districts = {d["code"]: d for d in tree[0]["children"]}
    assert set(districts) == {"120113", "120114"} and districts["120114"]["level"] == "district"
    assert {a["code"] for a in districts["120114"]["children"]} == {"A-SJJ", "A-YJJ"}
    assert districts["120114"]["children"][0]["children"] == []


def test_health_reports_components_and_queue(client, doc, archive):
    h = client.get("/api/health").get_json()
    assert h["database"]["ok"] and h["object_store"]["ok"] and h["index"]["ok"]
    # every component up: ok, or degraded (still 200) while a needed holiday calendar is missing
    assert h["status"] == ("ok" if h["calendar"]["ok"] else "degraded")
    # the upload's extraction, verification and examination, and the case's two manifest writes
    # (creation, the stage) wait
    assert h["queue"] == {"pending": 5, "failed": 0, "ocr_pending": 0}
    assert h["formats"] == {"examined": 0, "pending": 1, "outside_policy": 0, "protected": 0,
                            "signatures_not_verified": 0}
    drain(archive)
    assert client.get("/api/health").get_json()["queue"] == {"pending": 0, "failed": 0, "ocr_pending": 0}


def test_openapi_document_is_generated_from_the_schemas(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    for p in ("/api/cases", "/api/cases/{case_id}", "/api/cases/{case_id}/stages",
              "/api/cases/{case_id}/documents", "/api/documents/{doc_id}",
              "/api/documents/{doc_id}/content", "/api/search", "/api/forms",
              "/api/organisations", "/api/health", "/api/cases/{case_id}/periods",
              "/api/documents/{doc_id}/amendments", "/api/amendments/{amendment_id}/decision",
              "/api/documents/{doc_id}/versions", "/api/fixity/report", "/api/complaints",
              "/api/complaints/{complaint_id}/links", "/api/complaints/{complaint_id}/close",
              "/api/sampling/plans", "/api/sampling/plans/{plan_id}/draw", "/api/sampling/plans/{plan_id}/results",
              "/api/reviews", "/api/reviews/{review_id}", "/api/cases/{case_id}/bundle",
              "/api/cases/{case_id}/binder.pdf"):
        assert p in paths, p
    assert "multipart/form-data" in paths["/api/cases/{case_id}/documents"]["post"]["requestBody"]["content"]


def test_case_answer_lists_stages_in_order_with_documents(client, doc):
    case_id = doc["case"]["id"]
    assert record_stage(client, case_id, "filing", "2026-03-02T09:00:00+08:00").status_code == 201
    case = client.get(f"/api/cases/{case_id}").get_json()
    assert case["number"] == "津武市监罚〔2026〕12号" and case["agency"] == "A-SJJ"
    assert [s["stage"] for s in case["stages"]] == ["filing", "decision"]
    decision = case["stages"][1]
    # (the upload helper recorded the decision stage first: documents go into recorded stages)
    assert decision["completed_at"] == "2026-03-20T10:00:00+08:00" and decision["documents"][0]["id"] == doc["id"]
    assert decision["documents"][0]["uploaded_at"].endswith("+08:00")


def test_case_list_filters(client, doc):
    new_case(client, number="津辰市监罚〔2026〕1号", agency="B-SJJ")
    assert client.get("/api/cases").get_json()["total"] == 2
    assert client.get("/api/cases?agency=120114").get_json()["total"] == 1
    r = client.get("/api/cases", query_string={"number": "辰市监"}).get_json()
    assert [c["number"] for c in r["cases"]] == ["津辰市监罚〔2026〕1号"]
    assert client.get("/api/cases/nope").status_code == 404


def test_content_streams_with_etag_range_and_304(client, doc):
    url = f"/api/documents/{doc['id']}/content"
    full = client.get(url)
    assert full.status_code == 200 and full.data == PDF
    assert full.headers["ETag"] == f'"{doc["sha256"]}"'
    assert full.headers["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''" in full.headers["Content-Disposition"]
    part = client.get(url, headers={"Range": "bytes=10-29"})
    assert part.status_code == 206 and part.data == PDF[10:30]
    assert part.headers["Content-Range"] == f"bytes 10-29/{len(PDF)}"
    tail = client.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.data == PDF[-5:]
    assert client.get(url, headers={"If-None-Match": f'"{doc["sha256"]}"'}).status_code == 304
    bad = client.get(url, headers={"Range": f"bytes={len(PDF) + 10}-"})
    assert bad.status_code == 416


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_no_route_changes_or_deletes_a_document(client, archive, doc, method):
    for url in (f"/api/documents/{doc['id']}", f"/api/documents/{doc['id']}/content",
                f"/api/cases/{doc['case']['id']}"):
        r = getattr(client, method)(url, json={"filename": "x"})
        assert r.status_code == 405, url
        assert r.get_json()["code"] == 405 and r.get_json()["message"]
    again = client.get(f"/api/documents/{doc['id']}/content")
    assert again.data == PDF
    assert len([k for k, _ in archive.store.keys() if "/documents/" in k]) == 1


def test_object_metadata_alone_says_what_the_object_is(archive, doc):
    """With its receipt: the file went to the store while it arrived, before its SHA-256 was
    known; the verify job read it back and wrote the receipt beside it."""
    import json

    from archive.services.ingest import receipt_key

    info = archive.store.stat(f"cases/{doc['case']['id']}/documents/{doc['id']}", doc["version_id"])
    m = info.metadata
    assert m["filename"] == "行政处罚决定书.pdf" and m["case-number"] == "津武市监罚〔2026〕12号"
    assert m["sha256-in"] == "receipt" and m["size"] == str(doc["size"])
    drain(archive)
    receipt = json.loads(b"".join(archive.store.open(receipt_key(doc["case"]["id"], doc["id"], doc["version_id"]))))
    assert receipt["sha256"] == doc["sha256"] and m["stage"] == "decision" and m["form"] == "penalty_decision"
    assert m["uploaded-at"].endswith("+08:00") and m["party-name"] == "天津宏泰食品有限公司"
    assert info.retention_mode == "GOVERNANCE" and info.retain_until.year >= 2055
