"""Calendars kept in the database, merged with the package's years (the database wins)."""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.deadlines.calendar import WorkCalendar, YearCalendar, from_chinesecalendar, parse_year
from archive.models import CalendarYear
from archive.clock import now as server_now

PACKAGE_YEARS = range(2004, 2100)


def save_year(session: Session, cal: YearCalendar) -> CalendarYear:
    """Store (or replace) a year loaded by an administrator; committed by the caller."""
    row = session.get(CalendarYear, cal.year) or CalendarYear(year=cal.year)
    row.holidays = json.dumps(sorted(d.isoformat() for d in cal.holidays))
    row.workdays = json.dumps(sorted(d.isoformat() for d in cal.workdays))
    row.source, row.loaded_at = cal.source, server_now()
    session.add(row)
    return row


def load_calendar(session: Session) -> WorkCalendar:
    """Every year the package knows, overridden by the years in the database."""
    years = {y: cal for y in PACKAGE_YEARS if (cal := from_chinesecalendar(y)) is not None}
    for row in session.scalars(select(CalendarYear)):
        years[row.year] = parse_year({"year": row.year, "holidays": json.loads(row.holidays),
                                      "workdays": json.loads(row.workdays)}, row.source)
    return WorkCalendar(years.values())
