"""节假日安排 (the city office): each year's statutory holidays and make-up working days. The
State Council's notice (or dates one by one) is pasted, read, shown as month calendars for a
look before saving, checked in Chinese, and saved; every case's deadlines are then looked at
again. The same as ``archive calendar load``."""
from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for

from archive.auth import policy
from archive.edge.auth import current, refuse
from archive.deadlines.calendar import CalendarFileError, YearCalendar
from archive.deadlines.notice import month_grid, read_notice
from archive.deadlines.service import load_year, missing_calendar_years
from archive.deadlines.store import load_calendar
from archive.extension import db
from archive.models import CalendarYear
from archive.clock import SHANGHAI, now
from archive.web.blueprint import bp

WEEKDAYS = "一二三四五六日"


def _caller():
    p = current()
    if not policy.loads_calendar(p):
        refuse("calendar", "page", visible=True, why="the city office loads the holiday calendar")
    return p


@bp.route("/calendar", methods=["GET", "POST"])
def calendar_page():
    p = _caller()
    session = db()
    today = now().astimezone(SHANGHAI).date()
    missing = missing_calendar_years(session)
    known = load_calendar(session).years
    loaded = {row.year: row for row in session.query(CalendarYear)}
    years = [{"year": y, "source": ("管理员导入" if y in loaded else "内置（chinesecalendar）"),
              "holidays": len(known[y].holidays), "workdays": len(known[y].workdays),
              "loaded_at": loaded[y].loaded_at if y in loaded else None}
             for y in sorted(known, reverse=True) if y >= today.year - 3]
    form = request.form if request.method == "POST" else {}
    year_text = (form.get("year") or str(missing[0] if missing else today.year + 1)).strip()
    values = {"year": year_text, "holidays": form.get("holidays", ""), "workdays": form.get("workdays", "")}
    errors: dict[str, list[str]] = {}
    preview = None
    status = 200
    if request.method == "POST":
        year = int(year_text) if year_text.isascii() and year_text.isdigit() and len(year_text) == 4 else None
        if year is None or not 2000 <= year <= 2199:
            errors["year"] = ["请填写 2000 至 2199 之间的年份。"]
        else:
            read = read_notice(year, values["holidays"], values["workdays"])
            if read.problems:
                errors["holidays"] = read.problems
            preview = {"year": year, "holidays": read.holidays, "workdays": read.workdays,
                       "months": [(m, month_grid(year, m)) for m in range(1, 13)]}
            if not errors and form.get("action") == "save":
                try:
                    cal = YearCalendar(year, frozenset(read.holidays), frozenset(read.workdays),
                                       f"page:{p.username}:{dt.date.today().isoformat()}")
                except CalendarFileError as exc:  # (checked above already; kept as the last word)
                    errors["holidays"] = [exc.message]
                else:
                    load_year(session, cal, by=p.username, via="web")
                    flash(f"{year} 年节假日安排已保存：放假 {len(cal.holidays)} 天，调休上班 {len(cal.workdays)} 天。"
                          "各案件的期限将按新安排重新计算。", "ok")
                    return redirect(url_for("web.calendar_page"), code=303)
        status = 422 if errors else 200
    return render_template("calendar.html", years=years, missing=missing, values=values, errors=errors,
                           preview=preview, weekdays=WEEKDAYS, section="calendar",
                           crumbs=[("节假日安排", None)]), status
