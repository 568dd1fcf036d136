"""Each stored version examined after the upload's answer: its format (siegfried/PRONOM; OFD by
the archive's rule), encryption, the format policy, and the signatures and seals inside it —
PDF signatures by pyHanko against configured roots, OFD seals (GB/T 38540 v4, SM2/SM3) — on
files the tests make themselves, intact and changed by one byte."""
from __future__ import annotations

import io
import json
import zipfile

import pikepdf
import pytest
from sqlalchemy import func, select

from archive.demo.documents import make_docx, make_pdf
from archive.models import Examination
from archive.services import examinations as service
from archive.demo import ofd
from tests import signing
from tests.conftest import client_as, concurrently, drain, new_case, upload

DECISION = ["行政处罚决定书", "当事人：天津宏泰食品有限公司", "罚款人民币伍仟元整"]


def examined(client, doc_id: str) -> dict:
    return client.get(f"/api/documents/{doc_id}").get_json()


def jpeg(red: int = 120) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (red, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def owner_locked(pdf: bytes, user: str = "") -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf)) as p:
        p.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user=user))
    return out.getvalue()


def test_formats_policy_and_encryption_are_recorded_per_version(client, archive):
    case = new_case(client)
    cid = case["id"]
    pdf = make_pdf("行政处罚决定书", DECISION)
    ids = {
        "pdf": upload(client, cid, pdf).get_json()["id"],
        "docx": upload(client, cid, make_docx("询问笔录", ["问：姓名？"]), filename="询问笔录.docx", stage="investigation",
                       form="inquiry_record").get_json()["id"],
        "scan_as_form": upload(client, cid, jpeg(), filename="立案审批表.jpg", stage="filing",
                               form="filing_approval").get_json()["id"],
        "photo": upload(client, cid, jpeg(200), filename="现场照片.jpg", stage="investigation",
                        form="photo_evidence").get_json()["id"],
        "password": upload(client, cid, owner_locked(pdf, user="open-me"), filename="加密.pdf", stage="review",
                           form="legal_review_opinion").get_json()["id"],
        "restricted": upload(client, cid, owner_locked(pdf), filename="限制.pdf", stage="execution",
                             form="other_evidence").get_json()["id"],
        "ofd": upload(client, cid, ofd.ofd([DECISION]), filename="决定书.ofd", stage="closing",
                      form="other_evidence").get_json()["id"],
    }
    assert examined(client, ids["pdf"])["examination"]["status"] == "pending"  # after the answer, not in it
    drain(archive)
    got = {k: examined(client, v) for k, v in ids.items()}
    fmt = {k: v["format"] for k, v in got.items()}
    assert fmt["pdf"]["puid"] in ("fmt/17", "fmt/18", "fmt/19", "fmt/20", "fmt/276") and fmt["pdf"]["mime"] == "application/pdf"
    assert fmt["docx"]["puid"] == "fmt/412" and fmt["photo"]["puid"] == "fmt/43"
    assert fmt["ofd"] == {"puid": "local/ofd", "name": "OFD 版式文档 (GB/T 33190)", "version": "1.1", "mime": "application/ofd"}
    policy = {k: v["examination"]["policy"] for k, v in got.items()}
    assert policy == {"pdf": "master", "docx": "master", "scan_as_form": "outside", "photo": "evidence",
                      "password": "master", "restricted": "evidence", "ofd": "evidence"}
    assert "执法文书的正本应为版式文件" in got["scan_as_form"]["examination"]["policy_reason"]
    protection = {k: v["examination"]["protection"] for k, v in got.items()}
    assert protection == {"pdf": "", "docx": "", "scan_as_form": "", "photo": "", "password": "password",
                          "restricted": "encrypted", "ofd": ""}
    # the page says it in Chinese; the health page counts it for the usability check
    page = client.get(f"/documents/{ids['scan_as_form']}").get_data(as_text=True)
    assert "文件格式" in page and "JPEG File Interchange Format" in page and "不符合格式策略" in page
    assert "受密码保护（无法打开）" in client.get(f"/documents/{ids['password']}").get_data(as_text=True)
    health = client_as(client.application, None).get("/api/health").get_json()["formats"]
    assert health == {"examined": 7, "pending": 0, "outside_policy": 1, "protected": 2, "signatures_not_verified": 0}
    # the bundle lists every file's format in its tag file formats.tsv, covered by the tag manifest
    with zipfile.ZipFile(io.BytesIO(client.get(f"/api/cases/{cid}/bundle").data)) as z:
        tsv = z.read(f"case-{cid}/formats.tsv").decode()
        assert "formats.tsv" in z.read(f"case-{cid}/tagmanifest-sha256.txt").decode()
    assert tsv.count("\tfmt/43\t") == 2 and "\tlocal/ofd\tOFD 版式文档 (GB/T 33190)\t1.1" in tsv
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Examination)) == 7


