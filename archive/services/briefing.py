"""The monthly briefing (月度简报): the month's scores, summary figures, the warnings over the
last twelve months and the notable ones, as DOCX (python-docx, with the charts), CSV and XLSX.

The same figures feed all three files and the 统计 pages; ``archive report monthly`` and
``GET /api/reports/monthly`` make them for the caller's scope.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.models import Case, Organisation, WarningRecord
from archive.services import charts, stats
from archive.services import scores as scoring
from archive.clock import SHANGHAI
from archive.labels import LEVEL_NAMES, BRIEFING_WARNING_STATUS_NAMES as STATUS_NAMES, KIND_NAMES  # noqa: F401  (the names its callers know)

TREND_MONTHS = 12
NOTABLE_LIMIT = 20
FORMATS = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _month_back(month: str, n: int) -> str:
    first, _ = scoring.month_bounds(month)
    index = first.year * 12 + first.month - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def area_name(session: Session, code: str | None) -> str | None:
    """The name an organisation's briefing carries (None: no such organisation)."""
    org = session.get(Organisation, code) if code else None
    return org.name if org is not None else None


def monthly(session: Session, month: str, scope: frozenset[str] | None, config: dict, now: dt.datetime,
            district: str | None = None, title: str | None = None) -> dict:
    """Everything the briefing says about ``month`` for the agencies in scope (within
    ``district``); ``title`` names the area (default 全市)."""
    result = scoring.scores(session, month, scope, config, now, district=district)
    codes = [r["agency"] for r in result["agencies"]]
    first, last = scoring.month_bounds(month)
    start, end = scoring.day_span(first, last)
    title = title or "全市"

    cases = {k: n for k, n in session.execute(
        select(Case.kind, func.count()).where(Case.agency_code.in_(codes), Case.opened_on >= first,
                                              Case.opened_on <= last).group_by(Case.kind))}
    trend = []
    for back in range(TREND_MONTHS - 1, -1, -1):
        m = _month_back(month, back)
        s, e = scoring.day_span(*scoring.month_bounds(m))
        levels = {str(lv): n for lv, n in session.execute(
            select(WarningRecord.level, func.count()).where(
                WarningRecord.agency_code.in_(codes), WarningRecord.opened_at >= s, WarningRecord.opened_at < e)
            .group_by(WarningRecord.level))}
        trend.append({"month": m, "levels": {str(lv): levels.get(str(lv), 0) for lv in scoring.LEVELS}})

    names = {r["agency"]: r["name"] for r in result["agencies"]}
    notable = [{"agency": w.agency_code, "agency_name": names.get(w.agency_code, w.agency_code),
                "case_number": number or "（基础信息）", "level": w.level, "status": w.status, "message": w.message,
                "opened_at": w.opened_at}
               for w, number in session.execute(
                   select(WarningRecord, Case.number).outerjoin(Case, Case.id == WarningRecord.case_id).where(
                       WarningRecord.agency_code.in_(codes), WarningRecord.level >= 2,
                       WarningRecord.opened_at < end,
                       (WarningRecord.opened_at >= start) | (WarningRecord.status == "open"))
                   .order_by(WarningRecord.level.desc(), WarningRecord.opened_at, WarningRecord.id)
                   .limit(NOTABLE_LIMIT))]

    rows = result["agencies"]
    scored = [r["score"] for r in rows if r["score"] is not None]
    comp = [r["components"] for r in rows]
    uploaded = sum(c["on_time"]["uploaded"] for c in comp)
    late = sum(c["on_time"]["late"] for c in comp)
    files = sum(c["reviews"]["files"] for c in comp)
    review_total = sum(c["reviews"]["files"] * c["reviews"]["mean_score"] for c in comp if c["reviews"]["files"])
    perf_rows = [{"agency": r["agency"], "name": r["name"], "ratio": r["components"]["performance"]["rate"],
                  "status": r["components"]["performance"]["status"]} for r in rows]
    summary = {
        "agencies": len(rows), "scored": len(scored),
        "mean_score": round(sum(scored) / len(scored), 2) if scored else None,
        "best": max(scored) if scored else None, "worst": min(scored) if scored else None,
        "penalty_cases": cases.get("penalty", 0), "inspections": cases.get("inspection", 0),
        "uploaded": uploaded, "late": late,
        "on_time_rate": round((uploaded - late) / uploaded, 4) if uploaded else None,
        "warnings": {str(lv): sum(c["warnings"]["levels"][str(lv)]["reached"] for c in comp) for lv in scoring.LEVELS},
        "warnings_in_time": sum(c["warnings"]["levels"][str(lv)]["in_time"] for c in comp for lv in scoring.LEVELS),
        "warnings_opened": sum(c["warnings"]["opened"] for c in comp),
        "reviewed_files": files, "review_mean": round(review_total / files, 2) if files else None,
        "performance_fail": sum(1 for p in perf_rows if p["status"] == "fail"),
        "performance_inaction": sum(1 for p in perf_rows if p["status"] == "inaction"),
    }
    threshold = stats.threshold_for(session, config, first.year)
    return {"title": title, "month": month, "from": first, "to": last, "as_of": now, "formula": result["formula"],
            "agencies": rows, "summary": summary, "trend": trend, "notable": notable,
            "performance": perf_rows, "threshold": float(threshold)}


