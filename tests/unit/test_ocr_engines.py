"""The OCR engines on pages rendered from known text: what they read, how the text is tidied,
and the limits that keep hostile images out (no database or object store needed)."""
from __future__ import annotations

import re

import pytest
from PIL import Image

from archive.demo.scans import render_page, scanner_noise
from archive.extraction.normalise import normalise
from archive.ocr.engines import RapidOcrEngine, TesseractEngine, tidy_line
from archive.ocr.pages import OcrLimits, Refused, Unreadable, count_pages, pages

NOTICE = ("责令改正通知书", ["当事人：天津宏泰食品有限公司", "经查，你单位销售超过保质期的食品，违反了食品安全法的规定。",
                          "现责令你单位于二〇二六年十二月十日前改正上述违法行为。"])


def test_spaces_between_chinese_characters_are_removed_but_not_between_words():
    assert tidy_line("行 政 处 罚 决 定 书") == "行政处罚决定书"
    assert tidy_line("罚 款 ， 人 民 币") == "罚款，人民币"
    assert tidy_line("No. 12 号 ABC def") == "No. 12 号 ABC def"
    assert tidy_line("当事人 : 天津 ( 宏泰 )") == "当事人:天津(宏泰)"
    assert tidy_line("  统一社会信用代码 91120222MA05K3LX2Q ") == "统一社会信用代码 91120222MA05K3LX2Q"


def _cer(read: str, truth: str) -> float:
    import Levenshtein

    a, b = re.sub(r"\s+", "", normalise(read)), re.sub(r"\s+", "", normalise(truth))
    return Levenshtein.distance(a, b) / len(b)


@pytest.fixture(scope="module")
def notice():
    return render_page(*NOTICE, height_inches=4.0)


def test_rapidocr_reads_a_clean_and_a_noisy_skewed_page(notice):
    img, truth = notice
    engine = RapidOcrEngine()
    clean = engine.read(img)
    assert _cer(clean.text, truth) <= 0.03 and clean.rotation == 0
    noisy = engine.read(scanner_noise(img, skew=3.0))
    assert _cer(noisy.text, truth) <= 0.08
    assert abs(noisy.skew + 3.0) < 1.0 or abs(noisy.skew - 3.0) < 1.0  # the skew was found and straightened
    assert noisy.confidence is not None and noisy.confidence > 0.8


def test_tesseract_reads_chinese_without_spaces_between_characters(notice):
    img, truth = notice
    page = TesseractEngine().read(img)
    assert " " not in re.sub(r"[A-Za-z0-9] [A-Za-z0-9]", "", page.text)
    assert _cer(page.text, truth) <= 0.08
    assert "责令改正通知书" in normalise(page.text).replace(" ", "")
    sideways = TesseractEngine().read(img.transpose(Image.Transpose.ROTATE_90))
    assert sideways.rotation == 90 and _cer(sideways.text, truth) <= 0.08


def test_image_limits_refuse_bombs_by_their_header_and_mark_broken_files(tmp_path):
    big = tmp_path / "big.png"
    Image.new("1", (12_000, 10_000), 1).save(big)  # 120 Mpx, small on disk
    with pytest.raises(Refused, match="12000×10000"):
        count_pages(str(big), "image/png", OcrLimits())
    assert count_pages(str(big), "image/png", OcrLimits(max_pixels=200_000_000)) == 1
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    with pytest.raises(Unreadable):
        list(pages(str(junk), "image/jpeg", OcrLimits()))
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.7\n" + b"garbage" * 20)
    with pytest.raises(Unreadable, match="PDF"):
        count_pages(str(fake), "application/pdf", OcrLimits())


def test_a_poster_sized_pdf_page_is_rendered_within_the_pixel_budget(tmp_path):
    from fpdf import FPDF

    pdf = FPDF(format=(2000, 2000))  # 2 m × 2 m: 560 Mpx at 300 dpi
    pdf.add_page()
    pdf.rect(100, 100, 500, 500)
    path = tmp_path / "poster.pdf"
    pdf.output(str(path))
    [(index, image)] = list(pages(str(path), "application/pdf", OcrLimits(render_pixels=4_000_000)))
    assert index == 0 and isinstance(image, Image.Image)
    assert image.width * image.height <= 4_000_000


def test_a_frame_over_the_limit_is_skipped_and_the_others_read_within_the_text_limit(tmp_path):
    """The OCR process on a TIFF: frame 2 is over the pixel limit and is named, frames 1 and 3
    are read; the text is cut at the document's text limit, and the reason says so."""
    from archive.ocr.runner import OcrRunner

    page, _ = render_page(*NOTICE, dpi=200, height_inches=4.0)
    path = tmp_path / "scan.tif"
    page.save(path, save_all=True, append_images=[Image.new("L", (2000, 2000), 255), page])
    runner = OcrRunner("rapidocr", limits=OcrLimits(max_pixels=3_000_000))
    try:
        whole = runner.read_document(str(path), "image/tiff")
    finally:
        runner.close()
    assert whole.status == "ocr" and whole.pages == 3 and whole.read == 2
    assert any("第 2 页图像 2000×2000" in s for s in whole.skipped), whole.skipped
    assert [("天津宏泰食品有限公司" in p) for p in whole.text.split("\f")] == [True, False, True]
    cut = OcrRunner("rapidocr", limits=OcrLimits(max_pixels=3_000_000, max_text_chars=30))
    try:
        short = cut.read_document(str(path), "image/tiff")
    finally:
        cut.close()
    assert len(short.text) == 30 and any("已截取前部" in s for s in short.skipped)
