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