CHARTS = ("scores", "warnings", "performance")


_CACHE: dict[tuple, tuple[float, dict]] = {}
_CACHE_LOCK = threading.Lock()
CACHE_SECONDS = 60.0


def monthly_cached(session: Session, month: str, scope: frozenset[str] | None, config: dict, now: dt.datetime,
                   district: str | None = None, title: str | None = None) -> dict:
    """``monthly`` kept for ``CACHE_SECONDS`` per month, scope and district in this process: the
    月度考评 page and its three charts (four requests) compute the figures once. At a million
    records one computation takes some 3 s (``python -m bench.stats``)."""
    key = (month, scope, district, title, config["SCORE_WEIGHTS"], config["SCORE_WARNING_CREDIT"],
           config["DATABASE_URL"])
    clock = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and clock - hit[0] < CACHE_SECONDS:
            return hit[1]
    data = monthly(session, month, scope, config, now, district=district, title=title)
    with _CACHE_LOCK:
        for k in [k for k, (at, _) in _CACHE.items() if clock - at >= CACHE_SECONDS]:
            del _CACHE[k]
        if len(_CACHE) < 64:
            _CACHE[key] = (clock, data)
    return data


def chart(data: dict, name: str) -> bytes:
    """One chart of the briefing (``CHARTS``), PNG."""
    y, m = data["month"].split("-")
    if name == "scores":
        return charts.scores_chart(data["agencies"], f"{y}年{int(m)}月 各单位考评得分")
    if name == "warnings":
        return charts.warnings_chart(data["trend"], f"近{TREND_MONTHS}个月预警数（按所达级别）")
    if name == "performance":
        return charts.performance_chart(data["performance"], data["threshold"],
                                        f"{y}年履职比例（截至{data['to']:%m月%d日}）")
    raise ValueError(f"no chart {name}")


def chart_images(data: dict) -> dict[str, bytes]:
    """The charts of the briefing, PNG."""
    return {name: chart(data, name) for name in CHARTS}


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def ranking_header(data: dict) -> list[str]:
    """Rank, agency, score, then the components the formula weighs."""
    return ["排名", "单位代码", "单位名称", "总分"] + [scoring.COMPONENT_NAMES[k] for k in data["formula"]["weighted"]]


def ranking_rows(data: dict) -> list[list[str]]:
    """The ranking table as text cells: rank, agency, score, then each weighted component's rate."""
    return [["—" if r["rank"] is None else str(r["rank"]), r["agency"], r["name"], _num(r["score"])]
            + [pct(r["components"][k]["rate"]) for k in data["formula"]["weighted"]] for r in data["agencies"]]


