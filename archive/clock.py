"""Time: the server clock and Asia/Shanghai conversions."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    """The server clock (UTC, aware)."""
    return dt.datetime.now(dt.timezone.utc)


def local(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in Asia/Shanghai, for display and API answers."""
    return value.astimezone(SHANGHAI) if value else None


def as_aware(value: dt.datetime) -> dt.datetime:
    """A time given by an agency: naive means Asia/Shanghai wall-clock time."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


# The months a person may ask statistics for (a month further out is refused, not computed:
# looking back a year from year 1 overflowed Python's dates)
FIRST_YEAR, LAST_YEAR = 2000, 2199


def check_month(month: str) -> str:
    """``month`` when it is ``YYYY-MM`` within the archive's years; ValueError (Chinese) otherwise."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"“{month}”不是月份，格式应为 YYYY-MM（例如 2026-03）") from None
    if not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise ValueError(f"月份应在 {FIRST_YEAR}-01 至 {LAST_YEAR}-12 之间") from None
    return month


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM`` (ValueError when it is not a month)."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"“{month}” is not a month (YYYY-MM)") from None
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def day_span(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the days in Shanghai time, as aware datetimes."""
    start = dt.datetime.combine(first, dt.time(), SHANGHAI)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI)
    return start, end
