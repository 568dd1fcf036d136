"""Scanned pages and photographs of Chinese documents, made here from known text (demo data,
OCR tests and ``bench.ocr``): the text printed on them is known exactly."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from archive.casefile.fonts import FontMissing, cjk_font

A4_INCHES = (8.27, 11.69)


def render_page(title: str, paragraphs: list[str], dpi: int = 300, *, height_inches: float | None = None) -> tuple[Image.Image, str]:
    """An A4 page (greyscale) with a centred title and wrapped body text at 12 pt; returns the
    image and the text exactly as printed (lines joined). ``height_inches`` crops the page (a
    receipt, a half page)."""
    font_file = cjk_font()
    if font_file is None:
        raise FontMissing("no Chinese font found: apt-get install fonts-noto-cjk (or set ARCHIVE_CJK_FONT)")
    width = int(A4_INCHES[0] * dpi)
    height = int((height_inches or A4_INCHES[1]) * dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)

    def pt(points: float) -> int:
        return int(points * dpi / 72)

    title_font, body_font = ImageFont.truetype(font_file, pt(16)), ImageFont.truetype(font_file, pt(12))
    margin = int(dpi * 0.9)
    y = margin
    draw.text(((width - draw.textlength(title, font=title_font)) / 2, y), title, font=title_font, fill=0)
    y += pt(30)
    printed = [title]
    for paragraph in paragraphs:
        line = ""
        for ch in paragraph:
            if draw.textlength(line + ch, font=body_font) > width - 2 * margin:
                printed.append(line)
                line = ch
            else:
                line += ch
        printed.append(line)
    drawn = printed[:1]
    for line in printed[1:]:
        if y + pt(20) > height - margin // 2:
            break  # the rest does not fit on the page
        draw.text((margin, y), line, font=body_font, fill=0)
        drawn.append(line)
        y += pt(20)
    return img, "\n".join(drawn)


def scanner_noise(img: Image.Image, *, seed: int = 1, skew: float = 1.5, sigma: float = 25.0) -> Image.Image:
    """What a flatbed scanner or a phone adds: grain, a slight skew, a little blur."""
    import numpy as np

    a = np.asarray(img.convert("L")).astype(np.float32)
    a += np.random.default_rng(seed).normal(0, sigma, a.shape)
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if skew:
        out = out.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return out.filter(ImageFilter.GaussianBlur(0.6))


def photo(img: Image.Image, *, seed: int = 2) -> bytes:
    """The page as a phone photograph: warm paper tone, grain, skew, JPEG at quality 75."""
    rng = random.Random(seed)
    page = scanner_noise(img, seed=seed, skew=rng.uniform(1.0, 2.5), sigma=18.0)
    tinted = Image.merge("RGB", [page.point(lambda v: int(v * f)) for f in (0.97, 0.93, 0.85)])
    buf = io.BytesIO()
    tinted.save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def image_pdf(pages: list[Image.Image], dpi: int = 300) -> bytes:
    """An image-only PDF of ``pages`` (what a scanner without OCR produces): no text layer."""
    buf = io.BytesIO()
    first, *rest = [p.convert("L") for p in pages]
    first.save(buf, format="PDF", resolution=dpi, save_all=True, append_images=rest)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def scanned_pdf(title: str, paragraphs: list[str], dpi: int = 200) -> bytes:
    """A signed form as an office scanner stores it: one image-only page at ``dpi``, with grain
    and a slight skew."""
    img, _ = render_page(title, paragraphs, dpi=dpi, height_inches=5.5)
    return image_pdf([scanner_noise(img, skew=0.8, sigma=12.0)], dpi=dpi)
