"""The warning evaluator (pure): facts, rules, calendar and a clock in; warnings out."""
from __future__ import annotations

import datetime as dt

import pytest

from archive.deadlines.calendar import WorkCalendar, from_chinesecalendar
from archive.deadlines.evaluate import CaseFacts, DocFact, evaluate
from archive.deadlines.rules import load_rules
from archive.clock import SHANGHAI

CAL = WorkCalendar(c for y in (2025, 2026) if (c := from_chinesecalendar(y)))
RULES = load_rules()


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=SHANGHAI)


def rules_of(facts):
    return sorted((f.rule, f.key) for f in facts)


def test_upload_on_the_last_allowed_day_is_on_time_and_the_day_after_is_late():
    # decision completed Friday 13 Feb 2026: due end of Saturday 14 Feb (a make-up working day)
    case = CaseFacts("c", "A", "penalty", {"filing": at("2026-02-02 09:00"), "investigation": at("2026-02-05 09:00"),
                                           "decision": at("2026-02-13 16:00")},
                     [DocFact("d1", "decision", "penalty_decision", at("2026-02-14 23:00")),
                      DocFact("d2", "decision", "service_receipt", at("2026-02-24 08:00"))])
    facts = evaluate(case, RULES, CAL, at("2026-02-24 09:00"))
    late = [f for f in facts if f.rule == "late_upload"]
    assert [f.key for f in late] == ["late:decision:2026-02-24"]
    assert late[0].due == at("2026-02-14 23:59:59.999999") and late[0].covers == ("doc:d2",)


def test_late_files_of_one_stage_and_day_are_one_warning_naming_them():
    case = CaseFacts("c", "A", "penalty", {"filing": at("2026-03-02 10:00"), "investigation": at("2026-03-05 10:00")},
                     [DocFact(f"i{n}", "investigation", form, at(f"2026-03-10 {9 + n:02d}:00"))
                      for n, form in enumerate(("inquiry_record", "onsite_record", "evidence_extraction"))]
                     + [DocFact("i9", "investigation", "inquiry_record", at("2026-03-11 09:00")),
                        DocFact("f1", "filing", "filing_approval", at("2026-03-10 09:30"))])
    late = sorted((f for f in evaluate(case, RULES, CAL, at("2026-03-12 09:00")) if f.rule == "late_upload"),
                  key=lambda f: f.key)
    assert [f.key for f in late] == ["late:filing:2026-03-10", "late:investigation:2026-03-10",
                                     "late:investigation:2026-03-11"]
    three = late[1]
    assert three.covers == ("doc:i0", "doc:i1", "doc:i2") and three.opened_at == at("2026-03-10 09:00")
    assert "3 份文书《询问笔录》、《现场笔录》、《证据提取单》逾期上传" in three.message, three.message
    assert late[2].message.startswith("“调查取证”环节的《询问笔录》逾期上传") or "《询问笔录》逾期上传" in late[2].message


def test_missing_required_documents_only_after_the_deadline():
    case = CaseFacts("c", "A", "penalty", {"filing": at("2026-03-02 10:00")})
    assert evaluate(case, RULES, CAL, at("2026-03-03 12:00")) == []
    facts = evaluate(case, RULES, CAL, at("2026-03-04 00:01"))
    assert rules_of(facts) == [("missing_documents", "missing:filing")]
    assert "《立案审批表》" in facts[0].message


def test_alternative_forms_satisfy_a_requirement():
    case = CaseFacts("c", "A", "penalty", {"filing": at("2026-03-02 10:00"), "investigation": at("2026-03-03 10:00")},
                     [DocFact("f", "filing", "filing_approval", at("2026-03-02 11:00")),
                      DocFact("i", "investigation", "onsite_record", at("2026-03-03 11:00"))])
    assert evaluate(case, RULES, CAL, at("2026-03-10 10:00")) == []


def test_stage_out_of_order_and_decision_overdue():
    case = CaseFacts("c", "A", "penalty", {"filing": at("2025-06-02 10:00"), "decision": at("2025-09-10 10:00")},
                     [DocFact("f", "filing", "filing_approval", at("2025-06-02 11:00")),
                      DocFact("a", "decision", "penalty_decision", at("2025-09-10 11:00")),
                      DocFact("b", "decision", "service_receipt", at("2025-09-10 11:00"))])
    found = rules_of(evaluate(case, RULES, CAL, at("2025-09-11 10:00")))
    assert ("stage_out_of_order", "order:decision:investigation") in found
    assert ("decision_overdue", "decision_overdue") in found  # 2 Jun + 90 days = Sun 31 Aug → Mon 1 Sep


def test_undecided_case_becomes_overdue_after_90_days():
    case = CaseFacts("c", "A", "penalty", {"filing": at("2026-03-02 10:00")},
                     [DocFact("f", "filing", "filing_approval", at("2026-03-02 11:00"))])
    # 2 Mar + 90 days is Sunday 31 May: the period ends on Monday 1 June
    assert evaluate(case, RULES, CAL, at("2026-06-01 23:59")) == []
    assert rules_of(evaluate(case, RULES, CAL, at("2026-06-02 00:00:01"))) == [("decision_overdue", "decision_overdue")]


