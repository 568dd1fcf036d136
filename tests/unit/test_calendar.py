"""Working days and deadlines across real holidays (law art. 85), and a year with no calendar."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.deadlines.calendar import (
    CalendarFileError, CalendarMissing, WorkCalendar, deadline, from_chinesecalendar, load_file, parse_year,
)
from archive.clock import SHANGHAI

CAL = WorkCalendar(c for y in range(2024, 2027) if (c := from_chinesecalendar(y)))
D = dt.date.fromisoformat


@pytest.mark.parametrize("start, n, expected, why", [
    # Spring Festival 2025: off 28 Jan – 4 Feb; Sunday 26 Jan and Saturday 8 Feb are working days.
    ("2025-01-24", 1, "2025-01-26", "the make-up Sunday counts"),
    ("2025-01-26", 1, "2025-01-27", "Monday before the holiday"),
    ("2025-01-27", 1, "2025-02-05", "due the day before a long holiday: the holiday is skipped"),
    ("2025-01-27", 3, "2025-02-07", ""),
    ("2025-02-05", 3, "2025-02-08", "the make-up Saturday counts"),
    # Spring Festival 2026: off 15–23 Feb; Saturdays 14 and 28 Feb are working days.
    ("2026-02-13", 1, "2026-02-14", "Saturday 14 Feb 2026 is a working day"),
    ("2026-02-14", 1, "2026-02-24", "then nine days off"),
    ("2026-02-12", 3, "2026-02-24", ""),
    ("2026-02-26", 1, "2026-02-27", ""),
    ("2026-02-27", 1, "2026-02-28", "the make-up Saturday after the holiday"),
    # National Day 2025: off 1–8 Oct; Sunday 28 Sep and Saturday 11 Oct are working days.
    ("2025-09-26", 1, "2025-09-28", ""),
    ("2025-09-30", 1, "2025-10-09", ""),
    ("2025-09-30", 3, "2025-10-11", "ends on the make-up Saturday"),
    # National Day 2026: off 1–7 Oct; Sunday 20 Sep and Saturday 10 Oct are working days.
    ("2026-09-18", 1, "2026-09-20", ""),
    ("2026-09-30", 1, "2026-10-08", ""),
    ("2026-10-09", 1, "2026-10-10", ""),
    # Year ends.
    ("2024-12-31", 1, "2025-01-02", "New Year's Day 2025"),
    ("2025-12-31", 3, "2026-01-06", "1–3 Jan 2026 off, Sunday 4 Jan a working day"),
    ("2025-12-31", 1, "2026-01-04", ""),
])
def test_working_day_deadlines_across_real_holidays(start, n, expected, why):
    assert CAL.add_working_days(D(start), n) == D(expected), why


@pytest.mark.parametrize("start, n, expected", [
    ("2025-09-25", 10, "2025-10-09"),   # 5 Oct falls in the holiday: the next working day
    ("2026-02-05", 10, "2026-02-24"),   # 15 Feb is a holiday
    ("2026-03-02", 15, "2026-03-17"),   # an ordinary Tuesday stays
    ("2026-03-06", 15, "2026-03-23"),   # Saturday 21 Mar moves to Monday
])
def test_calendar_day_periods_ending_on_a_day_off_move_to_the_next_working_day(start, n, expected):
    assert CAL.add_calendar_days(D(start), n) == D(expected)


def test_deadline_is_the_end_of_the_last_day_in_shanghai():
    done = dt.datetime(2026, 2, 13, 17, 30, tzinfo=SHANGHAI)
    due = deadline(CAL, done, 1, "working")
    assert due.isoformat().startswith("2026-02-14T23:59:59.999999+08:00")
    # 23:30 UTC on the 12th is already the 13th in Shanghai
    assert deadline(CAL, dt.datetime(2026, 2, 12, 23, 30, tzinfo=dt.timezone.utc), 1, "working") == due


def test_a_year_without_calendar_is_not_guessed():
    with pytest.raises(CalendarMissing) as exc:
        CAL.add_working_days(D("2026-12-30"), 3)
    assert exc.value.year == 2027 and "calendar missing for 2027" in exc.value.message
    with pytest.raises(CalendarMissing):
        from_chinesecalendar(2027) or CAL.is_working_day(D("2027-01-04"))


def test_loaded_calendar_files_are_checked(tmp_path):
    good = tmp_path / "2027.json"
    good.write_text(json.dumps({"year": 2027, "holidays": ["2027-01-01"], "workdays": []}))
    assert load_file(good).holidays == {D("2027-01-01")}
    for bad in ({"year": 2027, "holidays": ["2028-01-01"]},                       # wrong year
                {"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-04"]},  # a Monday
                {"year": 2027, "holidays": []},
                {"holidays": ["2027-01-01"]}):
        with pytest.raises(CalendarFileError):
            parse_year(bad, "test")


dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2026, 11, 30))


@settings(max_examples=300, deadline=None)
@given(start=dates, n=st.integers(min_value=0, max_value=20))
def test_working_day_deadline_properties(start, n):
    due = CAL.add_working_days(start, n)
    assert due >= start
    if n:
        assert due > start and CAL.is_working_day(due)
    assert CAL.add_working_days(start, n + 1) > due  # more days never gives an earlier deadline


@settings(max_examples=300, deadline=None)
@given(start=dates, n=st.integers(min_value=0, max_value=20))
def test_calendar_day_deadline_properties(start, n):
    due = CAL.add_calendar_days(start, n)
    assert due >= start + dt.timedelta(days=n) and CAL.is_working_day(due)
    assert CAL.add_calendar_days(start, n + 1) >= due


NOTICE_2026 = """一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
三、清明节：4月4日（周六）至6日（周一）放假，共3天。
四、劳动节：5月1日（周五）至5日（周二）放假调休，共5天。5月9日（周六）上班。
五、端午节：6月19日（周五）至21日（周日）放假，共3天。
六、国庆节、中秋节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。"""


def test_a_pasted_state_council_notice_gives_the_years_holidays_and_make_up_days():
    from archive.deadlines.notice import read_notice

    read = read_notice(2026, NOTICE_2026)
    assert read.problems == []
    assert dt.date(2026, 2, 15) in read.holidays and dt.date(2026, 2, 23) in read.holidays
    assert len(read.holidays) == 3 + 9 + 3 + 5 + 3 + 7
    assert read.workdays == {dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 5, 9),
                             dt.date(2026, 9, 20), dt.date(2026, 10, 10)}


def test_dates_one_by_one_and_what_cannot_be_said_in_chinese():
    from archive.deadlines.notice import read_notice

    read = read_notice(2027, "2027-01-01\n2027-02-06至2027-02-12", "2027-02-14、2027-02-15")
    assert dt.date(2027, 2, 9) in read.holidays and len(read.holidays) == 8
    assert "调休上班日 2027-02-15 不是周六或周日" in read.problems
    both = read_notice(2027, "2027-01-02", "2027-01-02")
    assert "2027-01-02 既是放假日又是上班日" in both.problems
    assert "2026-12-31 不在 2027 年" in read_notice(2027, "2026-12-31").problems
    assert "没有这一天：2027年2月30日" in read_notice(2027, "2月30日放假").problems
    assert read_notice(2027, "").problems == ["没有读到 2027 年的放假日期"]
