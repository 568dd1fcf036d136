"""Chinese analysis, the query language and Ctrl-F highlighting (pure)."""
from __future__ import annotations

import pytest

from archive.extraction.normalise import display_text, normalise
from archive.indexing.analysis import FILL, query_tokens, slot_positions, slot_tokens, words
from archive.indexing.query import QuerySyntaxError, Term, highlight, parse_terms, term_pattern
from archive.indexing.whoosh_index import SlotTokenizer


def test_each_character_has_its_unigram_then_its_bigram_or_the_filler():
    assert slot_tokens("行政处罚") == ["行", "行政", "政", "政处", "处", "处罚", "罚", FILL]
    # A class change (CJK / letters and digits) or punctuation ends the bigrams; letters are lower-cased.
    assert slot_tokens("京A·12") == ["京", FILL, "a", FILL, "1", "12", "2", FILL]


def test_query_tokens_are_unigrams_for_single_characters_and_bigrams_two_positions_apart():
    assert query_tokens("罚") == [(0, "罚")]
    assert query_tokens("行政处罚") == [(0, "行政"), (2, "政处"), (4, "处罚")]
    assert query_tokens("京A·12345") == [(0, "京"), (2, "a"), (5, "12"), (7, "23"), (9, "34"), (11, "45")]
    assert query_tokens("款。逾期") == [(0, "款"), (3, "逾期")]
    assert query_tokens("。，") == []


def test_query_positions_line_up_with_the_documents_positions():
    """A query cut from a text finds its tokens at the text's positions, shifted by one amount."""
    text = "车牌京A·12345，罚款。逾期不缴"
    at = {(t, p) for t, p, _, _ in slot_positions(text)}
    for start in range(len(text)):
        for end in range(start + 1, len(text) + 1):
            wanted = query_tokens(text[start:end])
            if not wanted:
                continue
            shifts = {p - wanted[0][0] for t, p in at if t == wanted[0][1]}
            assert any(all((t, s + off) in at for off, t in wanted) for s in shifts), text[start:end]


def test_whoosh_tokenizer_positions_and_chars_point_into_text():
    text = "责令停产停业，罚款"
    out = [(t.text, t.pos, t.startchar, t.endchar)
           for t in SlotTokenizer()(text, positions=True, chars=True)]
    # the positions tantivy gives the same tokens (the filler skipped)
    assert [o[1] for o in out] == [i for i, t in enumerate(slot_tokens(text)) if t != FILL]
    for tok, _, s, e in out:
        assert text[s:e] == tok


def test_words_drop_punctuation():
    w = words("当事人销售过期食品。")
    assert "。" not in w and "食品" in w


def test_normalise_folds_compatibility_characters_and_joins_wrapped_lines():
    # U+2F8F KANGXI RADICAL WALK (⾏) and U+F967 CJK COMPATIBILITY IDEOGRAPH (不) look like 行 and 不.
    assert normalise("\u2f8f政处罚") == "行政处罚"
    assert normalise("\uf967予处罚") == "不予处罚"
    assert normalise("责令停产\n停业") == "责令停产停业"
    assert normalise("ＡＢＣ１２３") == "ABC123"
    assert normalise("line one\nline two") == "line one\nline two"


def test_display_text_keeps_chinese_punctuation_but_folds_what_search_needs():
    assert display_text("罚款，\u2f8f政：２０２６") == "罚款，行政：2026"


def test_parse_terms_quotes_and_exclusions():
    assert parse_terms('停产停业 "有限 公司" -过期') == [
        Term("停产停业"), Term("有限 公司"), Term("过期", exclude=True)]


@pytest.mark.parametrize("q", ['"停产', "停产 \"", "。。。", "-罚款", "x" * 201])
def test_parse_terms_refuses_bad_syntax_with_a_reason(q):
    with pytest.raises(QuerySyntaxError) as exc:
        parse_terms(q)
    assert "/" in str(exc.value)  # Chinese / English message


def test_term_pattern_skips_punctuation_between_runs_like_the_index():
    assert term_pattern("津武市监罚2026").search("案号津武市监罚〔2026〕12号")
    assert not term_pattern("停产停业").search("停产。停业")


def test_highlight_marks_every_match_and_escapes_html():
    text = "<b>当事人</b>被责令停产停业。" + "甲" * 200 + "再次责令停产停业"
    frags = highlight(text, [Term("停产停业")], context=10)
    assert len(frags) == 2
    assert all("<mark>停产停业</mark>" in f for f in frags)
    assert "&lt;/b&gt;" in frags[0] and "<b>" not in frags[0]


def test_highlight_ignores_excluded_terms_and_returns_nothing_without_match():
    assert highlight("罚款五万元", [Term("罚款", exclude=True)]) == []
    assert highlight("罚款五万元", [Term("停业")]) == []
