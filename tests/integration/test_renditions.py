"""PDF/A renditions of editable documents, made by real LibreOffice in the background: stored
write-once beside the original with its retention, recorded (SHA-256, size, PDF/A checks, the
original's text), once per version; the binder shows them, 转换中 before and why after a failure."""
from __future__ import annotations

import hashlib
import re
import io

from pypdf import PdfReader
from sqlalchemy import func, select

from archive.demo.documents import make_docx
from archive.models import Document, Rendition
from archive.services import renditions as service
from tests.conftest import concurrently, drain, new_case, upload

WORDS = "当事人天津宏泰食品有限公司销售超过保质期的食品"


def binder_text(client, case_id: str) -> str:
    reader = PdfReader(io.BytesIO(client.get(f"/api/cases/{case_id}/binder.pdf").data))
    return "".join(p.extract_text() or "" for p in reader.pages).replace("\x00", "")


def test_a_docx_gets_a_checked_pdfa_rendition_used_by_the_binder(app, client, archive, tmp_path):
    case = new_case(client, opened_on="2026-08-03")
    r = upload(client, case["id"], make_docx("询问笔录", ["问：你叫什么名字？", WORDS]), filename="询问笔录.docx",
               stage="filing", form="filing_approval")
    assert r.status_code == 201
    doc_id = r.get_json()["id"]
    drain(archive)  # the text and the index; no rendition yet
    with archive.sessions() as s:
        doc = s.get(Document, doc_id)
        assert service.state(s, doc) == "pending"
    assert "转换中" in binder_text(client, case["id"])
    assert "转换中" in client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert client.get(f"/api/documents/{doc_id}").get_json()["rendition"] == {"status": "pending"}

    drain(archive, renditions=True)
    drain(archive, renditions=True)  # a second round makes nothing again
    with archive.sessions() as s:
        doc = s.get(Document, doc_id)
        rows = s.scalars(select(Rendition).where(Rendition.document_id == doc_id)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.status == "done" and row.source_version_id == doc.version_id
        assert row.pdfa_valid is True and row.pdfa_problems == "", row.pdfa_problems
        assert row.text_equal is True and row.pages == 1
        assert row.object_key == f"cases/{case['id']}/renditions/{doc_id}/{doc.version_id}"
        original = archive.store.stat(doc.object_key, doc.version_id)
    body = b"".join(archive.store.open(row.object_key, row.version_id))
    assert hashlib.sha256(body).hexdigest() == row.sha256 and len(body) == row.size
    assert body.startswith(b"%PDF") and b"pdfaid:part" in body
    stored = archive.store.stat(row.object_key, row.version_id)
    assert stored.retain_until is not None and stored.retain_until == original.retain_until  # kept as long
    text = binder_text(client, case["id"])
    assert "转换中" not in text and "你叫什么名字" in text and WORDS in text.replace("\n", "")
    # the API says so and serves it, verified; the document page previews it instead of the text
    got = client.get(f"/api/documents/{doc_id}").get_json()["rendition"]
    assert got["status"] == "done" and got["pdfa_valid"] is True and got["text_equal"] is True
    pdf = client.get(f"/api/documents/{doc_id}/rendition")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == body
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert f'data-src="/api/documents/{doc_id}/rendition"' in page and "PDF/A 转换件" in page
    assert f'href="/api/documents/{doc_id}/rendition">下载 PDF/A 转换件' in page
    # the bundle carries the original and its rendition, both in the manifest; the bag validates
    import zipfile

    import bagit

    with zipfile.ZipFile(io.BytesIO(client.get(f"/api/cases/{case['id']}/bundle").data)) as z:
        names = z.namelist()
        z.extractall(tmp_path)
        manifest = z.read(f"case-{case['id']}/manifest-sha256.txt").decode()
    files = [n for n in names if "/data/" in n]
    assert len(files) == 2 and files[1] == files[0] + ".pdfa.pdf", files
    assert f"{row.sha256}  data/" in manifest and manifest.count("\n") == 2
    bagit.Bag(str(tmp_path / f"case-{case['id']}")).validate()


def test_a_conversion_that_fails_is_recorded_with_its_reason_and_shown(app, client, archive):
    case = new_case(client, opened_on="2026-08-03")
    doc_id = upload(client, case["id"], make_docx("询问笔录", [WORDS]), filename="询问笔录.docx", stage="filing",
                    form="filing_approval").get_json()["id"]
    from archive.services.renditions import RenderSettings
    from archive.worker import drain as do_drain

    broken = RenderSettings("/bin/false")  # a LibreOffice that fails
    do_drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings, broken)
    with archive.sessions() as s:
        row = s.scalar(select(Rendition).where(Rendition.document_id == doc_id))
        assert row.status == "failed" and "LibreOffice" in row.reason and row.object_key is None
        assert service.summary(s) == {"done": 0, "failed": 1, "pending": 0}
    assert "转换失败" in binder_text(client, case["id"])
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "转换失败：LibreOffice 转换失败" in page and WORDS in page  # why, and the original's text
    assert client.get(f"/api/documents/{doc_id}/rendition").status_code == 404
    # `archive renditions --document` tries a failed one again; the real LibreOffice makes it
    with archive.sessions() as s:
        assert service.queue(s, "document", doc_id) == 1
    drain(archive, renditions=True)
    with archive.sessions() as s:
        assert s.scalar(select(Rendition.status).where(Rendition.document_id == doc_id)) == "done"
        assert s.scalar(select(func.count()).select_from(Rendition)) == 1
        assert service.summary(s) == {"done": 1, "failed": 0, "pending": 0}
    health = client.get("/api/health").get_json()
    assert health["renditions"] == {"done": 1, "failed": 0, "pending": 0, "libreoffice": True}