def test_extensions_and_suspensions_move_the_decision_deadline():
    from archive.deadlines.evaluate import evaluate_case, period_changes

    stages = {"filing": at("2026-03-02 10:00")}
    docs = [DocFact("f", "filing", "filing_approval", at("2026-03-02 11:00"))]
    # approved extension of 30 days: 2 Mar + 120 days = Tue 30 June
    ext = CaseFacts("c", "A", "penalty", stages, docs, extension_days=30)
    assert evaluate(ext, RULES, CAL, at("2026-06-30 23:59")) == []
    assert rules_of(evaluate(ext, RULES, CAL, at("2026-07-01 00:00:01"))) == [("decision_overdue", "decision_overdue")]
    # a suspension from 10 to 20 April takes 10 days out: 2 Mar + 100 days = Wed 10 June
    e, sd, ongoing = period_changes([("suspension", None, dt.date(2026, 4, 10), dt.date(2026, 4, 20))])
    assert (e, sd, ongoing) == (0, 10, False)
    susp = CaseFacts("c", "A", "penalty", stages, docs, suspended_days=sd)
    assert evaluate(susp, RULES, CAL, at("2026-06-10 23:00")) == []
    assert rules_of(evaluate(susp, RULES, CAL, at("2026-06-11 00:00:01"))) == [("decision_overdue", "decision_overdue")]
    # while a suspension is open the period does not run out, and nothing is scheduled for it
    open_ = CaseFacts("c", "A", "penalty", stages, docs, suspended=True)
    ev = evaluate_case(open_, RULES, CAL, at("2026-09-01 10:00"))
    assert ev.found == [] and ev.next_check is None
    assert period_changes([("extension", 30, None, None), ("extension", 15, None, None),
                           ("suspension", None, dt.date(2026, 4, 1), None)]) == (45, 0, True)


def test_a_missing_calendar_year_leaves_the_deadline_undecided_and_is_reported_not_a_case_warning():
    from archive.deadlines.evaluate import evaluate_case

    from archive.deadlines.evaluate import OfficerFact

    two = tuple(OfficerFact(c, n, valid_until=dt.date(2030, 1, 1)) for c, n in (("1", "甲"), ("2", "乙")))
    case = CaseFacts("c", "A", "inspection", {"inspection": at("2026-12-29 10:00")}, officers={"inspection": two})
    ev = evaluate_case(case, RULES, CAL, at("2026-12-30 10:00"))
    assert ev.found == [] and ev.missing_years == {2027} and ev.next_check is None
    # with the year known, the same case has a deadline to watch
    full = WorkCalendar(c for y in (2025, 2026, 2027) if (c := from_chinesecalendar(y)))
    if 2027 in full.years:
        assert evaluate_case(case, RULES, full, at("2026-12-30 10:00")).missing_years == frozenset()


def test_warning_texts_are_chinese_sentences_naming_forms_and_stages():
    from archive.deadlines.evaluate import evaluate_case

    case = CaseFacts("c", "A", "penalty", {"filing": at("2026-03-02 10:00")},
                     [DocFact("d1", "filing", "case_source", at("2026-03-10 10:00"))])
    ev = evaluate_case(case, RULES, CAL, at("2026-03-11 10:00"))
    texts = {f.rule: f.message for f in ev.found}
    assert texts["missing_documents"] == "“立案”环节缺少必需文书《立案审批表》：应于 2026-03-03 前上传。"
    assert texts["late_upload"].startswith("“立案”环节的《案件来源登记表》逾期上传：应于 2026-03-03 前上传")
    assert not any(code in t for t in texts.values() for code in ("filing", "case_source", "filing_approval"))
    assert ev.cleared == frozenset()
    # uploaded since (late): the missing-documents fact is cleared, the late upload stays a fact
    late = CaseFacts("c", "A", "penalty", {"filing": at("2026-03-02 10:00")},
                     [DocFact("d2", "filing", "filing_approval", at("2026-03-12 10:00"))])
    ev = evaluate_case(late, RULES, CAL, at("2026-03-12 11:00"))
    assert ev.cleared == {("missing_documents", "missing:filing")}
    assert rules_of(ev.found) == [("late_upload", "late:filing:2026-03-12")]


def _decided(**facts):
    stages = {"filing": at("2026-03-02 10:00"), "investigation": at("2026-03-05 10:00"),
              "decision": at("2026-03-20 10:00")}
    stages.update(facts.pop("stages", {}))
    docs = [DocFact("f", "filing", "filing_approval", at("2026-03-02 11:00")),
            DocFact("i", "investigation", "inquiry_record", at("2026-03-05 11:00")),
            DocFact("d", "decision", "penalty_decision", at("2026-03-20 11:00")),
            DocFact("s", "decision", "service_receipt", at("2026-03-20 11:00"))] + facts.pop("docs", [])
    return CaseFacts("c", "A", "penalty", stages, docs, **facts)


@pytest.mark.parametrize("facts, major", [
    (dict(penalty_types=("fine",), fine=50_000), True),               # organisation, ≥ 30,000
    (dict(penalty_types=("fine",), fine=20_000), False),
    (dict(penalty_types=("fine",), fine=1_000, party_type="citizen"), True),
    (dict(penalty_types=("fine",), fine=20_000, sector="public_security"), True),  # ≥ 10,000 there
    (dict(penalty_types=("suspend_business",), fine=None), True),
    (dict(penalty_types=("warning",), fine=None), False),
])
def test_major_cases_need_legal_review_and_filing_record(facts, major):
    found = rules_of(evaluate(_decided(**facts), RULES, CAL, at("2026-04-20 10:00")))
    expected = [("major_not_filed", "major_filing_record"), ("major_without_review", "major_review")] if major else []
    assert found == expected


def test_major_case_with_review_and_timely_filing_record_is_clean():
    facts = _decided(penalty_types=("revoke_licence",), stages={"review": at("2026-03-18 10:00")},
                     docs=[DocFact("r", "review", "legal_review_opinion", at("2026-03-18 11:00")),
                           DocFact("b", "closing", "filing_record", at("2026-03-30 11:00"))])
    # decision 20 Mar + 10 days = Mon 30 Mar: filed on the last day
    assert evaluate(facts, RULES, CAL, at("2026-04-20 10:00")) == []
