"""Review results exported for the district and the city: CSV and a DOCX report (python-docx)."""
from __future__ import annotations

import csv
import io

import docx

from archive.sampling import scoring


def csv_bytes(data: dict) -> bytes:
    """One row per sampled file, then the totals per agency and per district. UTF-8 with a
    byte-order mark so that spreadsheet programs read the Chinese correctly."""
    grades = [g["grade"] for g in scoring.load_form()["grades"]]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["层级", "代码", "名称", "案号", "评查人员", "已评查", "得分", "等次"] + grades)
    for f in data["files"]:
        w.writerow(["案卷", f["agency"], f["agency_name"], f["case_number"], " ".join(f["reviewers"]),
                    f"{f['submitted']}/{f['reviews']}", "" if f["score"] is None else f["score"],
                    f["grade"] or ""] + [""] * len(grades))
    for level, key in (("执法机关", "agencies"), ("区", "districts")):
        for r in data[key]:
            w.writerow([level, r["code"], r["name"], "", "", f"{r['scored']}/{r['files']}",
                        "" if r["mean_score"] is None else r["mean_score"], ""] + [r["grades"][g] for g in grades])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def docx_bytes(data: dict) -> bytes:
    """A report: per district, per agency (files, scored, mean score, grades), then every file."""
    grades = [g["grade"] for g in scoring.load_form()["grades"]]
    d = docx.Document()
    d.add_heading(f"行政执法案卷评查结果报告：{data['name']}", level=1)
    d.add_paragraph(f"抽样计划编号 {data['plan_id']}；抽取案卷 {len(data['files'])} 件，"
                    f"已完成评查 {sum(1 for f in data['files'] if f['score'] is not None)} 件。")
    for title, key in (("各区汇总", "districts"), ("各执法机关汇总", "agencies")):
        d.add_heading(title, level=2)
        t = d.add_table(rows=1, cols=5 + len(grades))
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, ["代码", "名称", "案卷数", "已评查", "平均分"] + grades):
            cell.text = text
        for r in data[key]:
            cells = t.add_row().cells
            values = [r["code"], r["name"], str(r["files"]), str(r["scored"]),
                      "—" if r["mean_score"] is None else f"{r['mean_score']:.2f}"] + [str(r["grades"][g]) for g in grades]
            for cell, text in zip(cells, values):
                cell.text = text
    d.add_heading("案卷明细", level=2)
    t = d.add_table(rows=1, cols=5)
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, ["案号", "执法机关", "评查人员", "得分", "等次"]):
        cell.text = text
    for f in data["files"]:
        cells = t.add_row().cells
        for cell, text in zip(cells, [f["case_number"], f["agency_name"], "、".join(f["reviewers"]),
                                      "—" if f["score"] is None else f"{f['score']:.2f}", f["grade"] or "未完成"]):
            cell.text = text
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()
