"""The Chinese font the archive embeds in the PDFs it makes (binder cover and contents; demo files)."""
from __future__ import annotations

import glob
import os
from functools import lru_cache

_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/**/*CJK*Regular*.tt[cf]",
    "/usr/share/fonts/**/*[Ff]allback*.ttf",
    "/usr/share/fonts/**/wqy*.tt[cf]",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font file with Chinese glyphs: ARCHIVE_CJK_FONT, else Debian's fonts-noto-cjk."""
    env = os.environ.get("ARCHIVE_CJK_FONT")
    if env and os.path.exists(env):
        return env
    for pattern in _FONT_GLOBS:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    return None


class FontMissing(RuntimeError):
    """No Chinese font to embed in a PDF."""


def cjk_fpdf():
    """An A4 fpdf2 document with the Chinese font registered as "cjk" (FontMissing without one)."""
    from fpdf import FPDF

    font = cjk_font()
    if font is None:
        raise FontMissing("no Chinese font found: apt-get install fonts-noto-cjk (or set ARCHIVE_CJK_FONT)")
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("cjk", fname=font, collection_font_number=0)
    return pdf
