"""The pages of a stored file as images to read, within limits that keep hostile files out.

Runs in the OCR process (see :mod:`archive.ocr.runner`), never in the web or index worker: a
decoder that crashes or a page that takes too long only costs that process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from PIL import Image, ImageOps

PDF = "application/pdf"


@dataclass(frozen=True)
class OcrLimits:
    """Bounds per document (``ARCHIVE_OCR_*``); a document beyond them is kept, with the reason."""

    max_pages: int = 100
    page_seconds: float = 180.0
    max_pixels: int = 100_000_000  # pixels of one image (a decompression bomb declares far more)
    dpi: int = 300  # PDF pages without text are rendered at this resolution…
    render_pixels: int = 40_000_000  # …but at most this many pixels (a poster-sized page is scaled down)
    max_text_chars: int = 1024**2  # text kept per document, as for extraction (ARCHIVE_EXTRACT_MAX_TEXT_CHARS)


class Refused(Exception):
    """The file is beyond the limits: kept, not read."""


class Unreadable(Exception):
    """The file is corrupt or not what its type says: kept, marked failed."""


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.0f} 百万像素" if n >= 1e6 else f"{n} 像素"


def _check_size(size: tuple[int, int], limits: OcrLimits, what: str) -> None:
    w, h = size
    if w * h > limits.max_pixels:
        raise Refused(f"{what} {w}×{h} 像素（{_megapixels(w * h)}）超过识别上限 "
                      f"{_megapixels(limits.max_pixels)}（防解压炸弹）：原件已保存，未识别")


def count_pages(path: str, media_type: str, limits: OcrLimits) -> int:
    """How many pages (frames of a TIFF) the file has; Refused or Unreadable."""
    if media_type == PDF:
        pdf = _open_pdf(path)
        try:
            return len(pdf)
        finally:
            pdf.close()
    with _open_image(path, limits) as img:
        return getattr(img, "n_frames", 1) if media_type in ("image/tiff", "image/gif") else 1


def pages(path: str, media_type: str, limits: OcrLimits, start: int = 0) -> Iterator[tuple[int, str | Image.Image]]:
    """``(index, page)`` from ``start``: a PDF page's own text where it has a text layer (no OCR
    needed), else the page as an image. Raises Refused (a frame over the pixel limit refuses the
    whole file) or Unreadable."""
    if media_type == PDF:
        yield from _pdf_pages(path, limits, start)
        return
    with _open_image(path, limits) as img:
        frames = getattr(img, "n_frames", 1)
        for i in range(start, min(frames, limits.max_pages)):
            try:
                img.seek(i)
                _check_size(img.size, limits, f"第 {i + 1} 页图像")
                page = ImageOps.exif_transpose(img) if i == 0 else img.copy()
                page.load()
            except Refused:
                raise
            except (OSError, ValueError, SyntaxError) as exc:
                raise Unreadable(f"第 {i + 1} 页图像无法解码（{type(exc).__name__}: {str(exc)[:160]}）：原件已保存") from exc
            yield i, page


def _open_image(path: str, limits: OcrLimits) -> Image.Image:
    # Pillow's own guard would refuse a bomb without naming its size; ours names it. Only the
    # header is read here, and no image over the limit is decoded.
    Image.MAX_IMAGE_PIXELS = None
    try:
        img = Image.open(path)  # reads the header only
    except (OSError, ValueError, SyntaxError) as exc:
        raise Unreadable(f"图像无法读取（{type(exc).__name__}: {str(exc)[:160]}）：原件已保存") from exc
    try:
        _check_size(img.size, limits, "图像")
    except Refused:
        img.close()
        raise
    return img


def _open_pdf(path: str):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise Unreadable(f"PDF 无法打开（{str(exc)[:160]}）：原件已保存") from exc


def _pdf_pages(path: str, limits: OcrLimits, start: int) -> Iterator[tuple[int, str | Image.Image]]:
    pdf = _open_pdf(path)
    try:
        for i in range(start, min(len(pdf), limits.max_pages)):
            page = pdf[i]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                if text.strip():
                    yield i, text
                    continue
                w, h = page.get_size()  # points (1/72 inch)
                scale = limits.dpi / 72
                if w * h * scale * scale > limits.render_pixels:
                    scale = (limits.render_pixels / (w * h)) ** 0.5
                image = page.render(scale=scale, grayscale=True).to_pil()
            except Exception as exc:  # pdfium raises its own errors and plain ones
                raise Unreadable(f"PDF 第 {i + 1} 页无法渲染（{type(exc).__name__}: {str(exc)[:160]}）：原件已保存") from exc
            finally:
                page.close()
            yield i, image
    finally:
        pdf.close()