def test_fixity_checks_the_renditions_too(app, client, archive):
    import datetime as dt

    from archive.models import FixityEvent
    from archive.services import fixity

    case = new_case(client, opened_on="2026-08-03")
    doc_id = upload(client, case["id"], make_docx("询问笔录", [WORDS]), filename="询问笔录.docx", stage="filing",
                    form="filing_approval").get_json()["id"]
    drain(archive, renditions=True)
    at = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
    with archive.sessions() as s:
        doc = s.get(Document, doc_id)
        row = s.scalar(select(Rendition).where(Rendition.document_id == doc_id))
        events = {e.object_key: e.result for e in fixity.check_document(s, archive.store, doc, at)}
        assert events == {doc.object_key: "ok", row.object_key: "ok"}
        row.sha256 = "0" * 64  # as if the stored bytes had changed since the rendition was recorded
        s.flush()
        events = {e.object_key: (e.result, e.detail) for e in fixity.check_document(s, archive.store, doc, at)}
        assert events[doc.object_key][0] == "ok" and events[row.object_key][0] == "damaged", events
        s.rollback()
        assert s.scalar(select(func.count()).select_from(FixityEvent)) == 0  # (nothing recorded by this test)


def test_the_binder_holds_every_kind_of_document_in_contents_order(app, client, archive):
    """DOCX and OFD by their PDF/A renditions, PDFs as they are, images as pages: each one's
    text (or image) is on the binder page the 卷内目录 gives it."""
    from PIL import Image

    from archive.demo.documents import make_pdf
    from archive.demo import ofd

    case = new_case(client, opened_on="2026-08-03")
    photo = io.BytesIO()
    Image.new("RGB", (300, 200), (30, 90, 160)).save(photo, "PNG")
    docs = [  # in filing order: stage by stage
        ("filing", "filing_approval", "立案审批表.docx", make_docx("立案审批表", ["立案理由：销售超过保质期的食品"]), "立案理由"),
        ("investigation", "inquiry_record", "询问笔录.pdf", make_pdf("询问笔录", ["被询问人：张宏泰"]), "被询问人"),
        ("investigation", "photo_evidence", "现场照片.png", photo.getvalue(), None),
        ("decision", "penalty_decision", "决定书.ofd", ofd.sealed([["行政处罚决定书", "罚款人民币伍仟元整"]]), "伍仟元整"),
    ]
    for stage, form, name, data, _ in docs:
        assert upload(client, case["id"], data, filename=name, stage=stage, form=form).status_code == 201
    drain(archive, renditions=True)
    with archive.sessions() as s:
        ofd_doc = s.scalar(select(Document).where(Document.filename == "决定书.ofd"))
        ofd_rendition = service.current(s, ofd_doc)
        assert ofd_rendition.status == "done" and ofd_rendition.pdfa_valid and ofd_rendition.text_equal
    reader = PdfReader(io.BytesIO(client.get(f"/api/cases/{case['id']}/binder.pdf").data))
    pages = ["".join((p.extract_text() or "").replace("\x00", "").split()) for p in reader.pages]
    contents = (reader.pages[1].extract_text() or "").replace("\x00", "")
    starts = []
    for _, _, name, _, _ in docs:  # each row: number, form：name, stage, upload time, first page
        row = re.search(re.escape(name) + r".*?\d{4}-\d{2}-\d{2}\s*\d{2}:\d{2}\s*(\d+)\s*$", contents, re.M)
        assert row, (name, contents)
        starts.append(int(row.group(1)))
    assert starts == sorted(starts) and len(set(starts)) == 4 and starts[-1] == len(reader.pages)
    for (_, _, name, _, words), start in zip(docs, starts):
        page = reader.pages[start - 1]
        if words:
            assert words in pages[start - 1], (name, pages[start - 1])
        else:  # the image is drawn on its page
            assert any(k for k in page["/Resources"].get("/XObject", {}).keys()), name
    assert "转换中" not in contents and "附件" not in contents


def test_a_version_is_rendered_once_under_concurrent_workers(app, client, archive):
    """Workers rendering the same version at once (the job's lease keeps this rare: a worker and
    ``archive renditions`` together) record one rendition row — the unique constraint decides; a
    loser's copy stays an unreferenced version of the same key, which retention keeps."""
    from archive.demo import ofd

    case = new_case(client)
    doc_id = upload(client, case["id"], ofd.sealed([["行政处罚决定书", "罚款人民币伍仟元整"]]), filename="决定书.ofd").get_json()["id"]
    rs = service.RenderSettings(soffice="unused-for-ofd")
    rows = concurrently(3, lambda i: service.render(archive.sessions, archive.store, archive.ingest_settings, rs, doc_id))
    assert len({r.id for r in rows}) == 1 and rows[0].status == "done" and rows[0].pdfa_valid
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Rendition).where(Rendition.document_id == doc_id)) == 1
