"""统计: the monthly scores (月度考评) with each component and the charts, the briefing to
download, the performance ratio (履职比例) against the year's pass mark with the powers an
agency never exercised, and the city office's setting of that pass mark."""
from __future__ import annotations

import datetime as dt

from flask import Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.services.reports import briefing_title, check_district, daily_use_data, set_threshold, stats_reader
from archive.auth import policy
from archive.edge.auth import caller, current, refuse
from archive.errors import ValidationFailed
from archive.extension import db, get_archive
from archive.models import Organisation
from archive.services import briefing, stats
from archive.services import scores as scoring
from archive.clock import SHANGHAI, check_month, now
from archive.services.powers import CATEGORY_NAMES
from archive.web.blueprint import bp
from archive.labels import PERFORMANCE_STATUS_NAMES as STATUS_NAMES  # noqa: F401  (the names its callers know)



@bp.route("/stats/performance")
def performance_page():
    p = stats_reader(caller(), "performance")
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
    own = stats.thresholds(db(), get_archive().config)
    return render_template("stats_performance.html", out=out, rows=rows, detail=detail, summary=summary,
                           status_names=STATUS_NAMES, category_names=CATEGORY_NAMES, year=year,
                           year_threshold=next((t for t in own["years"] if t["year"] == year), None),
                           default_threshold=own["default"], may_set=policy.sets_thresholds(p), tab="performance",
                           years=list(range(today.year, today.year - 5, -1)), section="stats",
                           crumbs=[("统计", url_for("web.performance_page")), ("履职比例", None)])


@bp.route("/stats/thresholds/<int:year>", methods=["POST"])
def threshold_set(year: int):
    """The city office sets the year's pass mark, in percent (60 = 60 %)."""
    p = current()
    if not policy.sets_thresholds(p):
        refuse("stats", "thresholds", visible=True, why="only the city office sets the pass mark")
    raw = request.form.get("percent", "").strip().rstrip("%")
    note = request.form.get("note", "").strip()[:500]
    back = url_for("web.performance_page", year=year)
    try:
        value = round(float(raw) / 100, 6)
    except ValueError:
        flash("达标线应填写百分比数字，如 60。", "error")
        return redirect(back, code=303)
    try:
        set_threshold(caller("web"), year, value, note)
    except ValidationFailed as exc:
        flash(exc.message.replace("0.01 至 1 之间，最多四位小数（如 0.6 即 60%）", "1% 至 100% 之间，最多两位小数"), "error")
        return redirect(back, code=303)
    flash(f"{year} 年履职比例达标线已设为 {value * 100:g}%。", "ok")
    return redirect(back, code=303)


def _month_choices(today: dt.date) -> list[str]:
    out = []
    y, m = today.year, today.month
    for _ in range(24):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def _month_arg(today: dt.date) -> str:
    """?month=YYYY-MM, default the month before this one (the last whole month)."""
    month = request.args.get("month", "")
    try:
        return check_month(month)
    except ValueError:
        last = today.replace(day=1) - dt.timedelta(days=1)
        return f"{last.year:04d}-{last.month:02d}"


def _district_arg(p) -> str | None:
    """?district=CODE for the offices that see more than one district; others: None."""
    district = request.args.get("district") or None
    check_district(caller(), p, district)
    return district


def _districts(p) -> list[tuple[str, str]]:
    if p.agencies is not None:
        return []
    return [(o.code, o.name) for o in db().scalars(select(Organisation).where(Organisation.level == "district")
                                                 .order_by(Organisation.code))]


def _month_figures(p) -> tuple[dt.date, str, str | None, dict]:
    """(today, month, district, the month's briefing figures) for the 月度考评 page and its charts."""
    today = now().astimezone(SHANGHAI).date()
    month = _month_arg(today)
    district = _district_arg(p)
    data = briefing.monthly_cached(db(), month, p.agencies, get_archive().config, now(), district=district,
                                   title=briefing_title(caller(), p, district))
    return today, month, district, data


@bp.route("/stats/scores")
def scores_page():
    p = stats_reader(caller(), "scores")
    today, month, district, data = _month_figures(p)
    return render_template("stats_scores.html", data=data, month=month, months=_month_choices(today),
                           district=district, districts=_districts(p), components=data["formula"]["weighted"],
                           component_names=scoring.COMPONENT_NAMES, level_names=briefing.LEVEL_NAMES,
                           warning_status=briefing.STATUS_NAMES, pct=briefing.pct, tab="scores", section="stats",
                           crumbs=[("统计", url_for("web.scores_page")), ("月度考评", None)])


@bp.route("/stats/charts/<name>.png")
def chart_png(name: str):
    """One chart of the month's briefing for the caller's scope, as drawn into the DOCX."""
    p = stats_reader(caller(), "charts")
    if name not in briefing.CHARTS:
        refuse("chart", name, visible=False, why="no such chart")
    _, _, _, data = _month_figures(p)
    return Response(briefing.chart(data, name), mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@bp.route("/stats/daily-use")
def daily_use_page():
    p = stats_reader(caller(), "daily-use")
    today = now().astimezone(SHANGHAI).date()
    month = _month_arg(today)
    district = request.args.get("district") or None
    data = daily_use_data(caller(), {"month": month, "district": district})
    return render_template("stats_daily_use.html", data=data, month=month, months=_month_choices(today),
                           district=district, districts=_districts(p), tab="daily_use", section="stats",
                           crumbs=[("统计", url_for("web.scores_page")), ("日常使用", None)])


@bp.route("/stats/training")
def training_page():
    """培训考核: per agency, officers below the year's training hours, certificates lapsed or
    lapsing within 30 days, exams failed or pending; as CSV or XLSX with ``format``."""
    import csv
    import io

    from archive.services.officers import training_review, training_table

    p = stats_reader(caller(), "training")
    today = now().astimezone(SHANGHAI).date()
    year_arg = request.args.get("year", "")
    year = int(year_arg) if year_arg.isdecimal() and 2000 <= int(year_arg) <= 2199 else today.year
    required = float(get_archive().config.get("TRAINING_HOURS", 60))
    rows = training_review(db(), p.agencies, year, today, required)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        from urllib.parse import quote

        table = training_table(rows, year, required)
        name = f"培训考核-{year}"
        if fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerows(table)
            body, mime = ("\ufeff" + buf.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
        else:
            from openpyxl import Workbook

            wb = Workbook()
            ws = wb.active
            ws.title = "培训考核"
            for line in table:
                ws.append(line)
            out = io.BytesIO()
            wb.save(out)
            body, mime = out.getvalue(), briefing.FORMATS["xlsx"]
        return Response(body, mimetype=mime, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.{fmt}", "Cache-Control": "private, no-store"})
    return render_template("stats_training.html", rows=rows, year=year, years=list(range(today.year, today.year - 5, -1)),
                           required=required, tab="training", section="stats",
                           crumbs=[("统计", url_for("web.scores_page")), ("培训考核", None)])
