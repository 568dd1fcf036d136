"""Chinese analysis, the query language and Ctrl-F highlighting (pure)."""
from __future__ import annotations

import pytest

from archive.extraction.normalise import display_text, normalise
from archive.indexing.analysis import FILL, GAP_MARK, query_tokens, slot_positions, slot_tokens, words
from archive.indexing.query import QuerySyntaxError, Term, highlight, parse_terms, term_pattern
from archive.indexing.whoosh_index import SlotTokenizer


def test_each_character_has_its_unigram_bigram_and_4_gram_or_the_filler():
    _ = FILL
    assert slot_tokens("行政处罚") == ["行", "行政", "行政处罚", "政", "政处", _, "处", "处罚", _, "罚", _, _]
    # A class change (CJK / letters and digits) ends a run; letters are lower-cased; punctuation
    # between two runs of one class leaves a gap of one slot group, between classes none.
    g = GAP_MARK
    assert slot_tokens("京A·12") == ["京", _, _, "a", _, _, g, _, _, "1", "12", _, "2", _, _]
    assert slot_tokens("款。逾期") == ["款", _, _, g, _, _, "逾", "逾期", _, "期", _, _]
    assert slot_tokens("罚〔2") == ["罚", _, _, "2", _, _]


def test_query_pieces_are_covered_by_their_longest_grams():
    assert query_tokens("罚") == [(0, "罚")]
    assert query_tokens("罚款") == [(0, "罚款")]
    assert query_tokens("许可证") == [(0, "许可"), (3, "可证")]
    assert query_tokens("行政处罚") == [(0, "行政处罚")]
    assert query_tokens("责令停产停业") == [(0, "责令停产"), (6, "停产停业")]
    assert query_tokens("重大行政执法决定法制审核") == [(0, "重大行政"), (12, "执法决定"), (24, "法制审核")]
    assert query_tokens("京A·12345") == [(0, "京"), (3, "a"), (6, GAP_MARK), (11, "1234"), (14, "2345")]
    # a query across punctuation asks for the gap's mark: one character there does not match
    assert query_tokens("款。逾期") == [(0, "款"), (3, GAP_MARK), (7, "逾期")]
    assert query_tokens("罚2026") == [(0, "罚"), (5, "2026")]
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
        assert text[s:e] == tok or (tok == GAP_MARK and text[s:e] == "，")


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
    assert term_pattern("款。逾期").search("罚款，逾期") and not term_pattern("款。逾期").search("罚款逾期")


def test_highlight_marks_every_match_and_escapes_html():
    text = "<b>当事人</b>被责令停产停业。" + "甲" * 200 + "再次责令停产停业"
    frags = highlight(text, [Term("停产停业")], context=10)
    assert len(frags) == 2
    assert all("<mark>停产停业</mark>" in f for f in frags)
    assert "&lt;/b&gt;" in frags[0] and "<b>" not in frags[0]


def test_highlight_ignores_excluded_terms_and_returns_nothing_without_match():
    assert highlight("罚款五万元", [Term("罚款", exclude=True)]) == []
    assert highlight("罚款五万元", [Term("停业")]) == []
