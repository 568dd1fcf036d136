"""Chinese analysis, the query language and Ctrl-F highlighting (pure)."""
from __future__ import annotations

import pytest

from archive.extraction.normalise import display_text, normalise
from archive.indexing.analysis import BigramTokenizer, bigram_tokens, words
from archive.indexing.query import QuerySyntaxError, Term, highlight, parse_terms, term_pattern


def toks(text):
    return [t for t, _, _ in bigram_tokens(text)]


def test_bigrams_of_a_cjk_run_are_consecutive_pairs():
    assert toks("行政处罚") == ["行政", "政处", "处罚"]


def test_single_character_runs_and_alphanumerics_are_whole_tokens():
    assert toks("津武市监罚〔2026〕12号") == ["津武", "武市", "市监", "监罚", "2026", "12", "号"]
    assert toks("代码91120222MA05K3LX2Q。") == ["代码", "91120222ma05k3lx2q"]


def test_whoosh_tokenizer_positions_are_consecutive_and_chars_point_into_text():
    text = "责令停产停业，罚款"
    out = [(t.text, t.pos, t.startchar, t.endchar)
           for t in BigramTokenizer()(text, positions=True, chars=True)]
    assert [o[1] for o in out] == list(range(len(out)))
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
