"""Bad input: each answer has its status code, and nothing is stored or corrupted."""
from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import func, select

from archive.demo.documents import make_pdf
from archive.models import Document, Job
from tests.conftest import (
    _clerk_headers, authorize, clerk_of, client_as, drain, ensure_stage, new_case, record_stage, upload,
)
from tests.unit.test_extraction import zip_bomb_docx

PDF = make_pdf("行政处罚决定书", ["本机关决定：责令停产停业。"])


@pytest.fixture
def case(client, orgs):
    case = new_case(client)
    for stage in ("investigation", "decision"):  # recorded before anything is counted
        ensure_stage(client, case["id"], stage)
    return case


def counts(archive):
    """(document rows, index jobs, stored object versions)."""
    with archive.sessions() as s:
        docs = s.scalar(select(func.count()).select_from(Document))
        jobs = s.scalar(select(func.count()).select_from(Job))
    return docs, jobs, len(list(archive.store.keys()))


def assert_refused(resp, status, archive, before, field=None):
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["code"] == status and body["message"]
    if field:
        assert field in body["errors"], body  # named at the top level of the one error shape
    assert counts(archive) == before


def test_empty_file(client, archive, case):
    before = counts(archive)
    assert_refused(upload(client, case["id"], b""), 422, archive, before, "file")


@pytest.mark.parametrize("missing", ["stage", "form", "file"])
def test_missing_fields(client, archive, case, missing):
    before = counts(archive)
    import io

    payload = {"stage": "decision", "form": "penalty_decision", "file": (io.BytesIO(PDF), "a.pdf")}
    del payload[missing]
    r = client.post(f"/api/cases/{case['id']}/documents", data=payload, content_type="multipart/form-data",
                    headers=clerk_of(client, case["id"]))
    assert_refused(r, 422, archive, before, missing)


def test_unknown_stage_form_and_mismatched_form(client, archive, case):
    before = counts(archive)
    assert_refused(upload(client, case["id"], PDF, stage="appeal"), 422, archive, before, "stage")
    assert_refused(upload(client, case["id"], PDF, form="no_such_form"), 422, archive, before, "form")
    # an inquiry record does not belong to the decision stage
    assert_refused(upload(client, case["id"], PDF, form="inquiry_record"), 422, archive, before, "form")
    # an inspection stage does not exist in a penalty case
    assert_refused(upload(client, case["id"], PDF, stage="inspection", form="inspection_record"), 422, archive, before, "stage")


def test_unknown_case_is_404(client, archive, case):
    before = counts(archive)
    assert_refused(upload(client, "0" * 32, PDF), 404, archive, before)


def test_file_over_the_limit_is_413(make_app, orgs_factory=None):
    app = make_app(MAX_UPLOAD_BYTES=64 * 1024)
    archive = app.extensions["archive"]
    authorize(app)
    client = client_as(app, "city")
    case = new_case(client)
    ensure_stage(client, case["id"], "decision")
    before = counts(archive)
    assert_refused(upload(client, case["id"], b"%PDF-" + b"x" * (200 * 1024)), 413, archive, before)
    # just under the limit is fine
    assert upload(client, case["id"], b"%PDF-" + b"x" * (60 * 1024)).status_code == 201


def test_sha256_mismatch_stores_nothing_and_a_match_is_accepted(client, archive, case):
    before = counts(archive)
    r = upload(client, case["id"], PDF, sha256="ab" * 32)
    assert_refused(r, 422, archive, before, "sha256")
    assert_refused(upload(client, case["id"], PDF, sha256="not-hex"), 422, archive, before, "sha256")
    ok = upload(client, case["id"], PDF, sha256=hashlib.sha256(PDF).hexdigest().upper())
    assert ok.status_code == 201 and ok.get_json()["sha256"] == hashlib.sha256(PDF).hexdigest()


