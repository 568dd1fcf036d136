"""The statistics, scores, briefings and daily use as the caller may read them: who reads
them, which district it may narrow to, and the figures for its scope (the API, the pages and
the briefing share these)."""
from __future__ import annotations

from sqlalchemy import select

from archive.auth import policy
from archive.auth.principal import Principal
from archive.clock import now
from archive.deadlines.store import load_calendar
from archive.errors import ValidationFailed
from archive.models import Organisation
from archive.services import briefing, dailyuse, stats
from archive.services import scores as scoring
from archive.services.caller import Caller


def stats_reader(c: Caller, what: str) -> Principal:
    """The caller, if its role reads the statistics (else 403, audited)."""
    p = c.principal
    if not policy.reads_stats(p):
        c.refuse("stats", what, visible=True, why=f"a {p.role} does not read the statistics")
    return p


def briefing_title(c: Caller, p: Principal, district: str | None) -> str:
    """A briefing names the district asked for, else the caller's own organisation."""
    return briefing.area_name(c.session, district or p.scope_code) or "全市"


def check_district(c: Caller, p: Principal, district: str | None) -> None:
    """``district`` (when given) is a district with an agency the caller sees; else 404."""
    if district is None:
        return
    org = c.session.get(Organisation, district)
    if org is None or org.level != "district" or not any(
            p.sees_agency(code) for code in c.session.scalars(select(Organisation.code).where(Organisation.parent_code == district))):
        c.refuse("district", district, visible=False, why="no such district in the caller's scope")


def month_scores(c: Caller, args) -> dict:
    """The scores of ``args["month"]`` for the caller (shared by the API, the page and the briefing)."""
    p = stats_reader(c, "scores")
    district = args.get("district")
    check_district(c, p, district)
    try:
        return scoring.scores(c.session, args["month"], p.agencies, c.config, now(), district=district)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def briefing_data(c: Caller, args) -> dict:
    """The month's briefing for the caller: its scope, titled with the district asked for or
    the caller's own organisation."""
    p = stats_reader(c, "report")
    district = args.get("district")
    check_district(c, p, district)
    try:
        return briefing.monthly(c.session, args["month"], p.agencies, c.config, now(), district=district,
                                title=briefing_title(c, p, district))
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def daily_use_data(c: Caller, args) -> dict:
    """The month's daily use for the caller (the API and the page)."""
    p = stats_reader(c, "daily-use")
    district = args.get("district")
    check_district(c, p, district)
    try:
        return dailyuse.daily_use(c.session, args["month"], p.agencies, load_calendar(c.session), now(), district=district)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def set_threshold(c: Caller, year: int, value: float, note: str) -> None:
    """The city office sets the year's pass mark; recorded in the audit trail with the change."""
    if not policy.sets_thresholds(c.principal):
        c.refuse("stats", "thresholds", visible=True, why="only the city office sets the pass mark")
    with c.transaction():
        stats.set_threshold(c.session, year, value, c.username, note)
        c.audit_in(c.session, "stats.threshold", "year", str(year), threshold=value, note=note)
