"""Chinese-first analysis shared by every engine: character slots for Ctrl-F recall and
speed, rjieba words for ranking.

Every searchable character (CJK, Latin letter, digit) of the normalised text gets three
positions: its unigram, the bigram and the 4-gram starting at it (or a filler where its run —
characters of one class, CJK or letters/digits, standing together — ends first). Punctuation
or spaces between two runs of the same class leave a gap of one slot triple. A query piece (a
run of one class) is covered by its longest grams — 4-grams side by side, the last ending at the
piece's end; a 2- or 3-character piece by bigrams; a single character by its unigram — and run
as a phrase at the matching offsets. A term therefore matches exactly where its characters stand
together in the text, what Ctrl-F finds: a character cut from the middle of a word (``罚``), a
plate ``京A·12345`` whose ``京`` ends a longer run (``车牌京A``), a string cut at punctuation
(``款。逾期``), part of a credit code — while characters scattered across the text match nothing.
The covering is exact because every character is covered and punctuation inside a run of the
document would have shifted the positions by a gap; long phrases need few terms (12 characters:
three 4-grams), which keeps them fast at millions of documents.

Where a term changes between Chinese and letters or digits, punctuation in the text is not
required: ``津武市监罚2026`` finds ``津武市监罚〔2026〕``. Between two runs of one class some
punctuation or space must stand, of any kind and length: ``款。逾期`` finds ``款，逾期``, not
``款逾期`` nor ``款项逾期`` (the gap's first slot holds a mark that a query spanning punctuation
requires).

``ANALYSIS_VERSION`` names this scheme; an index built with another one is rebuilt.
"""
from __future__ import annotations

import re
from typing import Iterator

import rjieba

from archive.extraction.normalise import normalise

ANALYSIS_VERSION = "4"  # 1: CJK bigrams and whole words; 3: 1-, 2- and 4-gram slots with gaps; 4: gaps marked (this module)
CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
ALNUM_CLASS = "0-9A-Za-z\u00c0-\u024f"
RUN = re.compile(rf"([{CJK_CLASS}]+)|([{ALNUM_CLASS}]+)")
FILL = "_"  # a slot whose gram would run past the end of its run; never a query token
GRAMS = (1, 2, 4)  # gram sizes indexed at each character, one position each
WIDTH = len(GRAMS)
# Punctuation between two runs of one class: a slot group whose first slot holds GAP_MARK (a
# token no text yields). A query that spans punctuation requires the mark, so one character
# standing where the text has punctuation does not match (款。逾期 does not find 款项逾期).
GAP_MARK = "|"
GAP = [GAP_MARK] + [FILL] * (WIDTH - 1)


def runs(text: str) -> list[tuple[str, int]]:
    """(run, start offset) for every run of one class (CJK, or letters and digits) of ``text``."""
    return [(m.group(0), m.start()) for m in RUN.finditer(text)]


def _classed_runs(text: str) -> Iterator[tuple[str, int, bool]]:
    """(lower-cased run, start, gap before it): a run follows a run of its own class only
    across punctuation or spaces, which the positions keep as a gap of one slot group."""
    last: bool | None = None
    for m in RUN.finditer(text):
        cjk = m.group(1) is not None
        yield m.group(0).lower(), m.start(), last == cjk
        last = cjk


def slot_tokens(text: str) -> list[str]:
    """The token at each position of ``text`` (normalised): for each character, one slot per
    gram size (its unigram, its bigram, its 4-gram, or FILL where the run ends first); FILLs
    for a gap. Tantivy takes them joined by spaces; Whoosh skips FILL."""
    out: list[str] = []
    for run, _, gap in _classed_runs(text):
        if gap:
            out += GAP
        n = len(run)
        for i in range(n):
            out.append(run[i])
            out.append(run[i:i + 2] if i + 2 <= n else FILL)
            out.append(run[i:i + 4] if i + 4 <= n else FILL)
    return out


def slot_positions(text: str) -> Iterator[tuple[str, int, int, int]]:
    """(token, position, start char, end char) of every non-FILL token of ``text`` (a gap's
    mark spans the punctuation it stands for)."""
    pos = 0
    end = 0
    for run, start, gap in _classed_runs(text):
        if gap:
            yield GAP_MARK, pos, end, start
        pos += WIDTH * gap
        n = len(run)
        end = start + n
        for i in range(n):
            for k, g in enumerate(GRAMS):
                if i + g <= n:
                    yield run[i:i + g], pos + k, start + i, start + i + g
            pos += WIDTH


def query_tokens(term: str) -> list[tuple[int, str]]:
    """(relative position, token) that a term's phrase needs, in order. Each piece (a run of
    one class) is covered by its longest grams: side by side from its start, the last one
    ending at the piece's end (行政执法决定 → 行政执法 + 执法决定; 许可证 → 许可 + 可证). Exact,
    because every character is covered and any punctuation inside a run of the document would
    have shifted the positions by a gap."""
    out: list[tuple[int, str]] = []
    pos = 0
    for run, _, gap in _classed_runs(normalise(term)):
        if gap:
            out.append((pos, GAP_MARK))
        pos += WIDTH * gap
        n = len(run)
        k, g = max((k, g) for k, g in enumerate(GRAMS) if g <= n)
        starts = list(range(0, n - g + 1, g))
        if starts[-1] + g < n:
            starts.append(n - g)
        out.extend((pos + WIDTH * i + k, run[i:i + g]) for i in starts)
        pos += WIDTH * n
    if out and out[0][0]:
        first = out[0][0]
        out = [(p - first, t) for p, t in out]
    return out


def words(text: str) -> list[str]:
    """Words of ``text`` by rjieba, lower-cased; punctuation and spaces dropped (a word is
    kept when all its characters are letters, digits or ideographs)."""
    return [w for w in rjieba.cut(text.lower()) if w.isalnum()]


__all__ = ["ANALYSIS_VERSION", "FILL", "GAP_MARK", "RUN", "normalise", "query_tokens", "runs", "slot_positions",
           "slot_tokens", "words"]