def test_an_ofd_is_read_searched_and_its_seal_verified_and_a_changed_byte_is_found(client, archive):
    case = new_case(client)
    key = ofd.SM2Key()
    sealed = ofd.sealed([DECISION, ["第二页", "执法人员：王明 李强"]], key)
    variants = {
        "intact": sealed,
        "content": ofd.changed(sealed, "Doc_0/Pages/Page_0/Content.xml", "伍仟".encode(), "陆仟".encode()),
        "signature_xml": ofd.changed(sealed, "Doc_0/Signs/Sign_0/Signature.xml", b'PageRef="1"', b'PageRef="2"'),
        "signed_value": ofd.flip_last_byte(sealed, "Doc_0/Signs/Sign_0/SignedValue.dat"),
    }
    ids = {k: upload(client, case["id"], v, filename=f"{k}.ofd").get_json()["id"] for k, v in variants.items()}
    drain(archive)
    doc = examined(client, ids["intact"])
    assert doc["media_type"] == "application/ofd" and doc["text_status"] == "extracted" and doc["page_count"] == 2
    assert doc["format"]["puid"] == "local/ofd"
    [seal] = doc["signatures"]
    assert seal["kind"] == "ofd_seal" and seal["result"] == "验证通过" and seal["intact"] is True and seal["valid"] is True
    assert seal["trusted"] is None  # no SM2 root: never called trusted
    assert seal["seal_name"] == "测试区市场监督管理局行政执法专用章" and "测试区市场监督管理局" in seal["signer"]
    assert seal["signed_at"] == "2026-03-02T09:30:00+00:00"
    results = {k: examined(client, v)["signatures"][0] for k, v in ids.items()}
    assert results["content"]["result"] == "签章后文件被修改" and results["content"]["intact"] is False
    assert "Content.xml" in results["content"]["reason"]
    assert results["signature_xml"]["result"] == "签章后文件被修改" and results["signature_xml"]["valid"] is False
    assert results["signed_value"]["result"] == "无法验证（签名值不正确）" and results["signed_value"]["valid"] is False
    # searchable like any document: the words of the second page find it (and the changed copies)
    hits = client.get("/api/search", query_string={"q": "王明"}).get_json()
    assert ids["intact"] in {h["document_id"] for h in hits["hits"]}
    # the document page shows the seal's verification in Chinese
    page = client.get(f"/documents/{ids['intact']}").get_data(as_text=True)
    assert "签章与签名" in page and "测试区市场监督管理局行政执法专用章" in page and "验证通过" in page
    assert "证书链未验证，不据此认定可信" in page
    assert "签章后文件被修改" in client.get(f"/documents/{ids['content']}").get_data(as_text=True)
    health = client_as(client.application, None).get("/api/health").get_json()["formats"]
    assert health["signatures_not_verified"] == 3