def test_filename_with_traversal_and_control_characters(client, archive, case):
    r = upload(client, case["id"], PDF, filename="../../\x07决定\x00书\x1b.pdf")
    assert r.status_code == 201
    doc = r.get_json()
    assert doc["filename"] == "决定书.pdf"
    with archive.sessions() as s:
        key = s.get(Document, doc["id"]).object_key
    assert key == f"cases/{case['id']}/documents/{doc['id']}"
    cd = client.get(f"/api/documents/{doc['id']}/content").headers["Content-Disposition"]
    assert "\r" not in cd and "\n" not in cd and ".." not in cd


@pytest.mark.parametrize("data, status, reason", [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n%%EOF garbage", "failed", "corrupt"),
    (make_pdf("决定书", ["责令停产停业"], encrypt_password="secret"), "failed", "encrypted"),
    (zip_bomb_docx(), "failed", "zip bomb"),
    (b"PK\x03\x04" + b"\x00" * 200, "not_extracted", "application/zip: kept as evidence"),
])
def test_hostile_files_are_stored_as_evidence_with_extraction_failed(client, archive, case, data, status, reason):
    r = upload(client, case["id"], data, filename="证据")
    assert r.status_code == 201, r.get_json()
    doc_id = r.get_json()["id"]
    assert drain(archive) == 1
    doc = client.get(f"/api/documents/{doc_id}").get_json()
    assert doc["text_status"] == status
    assert reason in doc["text_reason"]
    # the stored bytes are intact and the service still works
    assert hashlib.sha256(client.get(f"/api/documents/{doc_id}/content").data).hexdigest() == doc["sha256"]
    assert client.get("/api/health").status_code == 200


def test_case_creation_errors(client, orgs):
    clerk = {"headers": _clerk_headers(client, "A-SJJ")}
    r = client.post("/api/cases", json={"number": "X"}, **clerk)
    assert r.status_code == 422 and {"agency", "kind", "opened_on"} <= set(r.get_json()["errors"])
    base = {"number": "津武市监罚〔2026〕99号", "agency": "A-SJJ", "kind": "penalty", "opened_on": "2026-03-01",
            "power": "SJ-FOOD-124"}
    # a district is not the clerk's agency
    assert client.post("/api/cases", json=base | {"agency": "120114"}, **clerk).status_code == 403
    assert client.post("/api/cases", json=base | {"party_id": "12345"}, **clerk).status_code == 422
    assert client.post("/api/cases", json=base | {"kind": "appeal"}, **clerk).status_code == 422
    assert client.post("/api/cases", json=base, **clerk).status_code == 201
    dup = client.post("/api/cases", json=base, **clerk)
    assert dup.status_code == 409 and dup.get_json()["code"] == 409


def test_stage_errors(client, case):
    def post(stage, at):
        return record_stage(client, case["id"], stage, at)

    assert post("decision", "2099-01-01T00:00:00+08:00").status_code == 422
    assert post("inspection", "2026-03-05T10:00:00").status_code == 422
    ok = post("filing", "2026-03-05T10:00:00")
    assert ok.status_code == 201
    filing = next(s for s in ok.get_json()["stages"] if s["stage"] == "filing")
    assert filing["completed_at"] == "2026-03-05T10:00:00+08:00"  # naive means Asia/Shanghai
    again = post("filing", "2026-03-06T10:00:00+08:00")
    assert again.status_code == 409


