"""The warning evaluator (pure): a case's facts, the rules, the calendar and a clock in;
warning facts out. No I/O: the scan in ``archive.deadlines.warnings`` feeds and stores it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from archive.deadlines.calendar import CalendarMissing, WorkCalendar, deadline
from typing import NamedTuple

from archive.deadlines.rules import Period, Rules
from archive.labels import form_name, stage_name
from archive.clock import SHANGHAI


@dataclass(frozen=True)
class DocFact:
    doc_id: str
    stage: str
    form: str
    uploaded_at: dt.datetime


@dataclass(frozen=True)
class OfficerFact:
    """An officer named on a stage, with the registry's certificate as it stands (``known``
    False: the certificate number is no longer in the agency's registry)."""

    certificate_no: str
    name: str
    known: bool = True
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    suspended_from: dt.date | None = None
    suspended_until: dt.date | None = None


def certificate_problem(o, day: dt.date) -> str | None:
    """Why the certificate of ``o`` (an ``OfficerFact`` or a registry ``Officer``) did not let its
    holder act on ``day``: not issued yet, lapsed, suspended, or not in the registry (None: valid)."""
    if not getattr(o, "known", True) or o.valid_until is None:
        return "不在本机关执法人员名录中"
    if o.valid_from is not None and day < o.valid_from:
        return f"执法证自 {o.valid_from:%Y-%m-%d} 起有效，当日尚未取得"
    if day > o.valid_until:
        return f"执法证已于 {o.valid_until:%Y-%m-%d} 到期"
    if o.suspended_from is not None and o.suspended_from <= day and (
            o.suspended_until is None or day <= o.suspended_until):
        return "执法证当日处于暂扣期间" + (f"（至 {o.suspended_until:%Y-%m-%d}）" if o.suspended_until else "")
    return None


@dataclass(frozen=True)
class CaseFacts:
    """What the evaluator needs to know about one case."""

    case_id: str
    agency: str
    kind: str
    stages: dict[str, dt.datetime]  # stage -> completed_at
    documents: list[DocFact] = field(default_factory=list)
    party_type: str = "organisation"
    sector: str = ""
    penalty_types: tuple[str, ...] = ()
    fine: int | None = None
    # Law art. 60: approved extensions add days to the decision period; suspended days are not
    # counted, and while a suspension is open the period does not run out.
    extension_days: int = 0
    suspended_days: int = 0
    suspended: bool = False
    # the officers named on each recorded stage (执法人员)
    officers: dict[str, tuple[OfficerFact, ...]] = field(default_factory=dict)


def period_changes(rows) -> tuple[int, int, bool]:
    """(extension days, suspended days, suspended now) from (kind, days, start_on, end_on) rows.
    A suspension from day A to day B takes B − A days out of the count."""
    ext = susp = 0
    ongoing = False
    for kind, days, start, end in rows:
        if kind == "extension":
            ext += days or 0
        elif kind == "suspension" and start is not None:
            if end is None:
                ongoing = True
            else:
                susp += max(0, (end - start).days)
    return ext, susp, ongoing


@dataclass(frozen=True)
class WarningFact:
    """One thing that does not meet the rules; ``key`` identifies the fact (stored once)."""

    rule: str
    key: str
    stage: str | None
    opened_at: dt.datetime
    message: str
    due: dt.datetime | None = None
    # the keys this fact was stored under before (one late-upload warning per file, until
    # 2026-12): a fact whose every older key is stored is not stored again
    covers: tuple[str, ...] = ()


def upload_due(rules: Rules, calendar: WorkCalendar, kind: str, stage: str,
               completed_at: dt.datetime) -> dt.datetime | None:
    """When a stage's documents must be in the archive (None if no rule); may raise CalendarMissing."""
    period = rules.at(completed_at.astimezone(SHANGHAI).date()).upload_deadline(kind, stage)
    if period is None:
        return None
    return deadline(calendar, completed_at, period.days, period.unit)


