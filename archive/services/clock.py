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
