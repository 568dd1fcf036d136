"""Whole numbers typed by people: ASCII digits only, within what the database stores."""
from __future__ import annotations

INT_MAX = 2**31 - 1  # ids and counts fit a PostgreSQL integer


def whole(text: str, low: int = 0, high: int = INT_MAX) -> int | None:
    """``text`` as a whole number in [low, high], or None. ``str.isdigit`` alone is not enough:
    '²' and '٣' are digits to it, and a 25-digit id overflows the database's integers."""
    text = text.strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 12:
        return None
    value = int(text)
    return value if low <= value <= high else None
