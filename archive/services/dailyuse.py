"""Daily use (日常使用情况): the seed's rule that platform administrators log in every working
day and check their warnings.

Per organisation and month: its working days up to today (the deadlines' calendar: holidays do
not count, make-up working days do), the days on which at least one of its users logged in to the
web pages (``auth.login`` in the audit trail), the working days missed, and, of the warnings
opened in the month on that organisation, how many were looked at by someone who handles them and
how quickly (``warnings.first_seen_at``). Agencies' users are their clerks and legal staff; a
district's are its office's users.
"""
from __future__ import annotations

import datetime as dt
import statistics

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.deadlines.calendar import CalendarMissing
from archive.models import AuditEntry, Organisation, User, WarningRecord
from archive.clock import SHANGHAI, day_span, month_bounds

USER_ROLES = {"agency": ("agency_clerk", "agency_legal"), "district": ("district_office",)}


def mark_seen(session: Session, warning: WarningRecord, by: str, now: dt.datetime) -> None:
    """The first look at a warning by someone who handles its level (compare-and-set: the first
    one stays)."""
    if warning.first_seen_at is None:
        session.execute(update(WarningRecord).where(WarningRecord.id == warning.id,
                                                    WarningRecord.first_seen_at.is_(None))
                        .values(first_seen_at=now, first_seen_by=by).execution_options(synchronize_session=False))


def organisations(session: Session, scope: frozenset[str] | None, district: str | None = None) -> list[Organisation]:
    """The agencies in scope and the districts whose offices the caller supervises or is."""
    q = select(Organisation).where(Organisation.level.in_(("agency", "district"))).order_by(
        Organisation.parent_code, Organisation.level.desc(), Organisation.code)
    orgs = list(session.scalars(q))
    if scope is not None:
        orgs = [o for o in orgs if o.code in scope]
    if district is not None:
        orgs = [o for o in orgs if o.code == district or o.parent_code == district]
    return orgs


def daily_use(session: Session, month: str, scope: frozenset[str] | None, calendar, now: dt.datetime,
              district: str | None = None) -> dict:
    first, last = month_bounds(month)
    today = now.astimezone(SHANGHAI).date()
    end = min(last, today)
    days = [first + dt.timedelta(days=i) for i in range(max(0, (end - first).days + 1))]
    missing_calendar = False
    working: list[dt.date] = []
    for d in days:
        try:
            if calendar.is_working_day(d):
                working.append(d)
        except CalendarMissing:
            missing_calendar = True
    start, stop = day_span(first, last)
    orgs = organisations(session, scope, district)
    codes = [o.code for o in orgs]
    level = {o.code: o.level for o in orgs}
    users: dict[str, str] = {}  # username -> organisation
    for u in session.scalars(select(User).where(User.scope_code.in_(codes))):
        if u.scope_code is not None and u.role in USER_ROLES.get(level[u.scope_code], ()):
            users[u.username] = u.scope_code
    logged: dict[str, set[dt.date]] = {}
    for actor, at in session.execute(select(AuditEntry.actor, AuditEntry.at).where(
            AuditEntry.action == "auth.login", AuditEntry.at >= start, AuditEntry.at < stop,
            AuditEntry.actor.in_(sorted(users)))):
        logged.setdefault(users[actor], set()).add(at.astimezone(SHANGHAI).date())
    seen: dict[str, list] = {}
    for agency, opened, first_seen in session.execute(select(
            WarningRecord.agency_code, WarningRecord.opened_at, WarningRecord.first_seen_at).where(
            WarningRecord.agency_code.in_(codes), WarningRecord.opened_at >= start, WarningRecord.opened_at < stop)):
        seen.setdefault(agency, []).append((opened, first_seen))
    working_set = set(working)
    rows = []
    for o in orgs:
        dates = logged.get(o.code, set())
        used = sorted(dates & working_set)
        waits = [(fs - op).total_seconds() / 3600 for op, fs in seen.get(o.code, []) if fs is not None]
        opened = len(seen.get(o.code, []))
        rows.append({
            "code": o.code, "name": o.name, "level": o.level, "district": o.parent_code if o.level == "agency" else o.code,
            "users": sum(1 for org in users.values() if org == o.code),
            "working_days": len(working), "days_used": len(used),
            "rate": round(len(used) / len(working), 4) if working else None,
            "missed": [d for d in working if d not in dates],
            "other_days": sorted(dates - working_set),  # logins on holidays and weekends: welcome, not required
            "warnings": {"opened": opened, "seen": len(waits), "unseen": opened - len(waits),
                         "median_hours": round(statistics.median(waits), 1) if waits else None},
        })
    return {"month": month, "from": first, "to": end, "working_days": working, "calendar_missing": missing_calendar,
            "organisations": rows}


def agency_rates(session: Session, month: str, codes: list[str], now: dt.datetime) -> dict[str, float | None]:
    """The daily-use rate of each agency in ``codes`` (for the monthly scoring)."""
    from archive.deadlines.store import load_calendar

    data = daily_use(session, month, frozenset(codes), load_calendar(session), now)
    return {r["code"]: r["rate"] if r["users"] else None for r in data["organisations"] if r["level"] == "agency"}
