"""The draw and the scoring, pure: checked against an independent re-implementation."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings, strategies as st

from archive.errors import ValidationFailed
from archive.sampling.draw import (
    DrawError, Reviewer, SampledFile, assign, population_digest, rank, sample_size, select,
)
from archive.sampling.scoring import load_form, score

NUMBERS = [f"津武市监罚〔2026〕{i}号" for i in range(1, 41)]


def by_hand(seed: str, numbers: list[str], k: int) -> list[str]:
    """What an outsider computes from the README: HMAC-SHA256(seed, number), k lowest."""
    ranks = {n: hmac.new(seed.encode("utf-8"), n.encode("utf-8"), hashlib.sha256).hexdigest() for n in numbers}
    return sorted(numbers, key=ranks.__getitem__)[:k]


def test_the_draw_agrees_with_an_independent_implementation():
    seed = "2026-10-08 福彩3D 417 / 体彩排列3 092"
    assert select(seed, NUMBERS, 7) == by_hand(seed, NUMBERS, 7)
    assert rank(seed, NUMBERS[0]) == hmac.new(seed.encode(), NUMBERS[0].encode(), "sha256").hexdigest()


def test_same_seed_same_sample_other_seed_other_sample():
    assert select("417092", NUMBERS, 5) == select("417092", list(reversed(NUMBERS)), 5)
    assert select("417092", NUMBERS, 5) != select("417093", NUMBERS, 5)


def test_population_digest_is_sha256_of_sorted_numbers_joined_by_lf():
    expected = hashlib.sha256("\n".join(sorted(NUMBERS)).encode("utf-8")).hexdigest()
    assert population_digest(reversed(NUMBERS)) == expected
    assert population_digest([]) == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("population,count,rate,minimum,maximum,expected", [
    (40, 5, None, 0, None, 5),
    (40, None, 0.1, 0, None, 4),
    (41, None, 0.1, 0, None, 5),     # a rate is rounded up
    (40, None, 0.01, 2, None, 2),    # the minimum
    (40, None, 0.5, 0, 8, 8),        # the maximum
    (3, 5, None, 0, None, 3),        # never more than there are
    (0, 5, None, 2, None, 0),        # an empty stratum
    (10, None, 1.0, 0, None, 10),
])
def test_sample_size(population, count, rate, minimum, maximum, expected):
    assert sample_size(population, count=count, rate=rate, minimum=minimum, maximum=maximum) == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 500), st.floats(0.001, 1.0), st.integers(0, 20), st.integers(0, 50))
def test_sample_size_respects_bounds(population, rate, minimum, extra):
    maximum = minimum + extra
    k = sample_size(population, count=None, rate=rate, minimum=minimum, maximum=maximum)
    assert 0 <= k <= population
    assert k <= maximum
    assert k >= min(minimum, population)


POOL = [Reviewer("r_a1", "A"), Reviewer("r_a2", "A"), Reviewer("r_b1", "B"), Reviewer("r_b2", "B"),
        Reviewer("r_c1", "C", conflict_agencies=frozenset({"A"})), Reviewer("r_x", None)]


def test_reviewers_never_from_own_agency_nor_conflicted_and_ranked_by_hand():
    files = [SampledFile("A/penalty", n, "A") for n in NUMBERS[:3]]
    result = assign("s33d", files, POOL, per_file=2, max_load=10)
    for f in files:
        got = [a.reviewer for a in result.assignments if a.number == f.number]
        eligible = ["r_b1", "r_b2", "r_x"]  # not A's own, not r_c1 (declared a conflict with A)
        want = sorted(eligible, key=lambda u: hmac.new(b"s33d", f"{f.number}/{u}".encode(), "sha256").hexdigest())[:2]
        assert got == want


def test_the_load_limit_spreads_files_and_a_pool_too_small_fails_clearly():
    files = [SampledFile("A/penalty", n, "A") for n in NUMBERS[:4]]
    result = assign("seed", files, POOL, per_file=1, max_load=2)
    assert max(result.load.values()) <= 2
    with pytest.raises(DrawError) as err:
        assign("seed", [SampledFile("A/penalty", n, "A") for n in NUMBERS[:7]], POOL, per_file=1, max_load=2)
    problems = err.value.details["A/penalty"]
    assert "own agency 2" in problems[0] and "declared conflict 1" in problems[0] and "load limit 2: 3" in problems[0]


def test_a_case_level_conflict_excludes_only_that_case():
    pool = [Reviewer("r1", "B", conflict_cases=frozenset({NUMBERS[0]})), Reviewer("r2", "B")]
    result = assign("x", [SampledFile("A/penalty", NUMBERS[0], "A"), SampledFile("A/penalty", NUMBERS[1], "A")],
                    pool, per_file=1, max_load=5)
    assert [a.reviewer for a in result.assignments if a.number == NUMBERS[0]] == ["r2"]


# -- scoring -------------------------------------------------------------------------------------

def test_a_failed_veto_item_gives_zero_and_fail():
    s = score(load_form(), ["V4"], [{"item": "F1", "points": 2, "reason": "文书格式不规范"}])
    assert (s.score, s.grade, s.vetoed) == (0.0, "不合格", ["V4"])


def test_deductions_per_section_and_grades():
    form = load_form()
    assert score(form, [], []).score == 100.0 and score(form, [], []).grade == "优秀"
    s = score(form, [], [{"item": "F1", "points": 3, "reason": "未使用规范文书"},
                         {"item": "C2", "points": 12, "reason": "证据不足以证明违法事实"}])
    assert (s.form_score, s.content_score, s.score, s.grade) == (17.0, 68.0, 85.0, "合格")


def test_deductions_never_go_below_zero():
    form = load_form()
    every_item = [{"item": i["code"], "points": i["max"], "reason": "全部扣分"}
                  for sec in form["sections"] for i in sec["items"]]
    s = score(form, [], every_item)
    assert (s.form_score, s.content_score, s.score, s.grade) == (0.0, 0.0, 0.0, "不合格")
    # a form whose items allow more than the section's points still stops at zero
    generous = {**form, "sections": [{**sec, "items": [{**i, "max": 100} for i in sec["items"]]}
                                     for sec in form["sections"]]}
    s = score(generous, [], [{"item": "F1", "points": 50, "reason": "卷面严重不规范"}])
    assert s.form_score == 0.0 and s.score == 80.0


@pytest.mark.parametrize("vetoed,deductions,field", [
    (["V99"], [], "vetoed"),
    ([], [{"item": "Z1", "points": 1, "reason": "x"}], "deductions[0]"),
    ([], [{"item": "F1", "points": -1, "reason": "x"}], "deductions[0]"),
    ([], [{"item": "F1", "points": 1, "reason": " "}], "deductions[0]"),
    ([], [{"item": "F1", "points": 3, "reason": "a"}, {"item": "F1", "points": 2, "reason": "b"}], "deductions[1]"),
])
def test_a_score_that_does_not_fit_the_form_is_refused(vetoed, deductions, field):
    with pytest.raises(ValidationFailed) as err:
        score(load_form(), vetoed, deductions)
    assert field in err.value.errors


# -- the rolling fixity check's pace ---------------------------------------------------------------

@pytest.mark.parametrize("total,every,days,expected", [
    (0, 600, 90, 0),
    (1, 600, 90, 1),
    (12_960, 600, 90, 1),      # 12,960 rounds in 90 days at one round per 10 minutes
    (12_961, 600, 90, 2),
    (1_000_000, 600, 90, 78),
    (100, 86400 * 200, 90, 100),  # rounds rarer than the period: everything each round
])
def test_rolling_fixity_reaches_every_object_within_the_period(total, every, days, expected):
    from archive.services.fixity import rolling_batch

    n = rolling_batch(total, every, days)
    assert n == expected
    if total:
        assert n * max(1, days * 86400 // every) >= total
