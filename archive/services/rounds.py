"""The worker's scheduled round of warnings: every case scanned against the deadline rules,
overdue tasks warned, unhandled warnings escalated."""
from __future__ import annotations

import datetime as dt

from archive.deadlines.rules import load_rules
from archive.deadlines.store import load_calendar
from archive.deadlines.warnings import ScanReport, escalate, scan
from archive.services.tasks import warn_overdue


def run_checks(sessions, now: dt.datetime) -> tuple[ScanReport, int]:
    """One scheduled round: scan every case, then escalate (what the worker runs)."""
    with sessions() as session:
        calendar, rules = load_calendar(session), load_rules()
        report = scan(session, rules, calendar, now, incremental=True)
        report.new += warn_overdue(session, rules, calendar, now)
        moved = escalate(session, rules, calendar, now)
    return report, moved
