"""The working-day calendar and deadline arithmetic (pure: data in, dates out).

Counting (Administrative Penalty Law art. 85; DOMAIN.md): the start day is not counted; a
working-day period counts only working days (weekdays that are not statutory holidays, plus
the make-up working days 调休 on weekends); a calendar-day period that ends on a day off moves
to the next working day. A deadline is the end of its last day, Asia/Shanghai. A year with no
calendar is never guessed: ``CalendarMissing`` names it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from archive.errors import ArchiveError
from archive.clock import SHANGHAI


class CalendarMissing(ArchiveError):
    """No holiday calendar for a year the computation needs."""

    def __init__(self, year: int) -> None:
        super().__init__(f"calendar missing for {year} / 缺少 {year} 年节假日安排",
                         {"calendar": [f"calendar missing for {year}"]})
        self.year = year


class CalendarFileError(ArchiveError):
    """A calendar file that cannot be used."""


@dataclass(frozen=True)
class YearCalendar:
    """One year's statutory holidays and make-up working days, and where they come from."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str

    def __post_init__(self) -> None:
        for d in self.holidays | self.workdays:
            if d.year != self.year:
                raise CalendarFileError(f"{d.isoformat()} is not in {self.year}")
        both = self.holidays & self.workdays
        if both:
            raise CalendarFileError(f"{min(both).isoformat()} is both a holiday and a working day")
        for d in self.workdays:
            if d.weekday() < 5:
                raise CalendarFileError(f"make-up working day {d.isoformat()} is not a weekend day")


def parse_year(data: Mapping, source: str) -> YearCalendar:
    """A YearCalendar from ``{"year": 2027, "holidays": ["2027-01-01", …], "workdays": […]}``."""
    try:
        year = int(data["year"])
        holidays = frozenset(dt.date.fromisoformat(d) for d in data.get("holidays", []))
        workdays = frozenset(dt.date.fromisoformat(d) for d in data.get("workdays", []))
    except (KeyError, TypeError, ValueError) as exc:
        raise CalendarFileError(f"not a calendar file: {exc}") from exc
    if not holidays:
        raise CalendarFileError(f"the calendar for {year} lists no holidays")
    return YearCalendar(year, holidays, workdays, source)


def load_file(path: str | Path) -> YearCalendar:
    """A calendar file (JSON) as published by an administrator from the State Council notice."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalendarFileError(f"cannot read {path}: {exc}") from exc
    return parse_year(data, source=f"file:{Path(path).name}")


@lru_cache(maxsize=256)
def from_chinesecalendar(year: int) -> YearCalendar | None:
    """The year from the ``chinesecalendar`` package, or None where it has no data."""
    from chinese_calendar import constants

    holidays = frozenset(d for d in constants.holidays if d.year == year)
    if not holidays:
        return None
    workdays = frozenset(d for d in constants.workdays if d.year == year)
    return YearCalendar(year, holidays, workdays, "package:chinesecalendar")


class WorkCalendar:
    """Working days over the years it holds; asking about any other year raises CalendarMissing."""

    def __init__(self, years: Iterable[YearCalendar]) -> None:
        self.years = {y.year: y for y in years}
        # (start, days, unit) -> last allowed day; a scan asks the same few thousand questions
        # hundreds of thousands of times. Years are fixed once the calendar is built.
        self._last_days: dict[tuple[dt.date, int, str], dt.date] = {}

    def last_day(self, start: dt.date, days: int, unit: str) -> dt.date:
        """The last allowed day of a period of ``days`` ``unit`` days after ``start`` (memoised)."""
        key = (start, days, unit)
        last = self._last_days.get(key)
        if last is None:
            if unit == "working":
                last = self.add_working_days(start, days)
            elif unit == "calendar":
                last = self.add_calendar_days(start, days)
            else:
                raise ValueError(f"unit must be working or calendar, not {unit!r}")
            self._last_days[key] = last
        return last

    def _year(self, year: int) -> YearCalendar:
        try:
            return self.years[year]
        except KeyError:
            raise CalendarMissing(year) from None

    def is_working_day(self, day: dt.date) -> bool:
        y = self._year(day.year)
        if day in y.workdays:
            return True
        return day.weekday() < 5 and day not in y.holidays

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (the start day is not counted)."""
        if n < 0:
            raise ValueError("a period is never negative")
        day, left = start, n
        while left:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def add_calendar_days(self, start: dt.date, n: int) -> dt.date:
        """``start`` + n days, moved to the next working day if that day is off."""
        if n < 0:
            raise ValueError("a period is never negative")
        return self.next_working_day(start + dt.timedelta(days=n))


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of ``day`` in Asia/Shanghai."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=SHANGHAI)


def deadline(calendar: WorkCalendar, completed_at: dt.datetime, days: int, unit: str) -> dt.datetime:
    """The end of the last allowed day for an act completed at ``completed_at``.

    ``unit`` is ``working`` or ``calendar``; the start day is the Asia/Shanghai date of the act.
    """
    return end_of_day(calendar.last_day(completed_at.astimezone(SHANGHAI).date(), days, unit))
