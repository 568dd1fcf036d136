"""Basic information: each agency's enforcement powers (职权), imported from CSV or XLSX.

An import is checked row by row and applied whole or not at all: a file with one bad row
changes nothing, and the error names every bad row with its reason. Re-importing a file
updates the powers it names (by agency and code) and leaves the others.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from archive.services import basicinfo

from archive.labels import POWER_CATEGORY_NAMES as CATEGORY_NAMES  # noqa: E402  (the Chinese names live in labels)


def import_powers(session: Session, rows: list[dict[str, str]]) -> int:
    """Insert, update (or, with action remove, delete) the powers of ``rows``; all or nothing.
    Raises ValidationFailed naming every bad row (row numbers count the header as row 1)."""
    counts = basicinfo.import_rows(session, "powers", rows)
    return sum(counts.values())