def _period_text(data: dict) -> str:
    return (f"统计期间：{data['from']:%Y年%m月%d日}至{data['to']:%Y年%m月%d日}；"
            f"统计时间：{data['as_of'].astimezone(SHANGHAI):%Y-%m-%d %H:%M}")


def summary_lines(data: dict) -> list[str]:
    s = data["summary"]
    w = s["warnings"]
    return [
        f"参评单位 {s['agencies']} 个，其中 {s['scored']} 个有本月得分，平均分 {_num(s['mean_score'])}，"
        f"最高 {_num(s['best'])}，最低 {_num(s['worst'])}。",
        f"本月新立行政处罚案件 {s['penalty_cases']} 件，行政检查 {s['inspections']} 次；"
        f"上传文书 {s['uploaded']} 份，其中逾期 {s['late']} 份，上传及时率 {pct(s['on_time_rate'])}。",
        f"本月新增预警 {s['warnings_opened']} 件：升至二级 {w['2']} 件，升至三级 {w['3']} 件；"
        f"按时处置 {s['warnings_in_time']} 件。",
        f"本月完成评查案卷 {s['reviewed_files']} 件，平均分 {_num(s['review_mean'])}。",
        f"年度履职比例（达标线 {100 * data['threshold']:g}%）未达标单位 {s['performance_fail']} 个，"
        f"零履职单位 {s['performance_inaction']} 个。",
    ]


