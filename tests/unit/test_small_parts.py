"""Filenames, metadata encoding, configuration, organisation files (pure)."""
from __future__ import annotations

import datetime as dt
import io

import pytest

from archive.config import load_config
from archive.services.ingest import HashingSpool, clean_filename, retain_until
from archive.storage.base import decode_metadata, encode_metadata


@pytest.mark.parametrize("raw, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\行政处罚决定书.pdf", "行政处罚决定书.pdf"),
    ("询问\x00笔录\x1b[31m.docx", "询问笔录[31m.docx"),
    ("", "unnamed"),
    ("..", "unnamed"),
])
def test_clean_filename(raw, expected):
    assert clean_filename(raw) == expected


def test_clean_filename_keeps_extension_when_shortening():
    name = clean_filename("长" * 300 + ".pdf")
    assert len(name) == 100 and name.endswith(".pdf")


def test_metadata_round_trip_survives_chinese_and_is_ascii():
    meta = {"filename": "行政处罚决定书（2026）.pdf", "case-number": "津武市监罚〔2026〕12号"}
    enc = encode_metadata(meta)
    assert all(v.isascii() for v in enc.values())
    assert decode_metadata({"X-Amz-Meta-" + k: v for k, v in enc.items()}) == meta


def test_metadata_keys_must_be_plain_ascii():
    with pytest.raises(ValueError):
        encode_metadata({"文件名": "x"})


def test_hashing_spool_counts_hashes_and_enforces_limit():
    import hashlib

    data = "证据".encode() * 1000
    spool = HashingSpool.from_stream(io.BytesIO(data))
    assert spool.size == len(data) and spool.sha256 == hashlib.sha256(data).hexdigest()
    assert spool.read() == data
    from archive.errors import TooLarge

    with pytest.raises(TooLarge):
        HashingSpool.from_stream(io.BytesIO(data), max_bytes=100)


def test_retention_handles_leap_day():
    d = dt.datetime(2028, 2, 29, 12, tzinfo=dt.timezone.utc)
    assert retain_until(d, 30) == dt.datetime(2058, 2, 28, 12, tzinfo=dt.timezone.utc)


def test_config_layers_defaults_environment_and_overrides(tmp_path):
    cfg = load_config({"PORT": 9000}, environ={"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_PORT": "8100",
                                               "ARCHIVE_RETENTION_YEARS": "40"})
    assert cfg["PORT"] == 9000 and cfg["RETENTION_YEARS"] == 40
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    with pytest.raises(ValueError):
        load_config(environ={"ARCHIVE_RETENTION_MODE": "sometimes"})


def test_text_reasons_are_chinese_with_the_detail_folded_away():
    from archive.labels import ocr_engine_name, text_reason

    said, detail = text_reason("corrupt PDF: PdfStreamError: Stream has ended unexpectedly", "failed")
    assert said == "PDF 文件已损坏，无法读取其中的文字" and "PdfStreamError" in detail
    assert text_reason("等待文字识别（OCR）", "ocr_pending") == ("", "")  # not said twice
    assert text_reason("text cut at 1048576 characters (the stored document is whole)", "truncated")[0] \
        == "全文过长，只检索前 1048576 字（存档文件完整无缺）"
    assert text_reason("zip bomb: unpacks to more than 10 bytes", "failed")[0].startswith("文件解压后异常巨大")
    assert text_reason("application/zip: kept as evidence, no text extractor", "not_extracted")[0] == \
        "此类文件作为证据原样保存，不提取文字"
    assert text_reason("ValueError: odd", "failed") == ("读取文字时出错", "ValueError: odd")
    assert text_reason(None) == ("", "")
    assert ocr_engine_name("PP-OCRv4 (rapidocr-onnxruntime 1.4.4)").startswith("RapidOCR 中文文字识别")
    assert ocr_engine_name("chi_sim (5.3.0)").startswith("Tesseract 中文文字识别")


def test_scoring_form_items_are_shown_with_their_names():
    from archive.web.filters import review_item, vetoed_items

    assert review_item("F1") == "F1 使用规范执法文书格式"
    assert review_item("V6") == "V6 执法人员少于两人"
    assert review_item("ZZ") == "ZZ"
    assert vetoed_items('["V5", "V6"]') == ["V5 执法人员无行政执法证件（执法资格）", "V6 执法人员少于两人"]
    assert vetoed_items("not json") == []
