"""Statistics: the performance ratio (履职比例) of each agency.

Ratio = the agency's powers with at least one inspection or penalty record opened in the year
(up to ``as_of`` for the year to date) ÷ all powers in its basic information. 0 flags inaction
(履职为零); below the threshold (60 % unless configured) fails the yearly assessment; exactly
at the threshold passes. Computed with exact fractions, so 3 of 5 at 60 % is a pass.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.errors import ValidationFailed
from archive.models import Case, Organisation, PerformanceThreshold, Power, utcnow

RECORD_KINDS = ("inspection", "penalty")  # the records that count a power as exercised


def threshold(config: dict) -> Fraction:
    """The pass mark of the performance ratio (``ARCHIVE_PERFORMANCE_THRESHOLD``), exact."""
    return Fraction(str(config["PERFORMANCE_THRESHOLD"]))


def threshold_for(session: Session, config: dict, year: int) -> Fraction:
    """The pass mark of ``year``: the one set for that year, else the configured default."""
    row = session.get(PerformanceThreshold, year)
    return Fraction(row.threshold) if row is not None else threshold(config)


def thresholds(session: Session, config: dict) -> dict:
    """The default and every year's own pass mark."""
    return {"default": float(threshold(config)), "years": [
        {"year": t.year, "threshold": float(t.threshold), "set_by": t.set_by, "set_at": t.set_at, "note": t.note}
        for t in session.scalars(select(PerformanceThreshold).order_by(PerformanceThreshold.year.desc()))]}


def set_threshold(session: Session, year: int, value: float, by: str, note: str = "") -> None:
    """Set (or change) the pass mark of ``year``: a share from 0.01 to 1, at most 4 decimals.
    One row per year (the primary key); of two at once, the later one stands."""
    if not 2000 <= year <= 2100:
        raise ValidationFailed("年份应在 2000 至 2100 之间。")
    share = Fraction(str(value))
    if not Fraction(1, 100) <= share <= 1 or (share * 10000).denominator != 1:
        raise ValidationFailed("达标比例应在 0.01 至 1 之间，最多四位小数（如 0.6 即 60%）。")
    values = {"threshold": Decimal(str(value)), "set_by": by, "set_at": utcnow(), "note": note.strip()}
    if session.connection().execute(update(PerformanceThreshold).where(PerformanceThreshold.year == year)
                                    .values(**values)).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(PerformanceThreshold(year=year, **values))
    except IntegrityError:  # set by someone else since: change theirs
        session.execute(update(PerformanceThreshold).where(PerformanceThreshold.year == year).values(**values))


def _period(year: int, as_of: dt.date | None) -> tuple[dt.date, dt.date]:
    end = dt.date(year, 12, 31)
    return dt.date(year, 1, 1), min(end, as_of) if as_of else end


def performance(session: Session, year: int, agencies: frozenset[str] | None, threshold: Fraction,
                as_of: dt.date | None = None, agency: str | None = None) -> dict:
    """Per agency in scope (``agencies`` None: all; ``agency``: that one only): powers,
    exercised, ratio and status (``pass``, ``fail``, ``inaction``, ``no_powers`` when its basic
    information lists none)."""
    start, end = _period(year, as_of)
    q = select(Organisation.code, Organisation.name).where(Organisation.level == "agency").order_by(Organisation.code)
    if agencies is not None:
        q = q.where(Organisation.code.in_(sorted(agencies)))
    if agency is not None:
        q = q.where(Organisation.code == agency)
    orgs = session.execute(q).all()
    codes = [c for c, _ in orgs]
    totals: dict[str, int] = {a: n for a, n in session.execute(
        select(Power.agency_code, func.count()).where(Power.agency_code.in_(codes)).group_by(Power.agency_code))}
    used = select(Power.agency_code, func.count(func.distinct(Power.code))).join(Case, and_(
        Case.agency_code == Power.agency_code, Case.power_code == Power.code)).where(
        Power.agency_code.in_(codes), Case.kind.in_(RECORD_KINDS),
        Case.opened_on >= start, Case.opened_on <= end).group_by(Power.agency_code)
    exercised: dict[str, int] = {a: n for a, n in session.execute(used)}
    rows = []
    for code, name in orgs:
        total, done = totals.get(code, 0), exercised.get(code, 0)
        ratio = Fraction(done, total) if total else None
        status = ("no_powers" if ratio is None else "inaction" if done == 0
                  else "pass" if ratio >= threshold else "fail")
        rows.append({"agency": code, "name": name, "powers": total, "exercised": done,
                     "ratio": round(float(ratio), 4) if ratio is not None else None, "status": status})
    return {"year": year, "from": start, "to": end, "threshold": float(threshold), "agencies": rows}


def never_exercised(session: Session, agency: str, year: int, as_of: dt.date | None = None) -> list[dict]:
    """The agency's listed powers without an inspection or penalty case in the period (the
    drill-down of its ratio)."""
    start, end = _period(year, as_of)
    used = select(Case.power_code).where(Case.agency_code == agency, Case.kind.in_(RECORD_KINDS),
                                         Case.opened_on >= start, Case.opened_on <= end)
    return [{"code": p.code, "name": p.name, "category": p.category, "legal_basis": p.legal_basis}
            for p in session.scalars(select(Power).where(Power.agency_code == agency, Power.code.not_in(used))
                                     .order_by(Power.code))]
