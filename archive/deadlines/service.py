"""Deadlines shown where people look: per stage of a case, from the rules and the calendar."""
from __future__ import annotations

from sqlalchemy.orm import Session

from archive.deadlines.calendar import CalendarMissing
from archive.deadlines.evaluate import upload_due
from archive.deadlines.rules import load_rules
from archive.deadlines.store import load_calendar
from archive.models import Case
from archive.clock import local


def attach_deadlines(session: Session, case: Case) -> Case:
    """Set ``case.deadlines``: per completed stage, ``upload_due_at`` (end of the last allowed
    day, or None with ``calendar_missing``) and ``late`` (None while nothing is uploaded)."""
    rules, calendar = load_rules(), load_calendar(session)
    out: dict[str, dict] = {}
    for s in case.stages:
        try:
            due = upload_due(rules, calendar, case.kind, s.stage, s.completed_at)
        except CalendarMissing as exc:
            out[s.stage] = {"upload_due_at": None, "late": None, "calendar_missing": exc.message}
            continue
        docs = [d for d in case.documents if d.stage == s.stage]
        out[s.stage] = {"upload_due_at": local(due).isoformat() if due else None,  # type: ignore[union-attr]
                        "late": (any(d.uploaded_at > due for d in docs) if docs else None) if due else None}
    case.deadlines = out  # type: ignore[attr-defined]
    filing = next((s for s in case.stages if s.stage == "filing"), None)
    if filing is not None and case.kind == "penalty":
        case.decision_period = decision_period(session, case, rules, calendar, filing.completed_at)  # type: ignore[attr-defined]
    decision = next((s for s in case.stages if s.stage == "decision"), None)
    if decision is not None and case.kind == "penalty":
        import json

        ruleset = rules.at(local(decision.completed_at).date())  # type: ignore[union-attr]
        case.major = ruleset.is_major(json.loads(case.penalty_types or "[]"), case.fine_amount,  # type: ignore[attr-defined]
                                      case.party_type, case.sector)
    return case


def decision_period(session: Session, case: Case, rules, calendar, filed) -> dict:
    """When the decision is due, counting approved extensions and suspended days (art. 60)."""
    from sqlalchemy import select

    from archive.deadlines.calendar import deadline
    from archive.deadlines.evaluate import period_changes
    from archive.models import CasePeriod

    ext, susp, ongoing = period_changes(session.execute(
        select(CasePeriod.kind, CasePeriod.days, CasePeriod.start_on, CasePeriod.end_on)
        .where(CasePeriod.case_id == case.id)).all())
    _, period = rules.at(local(filed).date()).decision_within  # type: ignore[union-attr]
    out: dict = {"extension_days": ext, "suspended_days": susp, "suspended": ongoing, "due_at": None}
    if ongoing:
        return out
    try:
        out["due_at"] = local(deadline(calendar, filed, period.days + ext + susp, period.unit)).isoformat()  # type: ignore[union-attr]
    except CalendarMissing as exc:
        out["calendar_missing"] = exc.message
    return out


def missing_calendar_years(session: Session, today=None) -> list[int]:
    """Years the archive needs a holiday calendar for and lacks: this year and the next (a
    deadline late in a year runs into the next). One system alert to the city office, not a
    warning on every case; the deadlines that need such a year show as 期限待定."""
    from archive.clock import now

    years = load_calendar(session).years
    this_year = (today or local(now()).date()).year  # type: ignore[union-attr]
    return [y for y in (this_year, this_year + 1) if y not in years]


def load_year(session: Session, cal, *, by: str, via: str) -> None:
    """Store (or replace) a year's calendar and have every case's deadlines looked at again:
    cases are marked unchecked and the scheduled deadline round is brought forward to now.
    Audited; committed here. (``archive calendar load`` and the calendar page.)"""
    from sqlalchemy import update

    from archive import audit
    from archive.deadlines.store import save_year
    from archive.models import Case, Job
    from archive.clock import now

    save_year(session, cal)
    session.execute(update(Case).values(checked_at=None))  # deadlines may now be computable
    session.execute(update(Job).where(Job.kind == "checks", Job.done_at.is_(None), Job.lease_holder.is_(None))
                    .values(next_attempt_at=now()))
    audit.append(session, "calendar.load", actor=by, target_type="calendar", target_id=str(cal.year),
                 detail={"holidays": len(cal.holidays), "workdays": len(cal.workdays), "source": cal.source,
                         "via": via})
    session.commit()
