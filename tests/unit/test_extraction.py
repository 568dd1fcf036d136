"""Media-type detection and text extraction on files made here (pure, no servers)."""
from __future__ import annotations

import io
import zipfile

from archive.demo.documents import make_docx, make_pdf, make_scanned_pdf
from archive.extraction import detect_media_type, extract
from archive.extraction.base import ExtractLimits
from archive.extraction.detect import DOCX
from archive.extraction.text import decode_text

DECISION = ["当事人天津宏泰食品有限公司销售超过保质期的食品。", "本机关决定：责令停产停业，并处罚款人民币五万元。"]


def zip_bomb_docx(size=300 * 1024 * 1024) -> bytes:
    """A DOCX-looking zip whose document.xml inflates to ``size`` bytes of zeros."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(size // len(block)):
                member.write(block)
    return buf.getvalue()


def test_detects_types_from_bytes_not_names():
    assert detect_media_type(io.BytesIO(make_pdf("决定书", DECISION))) == "application/pdf"
    assert detect_media_type(io.BytesIO(make_docx("笔录", ["问：", "答："]))) == DOCX
    assert detect_media_type(io.BytesIO("询问笔录".encode("gb18030"))) == "text/plain"
    assert detect_media_type(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)) == "image/png"
    assert detect_media_type(io.BytesIO(b"\xff\xd8\xff\xe0" + b"\0" * 100)) == "image/jpeg"
    assert detect_media_type(io.BytesIO(bytes(range(256)) * 4)) == "application/octet-stream"


def test_pdf_text_is_extracted_with_page_count():
    r = extract(io.BytesIO(make_pdf("行政处罚决定书", DECISION, pages=3)), "application/pdf")
    assert r.status == "extracted" and r.pages == 3
    assert "停产停业" in r.text.replace("\n", "")


def test_pdf_without_text_layer_is_marked_not_failed():
    r = extract(io.BytesIO(make_scanned_pdf()), "application/pdf")
    assert r.status == "no_text_layer" and r.pages == 1


def test_encrypted_and_corrupt_pdfs_fail_with_reason():
    enc = extract(io.BytesIO(make_pdf("决定书", DECISION, encrypt_password="s3cret")), "application/pdf")
    assert enc.status == "failed" and "encrypted" in enc.reason
    bad = extract(io.BytesIO(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage"), "application/pdf")
    assert bad.status == "failed" and bad.reason


def test_docx_paragraphs_tables_headers_and_footers():
    data = make_docx("询问笔录", ["问：你对记录有无补充？"], table=[["当事人", "天津宏泰食品有限公司"]],
                     header="武清区市场监督管理局", footer="第1页")
    r = extract(io.BytesIO(data), DOCX)
    assert r.status == "extracted"
    for expected in ("询问笔录", "有无补充", "天津宏泰食品有限公司", "武清区市场监督管理局", "第1页"):
        assert expected in r.text


def test_zip_bomb_docx_is_refused_without_inflating():
    r = extract(io.BytesIO(zip_bomb_docx()), DOCX, ExtractLimits(max_unzipped_bytes=50 * 1024**2))
    assert r.status == "failed" and "zip bomb" in r.reason


def test_corrupt_docx_fails_cleanly():
    r = extract(io.BytesIO(b"PK\x03\x04 not really a zip"), DOCX)
    assert r.status == "failed"


def test_plain_text_utf8_and_gb18030():
    assert decode_text("责令改正".encode("utf-8"))[1] == "utf-8"
    text, enc = decode_text("责令改正通知书，罚款".encode("gbk"))
    assert text == "责令改正通知书，罚款" and enc == "gb18030"
    r = extract(io.BytesIO("现场检查笔录".encode("gb18030")), "text/plain")
    assert r.text == "现场检查笔录"


def test_unknown_types_are_kept_as_evidence_and_images_left_to_ocr():
    r = extract(io.BytesIO(b"PK\x03\x04"), "application/zip")
    assert r.status == "not_extracted" and "evidence" in r.reason
    r = extract(io.BytesIO(b"\x89PNG"), "image/png")
    assert r.status == "not_extracted" and "OCR" in r.reason


def test_a_huge_docx_body_is_streamed_and_cut_at_the_text_limit(monkeypatch):
    """Past STREAM_ABOVE the body is read by iterparse (memory bounded), with the same paragraphs."""
    import tracemalloc

    from archive.extraction import docx as docx_extractor

    paras = [f"第{i}段：责令停产停业，并处罚款人民币{i}元。" for i in range(3000)]
    data = make_docx("行政处罚决定书", paras)
    whole = extract(io.BytesIO(data), DOCX)  # python-docx
    monkeypatch.setattr(docx_extractor, "STREAM_ABOVE", 1024)
    streamed = extract(io.BytesIO(data), DOCX)
    assert streamed.status == "extracted" and streamed.text == whole.text
    limits = ExtractLimits(max_text_chars=10_000)
    tracemalloc.start()
    cut = extract(io.BytesIO(data), DOCX, limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert cut.status == "truncated" and len(cut.text) == 10_000 and cut.text == whole.text[:10_000]
    assert "10000" in cut.reason and peak < 20 * 1024**2
