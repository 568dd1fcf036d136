"""基础信息: the agencies' powers, officers and inspection plans; the district office imports
tables directly, an agency submits change requests that its district office approves."""
from __future__ import annotations

import datetime as dt

from flask import Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import caller, current, refuse
from archive.errors import ArchiveError, Conflict, MISSING_FILENAME, ValidationFailed
from archive.extension import db
from archive.labels import WARNING_STATUS_NAMES
from archive.models import BasicInfoChange
from archive.services import basicinfo
from archive.clock import SHANGHAI, now
from archive.services.powers import CATEGORY_NAMES
from archive.web.blueprint import bp
from archive.web.layout import Pager, org_names, page_arg, visible_orgs, zh
from archive.labels import CHANGE_STATUS_NAMES  # noqa: F401  (the names its callers know)

PER_PAGE = 50
_COL = basicinfo.COLUMN_NAMES


def _col(name: str) -> str:
    return _COL.get(name, name)


def row_zh(message: str) -> str:
    """A row error (or a file's) of the basic-information checks in Chinese (said so at the source)."""
    return zh(message)


def _row_errors(exc: ArchiveError) -> list[str]:
    out = []
    for row, why in (exc.errors or {}).items():
        n = row.removeprefix("row ")
        label = f"第 {n} 行" if n.isdigit() else ("文件" if row == "file" else _col(row))
        out.append(f"{label}：{'；'.join(row_zh(w) for w in why)}")
    return out


def _kind_arg() -> str:
    kind = request.values.get("kind", "powers")
    return kind if kind in basicinfo.SPECS else "powers"


@bp.route("/basic-info")
def registry_page():
    p = basicinfo.reader(caller())
    kind = _kind_arg()
    agency = request.args.get("agency") or None
    if agency is not None and not p.sees_agency(agency):
        refuse("agency", agency, visible=False, why="outside the caller's scope")
    page = page_arg()
    total, rows = basicinfo.list_entries(db(), kind, p.agencies, agency, (page - 1) * PER_PAGE, PER_PAGE)
    today = now().astimezone(SHANGHAI).date()
    return render_template(
        "basic_info.html", kind=kind, kinds=basicinfo.KIND_NAMES, rows=rows, total=total,
        pager=Pager(total, page, PER_PAGE), agency=agency, orgs=visible_orgs(p),
        names=org_names(r.agency_code for r in rows), category_names=CATEGORY_NAMES, today=today,
        soon=today + dt.timedelta(days=30), expiring=basicinfo.expiring(db(), p.agencies, today),
        pending=basicinfo.pending_changes(db(), p.agencies), may_import=policy.imports_basic_info(p),
        may_request=policy.requests_basic_info_change(p), import_errors=g.get("import_errors"),
        columns=basicinfo.SPECS[kind].columns, column_names=_COL, late_days=basicinfo.LATE_AFTER_DAYS,
        exam_results=basicinfo.EXAM_RESULT_NAMES, applications=basicinfo.APPLICATION_NAMES,
        tab="registry", section="stats",
        crumbs=[("统计", url_for("web.scores_page")), ("基础信息", None)])