def _late_uploads(stage: str, due: dt.datetime, late: list[DocFact]) -> list[WarningFact]:
    """One late-upload fact per stage and upload day (Beijing time), naming the day's late files:
    twenty files of one stage sent late together are one warning to handle, not twenty."""
    by_day: dict[dt.date, list[DocFact]] = {}
    for d in sorted(late, key=lambda d: (d.uploaded_at, d.doc_id)):
        by_day.setdefault(d.uploaded_at.astimezone(SHANGHAI).date(), []).append(d)
    out = []
    for day, files in by_day.items():
        names = "、".join(f"《{form_name(d.form)}》" for d in files)
        count = f"{len(files)} 份文书" if len(files) > 1 else ""
        out.append(WarningFact(
            "late_upload", f"late:{stage}:{day.isoformat()}", stage, files[0].uploaded_at,
            f"“{stage_name(stage)}”环节的{count}{names}逾期上传：应于 {due.astimezone(SHANGHAI):%Y-%m-%d} 前上传，"
            f"实际 {day:%Y-%m-%d} 上传。", due, covers=tuple(f"doc:{d.doc_id}" for d in files)))
    return out


def _officer_facts(case: CaseFacts, stage: str, completed: dt.datetime, rules: Rules,
                   cleared: set[tuple[str, str]]) -> list[WarningFact]:
    """执法资格 and 两人执法: an officer named on the stage without a valid certificate on its
    day, and fewer than two officers on a stage that needs two (acts from the rules' start)."""
    day = completed.astimezone(SHANGHAI).date()
    ruleset = rules.at(day)
    start = ruleset.officers_checked_from
    if start is None or day < start:
        return []
    out = []
    named = case.officers.get(stage, ())
    for o in named:
        key = f"certificate:{stage}:{o.certificate_no}"
        problem = certificate_problem(o, day)
        if problem is None:
            cleared.add(("officer_certificate", key))  # the registry was corrected since
            continue
        out.append(WarningFact("officer_certificate", key, stage, completed,
                               f"“{stage_name(stage)}”环节的执法人员{o.name}（执法证号 {o.certificate_no}）"
                               f"在 {day:%Y-%m-%d} 不具备执法资格：{problem}。"))
    if ruleset.two_officers(stage):
        if len(named) < 2:
            out.append(WarningFact("too_few_officers", f"officers:{stage}", stage, completed,
                                   f"“{stage_name(stage)}”环节登记的执法人员少于两人（{len(named)} 人）："
                                   f"应由两名以上持证执法人员实施。"))
        else:
            cleared.add(("too_few_officers", f"officers:{stage}"))
    return out


def _due(calendar: WorkCalendar, start: dt.datetime, period: Period) -> dt.datetime:
    return deadline(calendar, start, period.days, period.unit)


class Evaluation(NamedTuple):
    """What the evaluator found about one case."""

    found: list[WarningFact]
    next_check: dt.datetime | None  # the earliest deadline after now: nothing changes before it
    missing_years: frozenset[int]  # calendar years a deadline needed and the archive lacks
    cleared: frozenset[tuple[str, str]]  # (rule, key) of facts that were checked and no longer hold


def evaluate(case: CaseFacts, rules: Rules, calendar: WorkCalendar, now: dt.datetime) -> list[WarningFact]:
    """Every warning fact of ``case`` as of ``now``."""
    return evaluate_case(case, rules, calendar, now).found