def docx_bytes(data: dict, images: dict[str, bytes] | None = None) -> bytes:
    """The briefing as a Word document: title, period, summary, ranking, charts, notable warnings."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    images = chart_images(data) if images is None else images
    d = docx.Document()
    for style_name in ("Normal", "Heading 1", "Heading 2", "Title"):
        style = d.styles[style_name]
        style.font.name = "Noto Sans CJK SC"
        rpr = style.element.get_or_add_rPr()
        rpr.get_or_add_rFonts().set(qn("w:eastAsia"), "Noto Sans CJK SC")
    d.styles["Normal"].font.size = Pt(10.5)
    y, m = data["month"].split("-")
    title = d.add_heading(f"{data['title']}行政执法监督月度简报", level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = d.add_paragraph(f"（{y}年{int(m)}月）")
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    d.add_paragraph(_period_text(data))

    d.add_heading("一、总体情况", level=1)
    for line in summary_lines(data):
        d.add_paragraph(line)

    d.add_heading("二、考评排名", level=1)
    table = d.add_table(rows=1, cols=len(ranking_header(data)) - 1)
    table.style = "Table Grid"
    header = [h for h in ranking_header(data) if h != "单位代码"]
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = text
    for row in ranking_rows(data):
        cells = table.add_row().cells
        for cell, text in zip(cells, row[:1] + row[2:]):
            cell.text = text
    for row in table.rows:
        for cell in row.cells:
            for p in cell.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(8)

    d.add_heading("三、图表", level=1)
    for key in ("scores", "warnings", "performance"):
        d.add_picture(io.BytesIO(images[key]), width=Cm(15.5))

    d.add_heading("四、需关注的预警", level=1)
    if not data["notable"]:
        d.add_paragraph("本月无升至二级以上的预警。")
    else:
        t = d.add_table(rows=1, cols=5)
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, ["级别", "单位", "案号", "情况", "状态"]):
            cell.text = text
        for n in data["notable"]:
            cells = t.add_row().cells
            for cell, text in zip(cells, [LEVEL_NAMES.get(n["level"], str(n["level"])), n["agency_name"],
                                          n["case_number"], n["message"], STATUS_NAMES.get(n["status"], n["status"])]):
                cell.text = text

    d.add_heading("五、评分方法", level=1)
    f = data["formula"]
    parts = "、".join(f"{scoring.COMPONENT_NAMES[k]} {f['weights'][k]:g}" for k in f["weighted"])
    credit = f["warning_credit"]
    d.add_paragraph(f"总分 = 各项得分率 × 权重之和 ÷ 有数据各项的权重之和 × 100。权重：{parts}。"
                    f"预警在一级内按时处置计 {credit['1']:g}，升至二级后按时处置计 {credit['2']:g}，"
                    f"升至三级后处置计 {credit['3']:g}，未按时处置计 0。本月无数据的项目不计入权重。")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _table_rows(data: dict) -> list[list]:
    """Ranking with every count behind each component (CSV and XLSX)."""
    out: list[list] = [["排名", "单位代码", "单位名称", "所属区", "总分"]
                       + [f"{scoring.COMPONENT_NAMES[k]}（得分率）" for k in scoring.COMPONENTS]
                       + [f"{scoring.COMPONENT_NAMES[k]}（得分）" for k in scoring.COMPONENTS]
                       + ["上传文书", "逾期上传", "完成环节", "缺少文书环节", "新增预警", "按时处置预警",
                          "升至二级", "升至三级", "评查案卷", "评查平均分", "职权数", "已履职职权",
                          "执法资格检查环节", "执法资格或人数不合规"]]
    for r in data["agencies"]:
        c = r["components"]
        w = c["warnings"]
        out.append([r["rank"], r["agency"], r["name"], r["district"] or "", r["score"]]
                   + [c[k]["rate"] for k in scoring.COMPONENTS] + [c[k]["points"] for k in scoring.COMPONENTS]
                   + [c["on_time"]["uploaded"], c["on_time"]["late"], c["completeness"]["stages"],
                      c["completeness"]["incomplete"], w["opened"],
                      sum(w["levels"][str(lv)]["in_time"] for lv in scoring.LEVELS),
                      w["levels"]["2"]["reached"], w["levels"]["3"]["reached"], c["reviews"]["files"],
                      c["reviews"]["mean_score"], c["performance"]["powers"], c["performance"]["exercised"],
                      c["officers"]["acts"], c["officers"]["flawed"]])
    return out


def csv_bytes(data: dict) -> bytes:
    """The ranking with every figure, one row per agency; UTF-8 with a byte-order mark for
    spreadsheet programs."""
    buf = io.StringIO()
    w = csv.writer(buf)
    for row in _table_rows(data):
        w.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(data: dict) -> bytes:
    """Sheets: 考评排名 (every figure), 总体情况, 预警趋势 (months × levels), 需关注预警."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "考评排名"
    for row in _table_rows(data):
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.column_dimensions["C"].width = 28
    for col in range(6, 11):
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = "0.0%"
    s = wb.create_sheet("总体情况")
    s.append([f"{data['title']}行政执法监督月度简报（{data['month']}）"])
    s.append([_period_text(data)])
    for line in summary_lines(data):
        s.append([line])
    t = wb.create_sheet("预警趋势")
    t.append(["月份", "一级", "二级", "三级"])
    for m in data["trend"]:
        t.append([m["month"]] + [m["levels"][str(lv)] for lv in scoring.LEVELS])
    n = wb.create_sheet("需关注预警")
    n.append(["级别", "单位", "案号", "情况", "状态", "预警时间"])
    for w in data["notable"]:
        n.append([LEVEL_NAMES.get(w["level"], str(w["level"])), w["agency_name"], w["case_number"], w["message"],
                  STATUS_NAMES.get(w["status"], w["status"]),
                  w["opened_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(data: dict, fmt: str) -> bytes:
    if fmt == "docx":
        return docx_bytes(data)
    if fmt == "csv":
        return csv_bytes(data)
    if fmt == "xlsx":
        return xlsx_bytes(data)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def filename(data: dict, fmt: str) -> str:
    return f"月度简报-{data['title']}-{data['month']}.{fmt}"