@bp.route("/basic-info/template/<any(powers, officers, plans, trainings, exams):kind>.csv")
def registry_template(kind: str):
    basicinfo.reader(caller())
    return Response(basicinfo.template_csv(kind), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={kind}-template.csv"})


@bp.route("/basic-info/import", methods=["POST"])
def registry_import():
    p = current()
    kind = _kind_arg()
    if not policy.imports_basic_info(p):
        refuse("basic_info", kind, visible=True, why="agencies ask for changes; the district office imports")
    try:
        counts = basicinfo.import_table(caller("web"), kind, request.files.get("file"))
    except (ValidationFailed, Conflict) as exc:
        g.import_errors = [row_zh(exc.message)] + _row_errors(exc)
        return registry_page(), 422
    flash(f"已导入{basicinfo.KIND_NAMES[kind]}：新增 {counts['added']} 条，修改 {counts['updated']} 条，"
          f"删除 {counts['removed']} 条。", "ok")
    return redirect(url_for("web.registry_page", kind=kind), code=303)


@bp.route("/basic-info/entry", methods=["POST"])
def registry_entry():
    """One training record or exam entered on the page (the offices that import)."""
    p = current()
    kind = _kind_arg()
    if kind not in ("trainings", "exams") or not policy.imports_basic_info(p):
        refuse("basic_info", kind, visible=True, why="the district office enters training records and exams")
    try:
        counts = basicinfo.enter_row(caller("web"), kind, request.form.to_dict())
    except (ValidationFailed, Conflict) as exc:
        g.import_errors = [row_zh(exc.message)] + _row_errors(exc)
        return registry_page(), 422
    flash(f"已{'新增' if counts['added'] else '修改'}{basicinfo.KIND_NAMES[kind]} 1 条。", "ok")
    return redirect(url_for("web.registry_page", kind=kind), code=303)


@bp.route("/basic-info/changes", methods=["GET", "POST"])
def changes_page():
    p = basicinfo.reader(caller())
    if request.method == "POST":
        kind = _kind_arg()
        try:
            effective_on = dt.date.fromisoformat(request.form.get("effective_on", ""))
        except ValueError:
            g.import_errors = ["请填写变更生效日期（年-月-日）。"]
            return registry_page(), 422
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationFailed(MISSING_FILENAME, {"file": [MISSING_FILENAME]})
            c = basicinfo.submit(caller("web"), kind, upload, effective_on, request.form.get("reason", "")[:5000])
        except ValidationFailed as exc:
            db().rollback()
            g.import_errors = [row_zh(exc.message)] + _row_errors(exc)
            return registry_page(), 422
        if c.late:
            flash(f"变更申请已提交，等待区司法局审批。变更生效已超过 {basicinfo.LATE_AFTER_DAYS} 日才报送，"
                  f"系统已生成迟报预警。", "error")
        else:
            flash("变更申请已提交，等待区司法局审批；批准前基础信息不变。", "ok")
        return redirect(url_for("web.change_page", change_id=c.id), code=303)
    status = request.args.get("status") or None
    q = select(BasicInfoChange).order_by((BasicInfoChange.status == "pending").desc(), BasicInfoChange.id.desc())
    if status in CHANGE_STATUS_NAMES:
        q = q.where(BasicInfoChange.status == status)
    q = policy.scoped(q, p, BasicInfoChange.agency_code)
    rows = list(db().scalars(q.limit(200)))
    return render_template("basic_info_changes.html", rows=rows, names=org_names(c.agency_code for c in rows),
                           kinds=basicinfo.KIND_NAMES, status_names=CHANGE_STATUS_NAMES, status=status,
                           row_counts={c.id: len(basicinfo.change_rows(c)) for c in rows}, tab="registry",
                           section="stats", crumbs=[("统计", url_for("web.scores_page")),
                                                    ("基础信息", url_for("web.registry_page")), ("变更申请", None)])


@bp.route("/basic-info/changes/<int:change_id>", methods=["GET", "POST"])
def change_page(change_id: int):
    p = basicinfo.reader(caller())
    c = basicinfo.scoped_change(caller(), change_id)
    if request.method == "POST":
        approve = request.form.get("decision") == "approve"
        note = request.form.get("note", "").strip()[:5000]
        try:
            c, counts = basicinfo.decide(caller("web"), change_id, approve, note)
        except ValidationFailed:
            db().rollback()
            flash("退回时请写明理由。", "error")
        except Conflict as exc:
            db().rollback()
            flash("未能处理：" + zh(exc.message), "error")
        else:
            if counts is None:
                flash("已退回变更申请。", "ok")
            else:
                flash(f"已批准，基础信息已更新：新增 {counts['added']} 条，修改 {counts['updated']} 条，"
                      f"删除 {counts['removed']} 条。", "ok")
        return redirect(url_for("web.change_page", change_id=change_id), code=303)
    from archive.models import WarningRecord

    warning = db().get(WarningRecord, c.warning_id) if c.warning_id else None
    return render_template("basic_info_change.html", c=c, diffs=basicinfo.differences(db(), c),
                           agency_name=org_names([c.agency_code]).get(c.agency_code, c.agency_code),
                           kinds=basicinfo.KIND_NAMES, columns=basicinfo.SPECS[c.kind].columns, column_names=_COL,
                           category_names=CATEGORY_NAMES, status_names=CHANGE_STATUS_NAMES, warning=warning, warning_status=WARNING_STATUS_NAMES,
                           may_decide=c.status == "pending" and policy.decides_basic_info_change(p, c.agency_code),
                           late_days=basicinfo.LATE_AFTER_DAYS, tab="registry", section="stats",
                           crumbs=[("统计", url_for("web.scores_page")), ("基础信息", url_for("web.registry_page")),
                                   ("变更申请", url_for("web.changes_page")), (f"申请 {c.id}", None)])
