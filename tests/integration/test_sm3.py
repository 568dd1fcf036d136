"""SM3 beside SHA-256 (GB/T 39786): every stored version records both, computed in one pass while
the upload arrives; fixity checks both; an amendment's new version carries its own; the page and
the API show it."""
from __future__ import annotations

import io

from sqlalchemy import select

from archive.demo.documents import make_pdf
from archive.digests import sm3_hex
from archive.models import Document
from archive.services.fixity import check_document
from tests.conftest import client_as, drain, new_case, upload


def test_each_version_records_sm3_and_fixity_checks_it(app, client, archive):
    case = new_case(client)
    data = make_pdf("行政处罚决定书", ["罚款人民币伍仟元整"])
    doc = upload(client, case["id"], data).get_json()
    assert doc["sm3"] == sm3_hex(data) and len(doc["sm3"]) == 64 and doc["sm3"] != doc["sha256"]
    page = client.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert "SM3" in page and doc["sm3"] in page
    drain(archive)  # (a streamed upload's receipt carries its digests; a whole one's metadata does)
    from archive.services.rebuild import _document_versions

    with archive.sessions() as s:
        row = s.get(Document, doc["id"])
    [(_, stored)] = _document_versions(archive.store, row.object_key)
    assert stored["sm3"] == doc["sm3"]  # what a rebuild from storage would record
    # an amendment's version has its own SM3; the superseded one keeps its
    corrected = make_pdf("行政处罚决定书", ["罚款人民币陆仟元整"])
    a = client_as(app, "clerk_a").post(f"/api/documents/{doc['id']}/amendments", data={
        "reason": "金额笔误", "file": (io.BytesIO(corrected), "决定书（更正）.pdf")},
        content_type="multipart/form-data").get_json()
    assert client_as(app, "district_a").post(f"/api/amendments/{a['id']}/decision",
                                             json={"approve": True}).status_code == 200
    drain(archive)
    versions = client.get(f"/api/documents/{doc['id']}/versions").get_json()["versions"]
    assert [v["sm3"] for v in versions] == [sm3_hex(data), sm3_hex(corrected)]
    with archive.sessions() as s:
        events = check_document(s, archive.store, s.get(Document, doc["id"]), s.get(Document, doc["id"]).uploaded_at)
        assert [e.result for e in events] == ["ok", "ok"] and all("SM3" in e.detail for e in events)
        # a catalog whose SM3 disagrees with the bytes (SHA-256 still agreeing) is damage
        row = s.get(Document, doc["id"])
        row.sm3 = sm3_hex(b"something else")
        s.commit()
        events = check_document(s, archive.store, row, row.uploaded_at)
        damaged = [e for e in events if e.result == "damaged"]
        assert len(damaged) == 1 and "SM3" in damaged[0].detail
