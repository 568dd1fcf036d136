"""A year's holidays and make-up working days read from what a person pastes (pure): the State
Council's notice as published (一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。),
or dates one by one (2027-01-01, 2027-01-01至2027-01-03), and checked in Chinese."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

_ISO = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
_RANGE_ISO = re.compile(_ISO + r"\s*(?:至|到|~|～|—|－|-{1,2})\s*" + _ISO)
_ONE_ISO = re.compile(_ISO)
# 1月1日（周四）至3日（周六）  /  9月30日至10月7日  /  5月1日
_MD = r"(\d{1,2})月(\d{1,2})日(?:[（(][^）)]*[）)])?"
_RANGE_MD = re.compile(_MD + r"\s*(?:至|到|~|～|—|－|-)\s*(?:(\d{1,2})月)?(\d{1,2})日")
_ONE_MD = re.compile(_MD)


@dataclass
class ReadNotice:
    """What was read, and what is wrong with it (Chinese, one line each)."""

    holidays: set[dt.date] = field(default_factory=set)
    workdays: set[dt.date] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _day(year: int, month: int, day: int, problems: list[str]) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        problems.append(f"没有这一天：{year}年{month}月{day}日")
        return None


def _span(a: dt.date | None, b: dt.date | None, problems: list[str]) -> set[dt.date]:
    if a is None or b is None:
        return set()
    if b < a or (b - a).days > 31:
        problems.append(f"日期范围不对：{a:%Y-%m-%d} 至 {b:%Y-%m-%d}")
        return set()
    return {a + dt.timedelta(days=i) for i in range((b - a).days + 1)}


def _dates(text: str, year: int, problems: list[str]) -> set[dt.date]:
    """Every date a piece of text names: full dates and ranges, or month-day ones of ``year``."""
    out: set[dt.date] = set()
    rest = text
    for m in _RANGE_ISO.finditer(text):
        y1, m1, d1, y2, m2, d2 = map(int, m.groups())
        out |= _span(_day(y1, m1, d1, problems), _day(y2, m2, d2, problems), problems)
    rest = _RANGE_ISO.sub(" ", rest)
    for m in _ONE_ISO.finditer(rest):
        y, mo, d = map(int, m.groups())
        if (day := _day(y, mo, d, problems)) is not None:
            out.add(day)
    rest = _ONE_ISO.sub(" ", rest)
    for m in _RANGE_MD.finditer(rest):
        mon1, day1, mon2, day2 = m.group(1), m.group(2), m.group(3), m.group(4)
        first = _day(year, int(mon1), int(day1), problems)
        last = _day(year, int(mon2 or mon1), int(day2), problems)
        if first is not None and last is not None and last < first and not mon2:  # 12月31日至1月2日 has its month
            last = None
            problems.append(f"日期范围不对：{text.strip()[:40]}")
        out |= _span(first, last, problems)
    rest = _RANGE_MD.sub(" ", rest)
    for m in _ONE_MD.finditer(rest):
        if (day := _day(year, int(m.group(1)), int(m.group(2)), problems)) is not None:
            out.add(day)
    return out


def read_notice(year: int, holidays_text: str, workdays_text: str = "") -> ReadNotice:
    """The holidays and make-up working days of ``year``: from the two boxes, or both from the
    notice pasted whole into the first (a sentence that says 放假 gives holidays, one that says
    上班 gives working days), then checked."""
    read = ReadNotice()
    if workdays_text.strip():
        read.holidays = _dates(holidays_text, year, read.problems)
        read.workdays = _dates(workdays_text, year, read.problems)
    else:
        for sentence in re.split(r"[。；;\n]", holidays_text):
            if "上班" in sentence and "放假" not in sentence:
                read.workdays |= _dates(sentence, year, read.problems)
            elif "上班" in sentence:  # 放假…，…上班 in one sentence: split at the comma before 上班
                head, _, tail = sentence.rpartition("，")
                read.holidays |= _dates(head, year, read.problems)
                read.workdays |= _dates(tail, year, read.problems)
            else:
                read.holidays |= _dates(sentence, year, read.problems)
    check(year, read)
    return read


def check(year: int, read: ReadNotice) -> None:
    """Every date in ``year``, make-up working days on weekends, no date both, some holidays."""
    for d in sorted(read.holidays | read.workdays):
        if d.year != year:
            read.problems.append(f"{d:%Y-%m-%d} 不在 {year} 年")
    for d in sorted(read.workdays):
        if d.weekday() < 5:
            read.problems.append(f"调休上班日 {d:%Y-%m-%d} 不是周六或周日")
    for d in sorted(read.holidays & read.workdays):
        read.problems.append(f"{d:%Y-%m-%d} 既是放假日又是上班日")
    if not read.holidays:
        read.problems.append(f"没有读到 {year} 年的放假日期")


def month_grid(year: int, month: int) -> list[list[dt.date | None]]:
    """The weeks of a month, Monday first, None outside the month (for the preview)."""
    import calendar

    return [[dt.date(year, month, d) if d else None for d in week]
            for week in calendar.Calendar(firstweekday=0).monthdayscalendar(year, month)]
