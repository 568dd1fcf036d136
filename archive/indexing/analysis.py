"""Chinese-first analysis shared by every engine: character positions for Ctrl-F recall,
rjieba words for ranking.

Every searchable character (CJK, Latin letter, digit) of the normalised text gets a slot pair:
its unigram at position ``2i`` and, at ``2i + 1``, the bigram it makes with the next character
when that one follows it directly and is of the same class (both CJK, or both letters/digits).
A query piece (a run of one class) of one character is its unigram; a longer piece is all its
overlapping bigrams, two positions apart. Run as a phrase, a term therefore matches exactly
where its characters stand together in the text — what Ctrl-F finds, including a character cut
from the middle of a word (``罚``), a plate ``京A·12345`` whose ``京`` ends a longer run
(``车牌京A``), or a string cut at punctuation (``款。逾期``) — while characters scattered across
the text match nothing. Punctuation and spaces, and the change between Chinese and letters or
digits, are not required to match: ``津武市监罚2026`` finds ``津武市监罚〔2026〕``.

``ANALYSIS_VERSION`` names this scheme; an index built with another one is rebuilt.
"""
from __future__ import annotations

import re
from typing import Iterator

import rjieba

from archive.extraction.normalise import normalise

ANALYSIS_VERSION = "2"  # 1: CJK bigrams and whole words; 2: per-character slots (this module)
CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
ALNUM_CLASS = "0-9A-Za-z\u00c0-\u024f"
RUN = re.compile(rf"([{CJK_CLASS}]+)|([{ALNUM_CLASS}]+)")
FILL = "_"  # the bigram slot of a character with no same-class neighbour; never a query token


def runs(text: str) -> list[tuple[str, int]]:
    """(run, start offset) for every run of one class (CJK, or letters and digits) of ``text``."""
    return [(m.group(0), m.start()) for m in RUN.finditer(text)]


def slot_tokens(text: str) -> list[str]:
    """The token at each position of ``text`` (normalised): unigrams at even positions, the
    bigram or FILL at odd ones. Tantivy takes them joined by spaces; Whoosh skips FILL."""
    out: list[str] = []
    for m in RUN.finditer(text):
        run = m.group(0).lower()
        for i in range(len(run) - 1):
            out.append(run[i])
            out.append(run[i:i + 2])
        out.append(run[-1])
        out.append(FILL)
    return out


def slot_positions(text: str) -> Iterator[tuple[str, int, int, int]]:
    """(token, position, start char, end char) of every non-FILL token of ``text``."""
    pos = 0
    for m in RUN.finditer(text):
        run, start = m.group(0).lower(), m.start()
        for i, ch in enumerate(run):
            yield ch, pos, start + i, start + i + 1
            if i + 1 < len(run):
                yield run[i:i + 2], pos + 1, start + i, start + i + 2
            pos += 2


def query_tokens(term: str) -> list[tuple[int, str]]:
    """(relative position, token) that a term's phrase needs, in order: a one-character piece
    is its unigram, a longer piece its overlapping bigrams."""
    out: list[tuple[int, str]] = []
    pos = 0
    for run, _ in runs(normalise(term)):
        run = run.lower()
        if len(run) == 1:
            out.append((pos, run))
        else:
            out.extend((pos + 2 * i + 1, run[i:i + 2]) for i in range(len(run) - 1))
        pos += 2 * len(run)
    if out and out[0][0]:
        first = out[0][0]
        out = [(p - first, t) for p, t in out]
    return out


def words(text: str) -> list[str]:
    """Words of ``text`` by rjieba, lower-cased, punctuation and spaces dropped."""
    return [w.lower() for w in rjieba.cut(text) if RUN.search(w) and not w.isspace()]


__all__ = ["ANALYSIS_VERSION", "FILL", "RUN", "normalise", "query_tokens", "runs", "slot_positions",
           "slot_tokens", "words"]
