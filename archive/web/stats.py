"""统计: the performance ratio (履职比例) of each agency against the threshold, and the powers
an agency never exercised."""
from __future__ import annotations

from flask import render_template, request, url_for

from archive.auth import policy
from archive.auth.web import current, refuse
from archive.extension import db, get_archive
from archive.services import stats
from archive.services.clock import SHANGHAI, now
from archive.services.powers import CATEGORY_NAMES
from archive.web import bp

STATUS_NAMES = {"pass": "达标", "fail": "未达标", "inaction": "零履职", "no_powers": "未录入职权"}


@bp.route("/stats/performance")
def performance_page():
    p = current()
    if not policy.reads_stats(p):
        refuse("stats", "performance", visible=True, why=f"a {p.role} does not read the statistics")
    today = now().astimezone(SHANGHAI).date()
    year = request.args.get("year", type=int) or today.year
    if not 2000 <= year <= 2100:
        year = today.year
    agency = request.args.get("agency") or None
    if agency is not None and not p.sees_agency(agency):
        refuse("agency", agency, visible=False, why="outside the caller's scope")
    out = stats.performance(db(), year, p.agencies, stats.threshold_for(db(), get_archive().config, year), as_of=today)
    rows = out["agencies"]
    detail = None
    if agency is not None:
        detail = next((r for r in rows if r["agency"] == agency), None)
        if detail is None:
            refuse("agency", agency, visible=False, why="no such agency")
        detail = detail | {"never_exercised": stats.never_exercised(db(), agency, year, as_of=today)}
    summary = {k: sum(1 for r in rows if r["status"] == k) for k in STATUS_NAMES}
    return render_template("stats_performance.html", out=out, rows=rows, detail=detail, summary=summary,
                           status_names=STATUS_NAMES, category_names=CATEGORY_NAMES, year=year,
                           years=list(range(today.year, today.year - 5, -1)), section="stats",
                           crumbs=[("统计", url_for("web.performance_page")), ("履职比例", None)])
