"""Monthly scoring (月度考评) of each agency, from what the archive shows.

Five components, each a rate from 0 to 1, weighted by ``ARCHIVE_SCORE_WEIGHTS``:

- ``on_time`` 上传及时率: documents uploaded in the month ÷ those of them not late (a late
  upload is a ``late_upload`` warning, opened at the upload).
- ``completeness`` 文书齐全率: stages completed in the month whose required forms are present
  (no ``missing_documents`` warning still open for the stage) ÷ stages completed.
- ``warnings`` 预警处置及时率: over the warnings opened in the month that are decided (handled,
  resolved by an upload, escalated, or past their due), the mean credit of
  ``ARCHIVE_SCORE_WARNING_CREDIT``: handled in time at level 1 earns the level-1 credit (1),
  at level 2 the level-2 credit (0.5), at level 3 the level-3 credit (0); not handled in time
  earns 0. Warnings still open before their due are pending and not counted.
- ``reviews`` 案卷评查: the mean score (of 100) of the agency's sampled files whose reviews
  were submitted in the month, as a rate.
- ``performance`` 履职比例: the year-to-date ratio at the end of the month.
- ``daily_use`` 日常使用率: working days of the month (to date) on which one of the agency's users
  logged in ÷ working days (``archive.services.dailyuse``); weight 0 unless configured.
- ``officers`` 执法资格合规率: stages completed in the month that the officer rules check (from
  their ``checked_from``) without an ``officer_certificate`` or ``too_few_officers`` warning ÷
  those stages; weight 0 unless configured.

Score = Σ weight × rate ÷ Σ weight over the components that have data, × 100. A component
without data (no uploads, no stages, no sampled files, no powers listed) is shown as 无数据
and left out of the weights rather than counted as 0 or as full marks; no warnings at all
earns full marks on ``warnings``. An agency with none of the other four components (nothing
uploaded or completed, no files reviewed, no powers listed) has no score and no rank.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from archive.models import Case, Document, Organisation, Review, Stage, WarningRecord
from archive.services import dailyuse, stats
from archive.clock import SHANGHAI, as_aware, day_span, month_bounds
from archive.formula import (  # noqa: F401  (the names scoring's callers know them by)
    ACTIVITY, COMPONENT_NAMES, COMPONENTS, LEVELS, Formula, formula,
)

HANDLED = ("handled", "resolved")


def agencies_in(session: Session, scope: frozenset[str] | None, district: str | None = None,
                agency: str | None = None) -> list[tuple[str, str, str | None]]:
    """(code, name, district) of the agencies in ``scope`` (None: all), within ``district``."""
    q = select(Organisation.code, Organisation.name, Organisation.parent_code).where(
        Organisation.level == "agency").order_by(Organisation.code)
    if scope is not None:
        q = q.where(Organisation.code.in_(sorted(scope)))
    if district is not None:
        q = q.where(Organisation.parent_code == district)
    if agency is not None:
        q = q.where(Organisation.code == agency)
    return [tuple(r) for r in session.execute(q)]  # type: ignore[misc]


def _rate(good: float, total: int) -> float | None:
    return None if total == 0 else round(good / total, 4)


def scores(session: Session, month: str, scope: frozenset[str] | None, config: dict, now: dt.datetime,
           district: str | None = None, agency: str | None = None) -> dict:
    """The month's scores of the agencies in scope, ranked, with every component's figures."""
    f = formula(config)
    first, last = month_bounds(month)
    start, end = day_span(first, last)
    orgs = agencies_in(session, scope, district, agency)
    codes = [c for c, _, _ in orgs]

    uploads: dict[str, int] = {a: n for a, n in session.execute(
        select(Case.agency_code, func.count()).select_from(Document).join(Case, Case.id == Document.case_id)
        .where(Case.agency_code.in_(codes), Document.uploaded_at >= start, Document.uploaded_at < end)
        .group_by(Case.agency_code))}
    late: dict[str, int] = {a: n for a, n in session.execute(
        select(WarningRecord.agency_code, func.count()).where(
            WarningRecord.agency_code.in_(codes), WarningRecord.rule == "late_upload",
            WarningRecord.opened_at >= start, WarningRecord.opened_at < end)
        .group_by(WarningRecord.agency_code))}

    missing = select(WarningRecord.id).where(
        WarningRecord.case_id == Stage.case_id, WarningRecord.rule == "missing_documents",
        WarningRecord.fact_key == "missing:" + Stage.stage, WarningRecord.status == "open").exists()
    stage_rows = session.execute(
        select(Case.agency_code, func.count(), func.sum(case((missing, 1), else_=0)))
        .select_from(Stage).join(Case, Case.id == Stage.case_id)
        .where(Case.agency_code.in_(codes), Stage.completed_at >= start, Stage.completed_at < end)
        .group_by(Case.agency_code)).all()
    stages_done = {a: (n, int(m or 0)) for a, n, m in stage_rows}

    warnings = _warnings(session, codes, start, end, now, f.credit)

    per_file = (select(Review.agency_code.label("agency"), Review.case_id, Review.plan_id,
                       func.avg(Review.score).label("score"))
                .where(Review.agency_code.in_(codes), Review.status == "submitted",
                       Review.submitted_at >= start, Review.submitted_at < end)
                .group_by(Review.agency_code, Review.plan_id, Review.case_id).subquery())
    reviewed = {a: (n, float(s)) for a, n, s in session.execute(
        select(per_file.c.agency, func.count(), func.avg(per_file.c.score)).group_by(per_file.c.agency))}

    as_of = min(last, now.astimezone(SHANGHAI).date())
    perf = {r["agency"]: r for r in stats.performance(
        session, first.year, frozenset(codes), stats.threshold_for(session, config, first.year),
        as_of=as_of)["agencies"]}

    use = dailyuse.agency_rates(session, month, codes, now)
    acts = _officer_compliance(session, codes, start, end)

    rows: list[dict] = []
    for code, name, parent in orgs:
        n_up, n_late = uploads.get(code, 0), late.get(code, 0)
        n_st, n_missing = stages_done.get(code, (0, 0))
        w = warnings.get(code) or _empty_warnings()
        n_rev, mean = reviewed.get(code, (0, 0.0))
        p = perf.get(code) or {"powers": 0, "exercised": 0, "ratio": None, "status": "no_powers"}
        comp = {
            "on_time": {"rate": _rate(max(n_up - n_late, 0), n_up), "uploaded": n_up, "late": n_late},
            "completeness": {"rate": _rate(n_st - n_missing, n_st), "stages": n_st, "incomplete": n_missing},
            "warnings": {"rate": (round(w["credit"] / w["decided"], 4) if w["decided"] else 1.0 if not w["pending"] else None),
                         **{k: v for k, v in w.items() if k != "credit"}},
            "reviews": {"rate": round(mean / 100, 4) if n_rev else None, "files": n_rev,
                        "mean_score": round(mean, 2) if n_rev else None},
            "performance": {"rate": p["ratio"], "powers": p["powers"], "exercised": p["exercised"],
                            "status": p["status"]},
            "daily_use": {"rate": use.get(code)},
            "officers": {"rate": _rate(acts.get(code, (0, 0))[0] - acts.get(code, (0, 0))[1], acts.get(code, (0, 0))[0]),
                         "acts": acts.get(code, (0, 0))[0], "flawed": acts.get(code, (0, 0))[1]},
        }
        # No score without activity to judge: a month of nothing earns no marks for no warnings.
        active = any(comp[k]["rate"] is not None for k in ACTIVITY)
        weight = sum(f.weights[k] for k in COMPONENTS if comp[k]["rate"] is not None) if active else 0.0
        for k in COMPONENTS:
            rate = comp[k]["rate"]
            comp[k]["weight"] = f.weights[k]
            comp[k]["points"] = (round(100 * f.weights[k] * rate / weight, 2)
                                 if rate is not None and weight else None)
        total = round(sum(c["points"] for c in comp.values() if c["points"] is not None), 2) if weight else None
        rows.append({"agency": code, "name": name, "district": parent, "score": total, "components": comp})

    ranked = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["agency"]))
    previous, rank = None, 0
    for i, r in enumerate(ranked, 1):
        if r["score"] != previous:
            rank, previous = i, r["score"]
        r["rank"] = rank
    unranked = [r | {"rank": None} for r in rows if r["score"] is None]
    return {"month": month, "from": first, "to": last, "as_of": now, "formula": f.describe(),
            "agencies": ranked + unranked}


def _officer_compliance(session: Session, codes: list[str], start: dt.datetime,
                        end: dt.datetime) -> dict[str, tuple[int, int]]:
    """Per agency: (stages completed in [start, end) that the officer rules check, those of them
    with an officer warning)."""
    from archive.deadlines.rules import load_rules

    begin = load_rules().at(start.astimezone(SHANGHAI).date()).officers_checked_from
    if begin is None:
        return {}
    start = max(start, dt.datetime.combine(begin, dt.time(), SHANGHAI))
    flawed = select(WarningRecord.id).where(
        WarningRecord.case_id == Stage.case_id, WarningRecord.stage == Stage.stage,
        WarningRecord.rule.in_(("officer_certificate", "too_few_officers"))).exists()
    return {a: (n, int(m or 0)) for a, n, m in session.execute(
        select(Case.agency_code, func.count(), func.sum(case((flawed, 1), else_=0)))
        .select_from(Stage).join(Case, Case.id == Stage.case_id)
        .where(Case.agency_code.in_(codes), Stage.completed_at >= start, Stage.completed_at < end)
        .group_by(Case.agency_code))}


def _empty_warnings() -> dict:
    return {"opened": 0, "decided": 0, "pending": 0, "credit": 0.0,
            "levels": {str(lv): {"reached": 0, "in_time": 0} for lv in LEVELS}}


def _warnings(session: Session, codes: list[str], start: dt.datetime, end: dt.datetime,
              now: dt.datetime, credit: dict[int, float]) -> dict[str, dict]:
    """Per agency: warnings opened in [start, end), how far each climbed, which were handled in
    time at which level, and the credit they earn."""
    out: dict[str, dict] = {}
    rows = session.execute(select(WarningRecord.agency_code, WarningRecord.level, WarningRecord.status,
                                  WarningRecord.due_at, WarningRecord.handled_at).where(
        WarningRecord.agency_code.in_(codes), WarningRecord.opened_at >= start, WarningRecord.opened_at < end))
    for agency, level, status, due, handled in rows:
        w = out.setdefault(agency, _empty_warnings())
        w["opened"] += 1
        for lv in LEVELS:
            if lv <= level:
                w["levels"][str(lv)]["reached"] += 1
        if status in HANDLED:
            w["decided"] += 1
            if due is None or handled is None or as_aware(handled) <= as_aware(due):
                w["levels"][str(level)]["in_time"] += 1
                w["credit"] += credit[level]
        elif level > 1 or (due is not None and as_aware(due) < now):
            w["decided"] += 1  # climbed, or past its due: level 1 was missed, whatever comes next
        else:
            w["pending"] += 1
    return out
