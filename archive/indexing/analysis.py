"""Chinese-first analysis: character bigrams for recall, rjieba words for ranking.

Bigrams follow Lucene's CJK approach: a CJK run ``行政处罚`` becomes 行政 政处 处罚 at consecutive
positions, so a query analysed the same way and run as a phrase finds exactly the documents in
which the characters stand together (what Ctrl-F would find), including words no dictionary
knows. Letters and digits form whole lower-cased tokens. Punctuation separates runs.
"""
from __future__ import annotations

import re
from typing import Iterator

import rjieba
from whoosh.analysis import Token, Tokenizer

from archive.extraction.normalise import normalise

CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
RUN = re.compile(rf"([{CJK_CLASS}]+)|([0-9A-Za-z\u00c0-\u024f]+)")


def runs(text: str) -> list[tuple[str, int, bool]]:
    """(run, start offset, is_cjk) for every searchable run of ``text``."""
    return [(m.group(0), m.start(), m.group(1) is not None) for m in RUN.finditer(text)]


def bigram_tokens(text: str) -> Iterator[tuple[str, int, int]]:
    """(token, start char, end char) of the bigram analysis, in order."""
    for run, start, is_cjk in runs(text):
        if not is_cjk:
            yield run.lower(), start, start + len(run)
        elif len(run) == 1:
            yield run, start, start + 1
        else:
            for i in range(len(run) - 1):
                yield run[i:i + 2], start + i, start + i + 2


class BigramTokenizer(Tokenizer):
    """Whoosh tokenizer emitting CJK bigrams and whole alphanumeric words."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kw):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
        pos = start_pos
        for text, s, e in bigram_tokens(value):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            pos += 1
            yield t


def words(text: str) -> list[str]:
    """Words of ``text`` by rjieba, lower-cased, punctuation and spaces dropped."""
    return [w.lower() for w in rjieba.cut(text) if RUN.search(w)]


class WordTokenizer(Tokenizer):
    """Whoosh tokenizer emitting rjieba words (ranking only; no phrase positions needed)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kw):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
        pos = start_pos
        for w in words(value):
            t.text = w
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = pos
            pos += 1
            yield t


def bigram_analyzer() -> BigramTokenizer:
    return BigramTokenizer()


def word_analyzer() -> WordTokenizer:
    return WordTokenizer()


__all__ = ["BigramTokenizer", "WordTokenizer", "bigram_tokens", "normalise", "runs", "words"]