def evaluate_case(case: CaseFacts, rules: Rules, calendar: WorkCalendar, now: dt.datetime) -> Evaluation:
    """The warning facts of ``case`` as of ``now``, when to look again, and what no longer holds.

    A missing calendar year is not a fact about the case: the deadlines that need it are left
    undecided ("期限待定") and the year is reported for one system alert to administrators."""
    out: list[WarningFact] = []
    cleared: set[tuple[str, str]] = set()
    missing_years: set[int] = set()
    future: list[dt.datetime] = []

    def guarded(fn):
        try:
            due = fn()
        except CalendarMissing as exc:
            missing_years.add(exc.year)
            return None
        if due is not None and due > now:
            future.append(due)
        return due

    for stage, completed in case.stages.items():
        ruleset = rules.at(completed.astimezone(SHANGHAI).date())
        period = ruleset.upload_deadline(case.kind, stage)
        if period is None:
            continue
        due = guarded(lambda: _due(calendar, completed, period))
        if due is None:
            continue
        docs = [d for d in case.documents if d.stage == stage]
        out.extend(_late_uploads(stage, due, [d for d in docs if d.uploaded_at > due]))
        if now > due:
            present = {d.form for d in docs}
            lacking = [sorted(alts)[0] if len(alts) == 1 else "|".join(sorted(alts))
                       for alts in ruleset.required_forms(stage) if not alts & present]
            if lacking:
                names = "、".join(f"《{form_name(code)}》" for code in lacking)
                out.append(WarningFact("missing_documents", f"missing:{stage}", stage, due,
                                       f"“{stage_name(stage)}”环节缺少必需文书{names}："
                                       f"应于 {due.astimezone(SHANGHAI):%Y-%m-%d} 前上传。", due))
            else:  # uploaded since, late or not: a warning about it is resolved (the late one stays)
                cleared.add(("missing_documents", f"missing:{stage}"))
        for pre in ruleset.prerequisites(stage):
            if pre not in case.stages or case.stages[pre] > completed:
                out.append(WarningFact("stage_out_of_order", f"order:{stage}:{pre}", stage, completed,
                                       f"“{stage_name(stage)}”环节已登记，但“{stage_name(pre)}”环节"
                                       f"{'尚未登记' if pre not in case.stages else '完成时间晚于它'}。"))

    for stage, completed in case.stages.items():
        out.extend(_officer_facts(case, stage, completed, rules, cleared))

    if case.kind == "penalty" and "filing" in case.stages:
        filed = case.stages["filing"]
        after, period = rules.at(filed.astimezone(SHANGHAI).date()).decision_within
        if case.extension_days or case.suspended_days:
            period = Period(period.days + case.extension_days + case.suspended_days, period.unit)
        due = guarded(lambda: _due(calendar, case.stages[after], period)) if after in case.stages else None
        if due is not None and case.suspended and "decision" not in case.stages:
            if due in future:  # suspended: the period stands still until the suspension ends
                future.remove(due)
            due = None
        if due is not None:
            decided = case.stages.get("decision")
            if (decided is None and now > due) or (decided is not None and decided > due):
                out.append(WarningFact("decision_overdue", "decision_overdue", "decision",
                                       decided if decided is not None else due,
                                       f"立案后 {period.days} 日内未作出行政处罚决定"
                                       f"（期限 {due.astimezone(SHANGHAI):%Y-%m-%d}）。", due))
    decided = case.stages.get("decision")
    if case.kind == "penalty" and decided is not None:
        ruleset = rules.at(decided.astimezone(SHANGHAI).date())
        if ruleset.is_major(list(case.penalty_types), case.fine, case.party_type, case.sector):
            review = case.stages.get("review")
            if review is None or review > decided:
                out.append(WarningFact("major_without_review", "major_review", "decision", decided,
                                       "重大案件未经法制审核即作出行政处罚决定。"))
            form, after, period = ruleset.filing_record
            due = guarded(lambda: _due(calendar, case.stages[after], period)) if after in case.stages else None
            if due is not None:
                records = [d for d in case.documents if d.form == form]
                first = min((d.uploaded_at for d in records), default=None)
                if (first is None and now > due) or (first is not None and first > due):
                    out.append(WarningFact("major_not_filed", "major_filing_record", "decision",
                                           first if first is not None else due,
                                           f"重大案件未在决定后 {period.days} 日内报送"
                                           f"《{form_name(form)}》备案（期限 {due.astimezone(SHANGHAI):%Y-%m-%d}）。", due))
    return Evaluation(out, min(future) if future else None, frozenset(missing_years), frozenset(cleared))

