"""归档 on the case page: file a closed case (the agency), its four-property reports (四性检测)
as a page and as a PDF, for whoever reads the case."""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, url_for

from archive.clock import SHANGHAI
from archive.edge.auth import caller
from archive.errors import Conflict, NotFound, ValidationFailed
from archive.extension import db
from archive.services import archival
from archive.services.cases import scoped_case
from archive.web.blueprint import bp
from archive.web.layout import zh

PROPERTY_ORDER = ("真实性", "完整性", "可用性", "安全性")


@bp.route("/cases/<case_id>/archive", methods=["POST"])
def case_archive(case_id: str):
    """四性检测并归档: a failing check lists what to fix (kept, linked); a passing one files the case."""
    c = caller("web")
    try:
        row, _ = archival.archive_case(c, case_id)
    except ValidationFailed as exc:
        lines = exc.errors.get("check") or exc.errors.get("stage") or [zh(exc.message)]
        flash("四性检测未通过，未归档。请处理以下问题后再归档：" + "；".join(lines[:12])
              + ("……" if len(lines) > 12 else ""), "error")
    except Conflict:
        flash("该案件已归档。", "error")
    else:
        flash(f"已归档：档号 {row.archival_no}，保管期限{archival.load_rules().period_name(row.retention)}。", "ok")
    return redirect(url_for("web.case", case_id=case_id) + "#archival", code=303)


def _check(case_id: str, check_id: int):
    from archive.models import ArchivalCheck

    case = scoped_case(caller("web"), case_id)
    row = db().get(ArchivalCheck, check_id)
    if row is None or row.case_id != case_id:
        raise NotFound("no such check")
    return case, row, json.loads(row.report)


def grouped(report: dict) -> list[tuple[str, list[dict]]]:
    return [(p, [i for i in report["items"] if i["property"] == p]) for p in PROPERTY_ORDER]


@bp.route("/cases/<case_id>/checks/<int:check_id>")
def case_check(case_id: str, check_id: int):
    """One four-property report: each item by its identifier, name, result and reason."""
    case, row, report = _check(case_id, check_id)
    return render_template("check.html", case=case, row=row, report=report, groups=grouped(report),
                           section="cases", crumbs=[("案件", url_for("web.cases")),
                                                    (case.number, url_for("web.case", case_id=case_id)),
                                                    ("四性检测报告", None)])


@bp.route("/cases/<case_id>/checks/<int:check_id>.pdf")
def case_check_pdf(case_id: str, check_id: int):
    """The report as a PDF (A4, Chinese), to print and sign."""
    from archive.casefile.fonts import cjk_fpdf

    case, row, report = _check(case_id, check_id)
    pdf = cjk_fpdf()
    pdf.add_page()
    pdf.set_font("cjk", size=15)
    pdf.cell(0, 10, f"电子档案四性检测报告（{report['phase_name']}）", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("cjk", size=9.5)
    head = [f"案号：{case.number}", f"档号：{report.get('archival_no') or '（未归档）'}",
            f"检测时间：{row.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
            f"    检测人：{row.by}",
            f"结论：{'通过' if row.passed else '不通过'}    报告 SHA-256：{row.report_sha256}"]
    for line in head:
        pdf.multi_cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (18, 52, 16, 104)
    for prop, items in grouped(report):
        pdf.set_font("cjk", size=11)
        pdf.cell(0, 8, prop, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=8.5)
        from fpdf.fonts import FontFace

        with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6,
                       headings_style=FontFace(emphasis="", fill_color=(235, 238, 243))) as table:
            table.row(["编号", "检测项目", "结果", "说明"])
            for i in items:
                table.row([i["id"], i["name"], i["result"], i["reason"] + (f"（{i['document']}）" if i.get("document") else "")])
    body = bytes(pdf.output())
    name = f"四性检测报告-{case.number}-{row.id}.pdf"
    from urllib.parse import quote

    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
