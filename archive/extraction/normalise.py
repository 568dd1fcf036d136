"""Normalisation of extracted text for the index (the original is kept for display)."""
from __future__ import annotations

import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff\u3000-\u303f\uff00-\uffef"
# A line break (with any spaces around it) between two CJK characters is layout, not text:
# PDFs wrap 停产停业 across lines.
# (A line break is looked for first and its neighbours checked after: a look-behind tried at every
# character made this the slowest step of a snippet.)
_BREAK = re.compile(r"[ \t]*\r?\n[ \t\r\n]*")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


def _join_cjk_lines(text: str) -> str:
    """Remove each line break (with the spaces around it) that stands between two CJK characters."""
    def join(m: re.Match) -> str:
        start, end = m.start(), m.end()
        if start > 0 and end < len(text) and _CJK_CHAR.match(text, start - 1) and _CJK_CHAR.match(text, end):
            return ""
        return m.group()

    return _BREAK.sub(join, text) if "\n" in text else text
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Characters whose NFKC form matters for finding them: full-width letters and digits, CJK
# compatibility ideographs, Kangxi and supplementary radicals, odd spaces.
_FOLD = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uf900-\ufaff\u2f00-\u2fdf"
                   "\u2e80-\u2eff\U0002f800-\U0002fa1f\u00a0]")


_RUNS = re.compile(r"[\t\u00a0][ \t\u00a0]*| [ \t\u00a0]+")  # runs of blanks other than one space


def display_text(text: str) -> str:
    """Text for snippets: the letters, digits and ideographs of :func:`normalise` (so that the
    same matches are found) but Chinese punctuation kept as the document has it."""
    text = unicodedata.normalize("NFC", text)
    text = _FOLD.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _CONTROL.sub(" ", text)
    text = _join_cjk_lines(text)
    text = _RUNS.sub(" ", text)
    return text.strip()


def normalise(text: str) -> str:
    """NFKC (folds look-alike compatibility characters such as ⾏ and 不), joins CJK lines."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _join_cjk_lines(text)
    text = _SPACES.sub(" ", text)
    return text.strip()