def test_storage_down_answers_503_and_records_nothing(tmp_path, database_url):
    """Stop SeaweedFS mid-test: the upload is refused with 503, nothing is recorded; after a
    restart on the same data the archive works again."""
    from archive.config import load_config
    from archive.extension import build_archive
    from archive.factory import create_app
    from archive.storage.seaweed import EmbeddedSeaweed, pick_ports
    from tests.conftest import ACCESS, SECRET, archive_config

    port = pick_ports(1)[0]
    weed = EmbeddedSeaweed(tmp_path / "weed", port, ACCESS, SECRET)
    weed.start(timeout=90)
    try:
        cfg = load_config(archive_config(tmp_path, database_url, weed.endpoint), environ={})
        archive = build_archive(cfg)
        archive.prepare()
        app = create_app(cfg, archive=archive)
        authorize(app)
        client = client_as(app, "city")
        case = new_case(client)
        assert upload(client, case["id"], PDF).status_code == 201
        weed.stop()
        with archive.sessions() as s:
            before = s.scalar(select(func.count()).select_from(Document))
        r = upload(client, case["id"], PDF + b"\n%second", filename="second.pdf")
        assert r.status_code == 503 and r.get_json()["code"] == 503
        with archive.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Document)) == before
        assert client.get("/api/health").status_code == 503
        weed.start(timeout=90)
        assert upload(client, case["id"], PDF + b"\n%third", filename="third.pdf").status_code == 201
        assert len([k for k, _ in archive.store.keys() if "/documents/" in k]) == 2
    finally:
        weed.stop()


def test_validation_says_what_is_wrong(app, client, archive, orgs):
    """Item 16 of the hardening issue: each of these was accepted with 201, or answered oddly."""
    from archive.services.orgs import import_orgs

    case = new_case(client)
    before = counts(archive)
    # an upload into a stage the case has not recorded
    r = upload(client, case["id"], PDF, stage="investigation", form="inquiry_record", record=False)
    assert_refused(r, 422, archive, before, "stage")
    assert "先登记" in r.get_json()["errors"]["stage"][0]
    # a sector the rules do not know
    r = client.post("/api/cases", json={"number": "津武市监罚〔2026〕501号", "agency": "A-SJJ", "kind": "penalty",
                                        "opened_on": "2026-03-01", "sector": "fishing", "power": "SJ-FOOD-124"},
                    headers=clerk_of(client, case["id"]))
    assert r.status_code == 422 and "public_security" in r.get_json()["errors"]["sector"][0]
    # a case number against the agency's numbering, once one is configured
    with archive.sessions() as s:
        import_orgs(s, [{"code": "A-SJJ", "name": "武清区市场监督管理局", "level": "agency", "parent": "120114",
                         "case_number_pattern": "津武市监罚〔YYYY〕N号"}])
        s.commit()
    bad = client.post("/api/cases", json={"number": "武市监罚2026-5", "agency": "A-SJJ", "kind": "penalty",
                                          "opened_on": "2026-03-01", "power": "SJ-FOOD-124"}, headers=clerk_of(client, case["id"]))
    assert bad.status_code == 422 and "津武市监罚〔YYYY〕N号" in bad.get_json()["errors"]["number"][0]
    good = client.post("/api/cases", json={"number": "津武市监罚〔2026〕502号", "agency": "A-SJJ", "kind": "penalty",
                                           "opened_on": "2026-03-01", "sector": "public_security", "power": "SJ-FOOD-124"},
                       headers=clerk_of(client, case["id"]))
    assert good.status_code == 201, good.get_json()
    # agencies without a pattern take any number
    other = client.post("/api/cases", json={"number": "任意编号-1", "agency": "A-YJJ", "kind": "penalty",
                                            "opened_on": "2026-03-01", "power": "YJ-1"}, headers=_clerk_headers(client, "A-YJJ"))
    assert other.status_code == 201
    # a missing form field is named at one level; an empty path segment is no route at all
    r = client.post(
        f"/api/cases/{case['id']}/documents", data={"stage": "decision", "file": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data", headers=clerk_of(client, case["id"]))
    assert r.status_code == 422 and r.get_json()["errors"] == {"form": ["Missing data for required field."]}
    r = client.post("/api/cases//stages", json={"stage": "filing", "completed_at": "2026-03-05T10:00:00+08:00"},
                    headers=clerk_of(client, case["id"]))
    assert r.status_code == 404 and "write-once" not in r.get_json()["message"]
