"""The warning evaluator (pure): a case's facts, the rules, the calendar and a clock in;
warning facts out. No I/O: the scan in ``archive.deadlines.warnings`` feeds and stores it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from archive.deadlines.calendar import CalendarMissing, WorkCalendar, deadline
from archive.deadlines.rules import Period, Rules
from archive.services.clock import SHANGHAI


@dataclass(frozen=True)
class DocFact:
    doc_id: str
    stage: str
    form: str
    uploaded_at: dt.datetime


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


def upload_due(rules: Rules, calendar: WorkCalendar, kind: str, stage: str,
               completed_at: dt.datetime) -> dt.datetime | None:
    """When a stage's documents must be in the archive (None if no rule); may raise CalendarMissing."""
    period = rules.at(completed_at.astimezone(SHANGHAI).date()).upload_deadline(kind, stage)
    if period is None:
        return None
    return deadline(calendar, completed_at, period.days, period.unit)


def _due(calendar: WorkCalendar, start: dt.datetime, period: Period) -> dt.datetime:
    return deadline(calendar, start, period.days, period.unit)


def evaluate(case: CaseFacts, rules: Rules, calendar: WorkCalendar, now: dt.datetime) -> list[WarningFact]:
    """Every warning fact of ``case`` as of ``now``."""
    return evaluate_case(case, rules, calendar, now)[0]


def evaluate_case(case: CaseFacts, rules: Rules, calendar: WorkCalendar,
                  now: dt.datetime) -> tuple[list[WarningFact], dt.datetime | None]:
    """(warning facts as of ``now``, the earliest deadline after ``now``): nothing about the
    case can change before that moment unless the case itself changes."""
    out: list[WarningFact] = []
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
        for d in docs:
            if d.uploaded_at > due:
                out.append(WarningFact("late_upload", f"doc:{d.doc_id}", stage, d.uploaded_at,
                                       f"{stage} 文书逾期上传：应于 {due:%Y-%m-%d} 前上传", due))
        if now > due:
            present = {d.form for d in docs}
            lacking = [sorted(alts)[0] if len(alts) == 1 else "|".join(sorted(alts))
                       for alts in ruleset.required_forms(stage) if not alts & present]
            if lacking:
                out.append(WarningFact("missing_documents", f"missing:{stage}", stage, due,
                                       f"{stage} 环节缺少必需文书：{', '.join(lacking)}", due))
        for pre in ruleset.prerequisites(stage):
            if pre not in case.stages or case.stages[pre] > completed:
                out.append(WarningFact("stage_out_of_order", f"order:{stage}:{pre}", stage, completed,
                                       f"{stage} 环节早于 {pre} 环节完成或 {pre} 环节缺失"))

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
                                       f"立案后 {period.days} 日内未作出处罚决定（期限 {due:%Y-%m-%d}）", due))
    decided = case.stages.get("decision")
    if case.kind == "penalty" and decided is not None:
        ruleset = rules.at(decided.astimezone(SHANGHAI).date())
        if ruleset.is_major(list(case.penalty_types), case.fine, case.party_type, case.sector):
            review = case.stages.get("review")
            if review is None or review > decided:
                out.append(WarningFact("major_without_review", "major_review", "decision", decided,
                                       "重大案件未经法制审核即作出决定"))
            form, after, period = ruleset.filing_record
            due = guarded(lambda: _due(calendar, case.stages[after], period)) if after in case.stages else None
            if due is not None:
                records = [d for d in case.documents if d.form == form]
                first = min((d.uploaded_at for d in records), default=None)
                if (first is None and now > due) or (first is not None and first > due):
                    out.append(WarningFact("major_not_filed", "major_filing_record", "decision",
                                           first if first is not None else due,
                                           f"重大案件未在决定后 {period.days} 日内向区政府法制办备案", due))
    for year in sorted(missing_years):
        out.append(WarningFact("calendar_missing", f"calendar:{year}", None, now,
                               f"calendar missing for {year}: 缺少 {year} 年节假日安排，期限无法计算"))
    return out, min(future) if future else None