@pytest.fixture
def pki(tmp_path):
    ca_key, ca = signing.make_ca()
    key, cert = signing.make_signer_cert(ca_key, ca)
    roots = tmp_path / "roots"
    signing.write_root(roots, ca)
    return ca, key, cert, roots, ca_key


def test_pdf_signatures_are_validated_against_the_configured_roots(make_app, pki):
    from tests.conftest import authorize

    ca, key, cert, roots, _ = pki
    app = make_app(TRUST_ROOTS=str(roots))
    authorize(app)
    client, archive = client_as(app, "city"), app.extensions["archive"]
    case = new_case(client)
    signed = signing.sign_pdf(make_pdf("行政处罚决定书", DECISION), key, cert, ca)
    ids = {k: upload(client, case["id"], v, filename=f"{k}.pdf").get_json()["id"] for k, v in {
        "signed": signed, "updated": signing.changed_after_signing(signed), "flipped": signing.flipped(signed)}.items()}
    drain(archive)
    sig = {k: examined(client, v)["signatures"] for k, v in ids.items()}
    [good] = sig["signed"]
    assert good["kind"] == "pdf" and good["result"] == "验证通过" and good["coverage"] == "whole"
    assert good["intact"] and good["valid"] and good["trusted"] is True and "张执法" in good["signer"]
    assert good["seal_name"] == "执法签章" and good["signed_at"]
    [updated] = sig["updated"]
    assert updated["coverage"] == "revision" and updated["result"] == "签章后文件被修改" and updated["intact"] is True
    assert "早期版本" in updated["reason"]
    [flipped] = sig["flipped"]
    assert flipped["intact"] is False and flipped["result"] == "签章后文件被修改"
    page = client.get(f"/documents/{ids['signed']}").get_data(as_text=True)
    assert "PDF 数字签名" in page and "张执法（测试市司法局）" in page and "证书链可信" in page


def test_a_signature_timestamp_is_reported(client, archive, pki):
    """A signature with an embedded RFC 3161 timestamp (a time-stamping authority of the tests' CA)."""
    ca, key, cert, _, ca_key = pki
    tsa_key, tsa_cert = signing.make_signer_cert(ca_key, ca, cn="测试时间戳", tsa=True)
    case = new_case(client)
    signed = signing.sign_pdf(make_pdf("决定书", DECISION), key, cert, ca, tsa=(tsa_key, tsa_cert))
    doc_id = upload(client, case["id"], signed).get_json()["id"]
    drain(archive)
    [sig] = examined(client, doc_id)["signatures"]
    assert sig["result"] == "验证通过" and sig["timestamp"] and sig["timestamp"][:4] >= "2026"
    assert "时间戳" in client.get(f"/documents/{doc_id}").get_data(as_text=True)


def test_without_roots_a_valid_pdf_signature_is_never_called_trusted(client, archive, pki):
    ca, key, cert, _, _ = pki
    case = new_case(client)
    doc_id = upload(client, case["id"], signing.sign_pdf(make_pdf("决定书", DECISION), key, cert, ca)).get_json()["id"]
    drain(archive)
    [sig] = examined(client, doc_id)["signatures"]
    assert sig["result"] == "验证通过" and sig["trusted"] is None and "未配置信任根" in sig["reason"]


def test_a_version_is_examined_once_under_concurrent_workers(client, archive):
    """Two workers examining the same version record one row (the unique constraint decides)."""
    case = new_case(client)
    doc_id = upload(client, case["id"], ofd.sealed([DECISION])).get_json()["id"]
    settings = service.settings_of(archive.config)
    rows = concurrently(4, lambda i: service.examine(archive.sessions, archive.store, settings, doc_id))
    assert len({r.id for r in rows}) == 1
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Examination).where(Examination.document_id == doc_id)) == 1
        assert json.loads(s.scalar(select(Examination.signatures)))[0]["result"] == "验证通过"
    drain(archive)  # the queued job finds the row and adds none
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Examination)) == 1
