"""投诉举报 pages (complaint handlers, district and city offices): the list, recording a complaint
(the cases it names linked and held at once), the complaint page with its handling log, linked
cases and their legal hold, search from inside the complaint with one-click linking, closing,
and a one-page printable summary."""
from __future__ import annotations

import datetime as dt
import re

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import caller, current
from archive.edge.uploads import received_file
from archive.errors import ArchiveError, Conflict, NotFound, ValidationFailed
from archive.extension import db, get_archive
from archive.models import Case, Complaint
from archive.services import complaints as service
from archive.services.schemas import ComplaintCreateSchema
from archive.services.zh_schema import in_chinese
from archive.clock import as_aware, local, now
from archive.web.blueprint import bp
from archive.web.layout import Pager, org_names, page_arg, visible_orgs, zh, zh_errors
from archive.labels import COMPLAINT_STATUS_NAMES as STATUS_NAMES  # noqa: F401  (the names its callers know)

PER_PAGE = 30


@bp.route("/complaints")
def complaints():
    service.ensure_handler(caller())
    p = current()
    q = select(Complaint)
    status = request.args.get("status")
    if status in STATUS_NAMES:
        q = q.where(Complaint.status == status)
    q = policy.scoped(q, p, Complaint.agency_code, Complaint.district_code)
    from sqlalchemy import func

    session = db()
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    page = page_arg()
    rows = session.scalars(q.order_by((Complaint.status == "open").desc(), Complaint.received_at.desc())
                           .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return render_template("complaints.html", rows=rows, total=total, pager=Pager(total, page, PER_PAGE),
                           status=status or "", statuses=STATUS_NAMES,
                           names=org_names(c.agency_code for c in rows if c.agency_code),
                           section="complaints", crumbs=[("投诉举报", None)])


def _case_numbers(text: str) -> list[str]:
    return [n.strip() for n in re.split(r"[\s,，、;；]+", text or "") if n.strip()][:20]


@bp.route("/complaints/new", methods=["GET", "POST"])
def complaint_new():
    """登记: who complained, how to reach them, the agency and case numbers it concerns, the text."""
    service.ensure_handler(caller())
    p = current()
    agencies = [(o.code, o.name) for o in visible_orgs(p) if o.level == "agency"]
    values: dict = {"received_at": f"{local(now()):%Y-%m-%dT%H:%M}"}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k, "").strip() for k in ("received_at", "complainant", "contact", "agency",
                                                        "case_numbers", "text")}
        session = db()
        try:
            data = in_chinese(ComplaintCreateSchema()).load({k: v for k, v in values.items()
                                                 if v and k in ("received_at", "complainant", "contact", "agency", "text")})
        except ValidationError as exc:
            errors = zh_errors(exc.messages)  # type: ignore[arg-type]
            data = None
        cases: list[Case] = []
        for number in _case_numbers(values["case_numbers"]):
            case = session.scalar(select(Case).where(Case.number == number))
            if case is None or not policy.reads_agency(p, case.agency_code):
                errors.setdefault("case_numbers", []).append(f"没有找到案号 {number}（或不在您的办理范围）。")
            else:
                cases.append(case)
        if data is not None and data.get("agency") and not policy.reads_agency(p, data["agency"]):
            errors["agency"] = ["不在您的办理范围。"]
        if not errors and data is not None:
            try:
                data["received_at"] = as_aware(data["received_at"])
                c = service.record(caller("web"), data, cases)
                _, failed = _store_attachments(c, [f for f in request.files.getlist("file") if f.filename])
                for text in failed:
                    flash(text, "error")
            except ValidationFailed as exc:
                errors = zh_errors(exc.errors)
            else:
                flash("投诉举报已登记" + (f"，{len(cases)} 件案卷已关联并保全（不可删除）。" if cases else "。"), "ok")
                return redirect(url_for("web.complaint", complaint_id=c.id), code=303)
        status = 422
    return render_template("complaint_new.html", values=values, errors=errors, agencies=agencies,
                           section="complaints",
                           crumbs=[("投诉举报", url_for("web.complaints")), ("登记投诉举报", None)]), status


@bp.route("/complaints/<int:complaint_id>")
def complaint(complaint_id: int):
    c = service.view_complaint(caller("web"), complaint_id)
    view = service.view(db(), c)
    from archive.models import SupervisionTask
    from archive.services.tasks import STATUS_NAMES as TASK_STATUS

    tasks = db().scalars(select(SupervisionTask).where(SupervisionTask.complaint_id == c.id)
                         .order_by(SupervisionTask.id)).all()
    return render_template("complaint.html", c=c, view=view, statuses=STATUS_NAMES, tasks=tasks,
                           task_status=TASK_STATUS,
                           agency_name=org_names([c.agency_code]).get(c.agency_code or "", "") if c.agency_code else "",
                           errors=g.get("form_errors", {}), values=g.get("form_values", {}),
                           today=local(now()).date().isoformat(), section="complaints",  # type: ignore[union-attr]
                           crumbs=[("投诉举报", url_for("web.complaints")), (f"投诉举报 {c.id}", None)])


def _again(complaint_id: int, which: str, errors: dict, status: int = 422):
    g.form_errors, g.form_values = {which: errors}, {which: request.form}
    return complaint(complaint_id), status


@bp.route("/complaints/<int:complaint_id>/steps", methods=["POST"])
def complaint_step(complaint_id: int):
    service.scoped_complaint(caller(), complaint_id, open_only=False)
    raw = request.form.get("done_on", "").strip()
    try:
        done_on = dt.date.fromisoformat(raw)
    except ValueError:
        return _again(complaint_id, "step", {"done_on": ["日期格式应为 年-月-日。"]})
    try:
        service.log_step(caller("web"), complaint_id, done_on, request.form.get("text", ""))
    except ValidationFailed as exc:
        return _again(complaint_id, "step", zh_errors(exc.errors))
    except Conflict:
        flash("投诉举报已办结，不能再添加办理记录。", "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    flash("办理记录已添加。", "ok")
    return redirect(url_for("web.complaint", complaint_id=complaint_id) + "#steps", code=303)


@bp.route("/complaints/<int:complaint_id>/links", methods=["POST"])
def complaint_link(complaint_id: int):
    """Link a case (from the complaint page by number, or one click on a search hit)."""
    service.scoped_complaint(caller(), complaint_id, open_only=False)  # a closed one: said below, as a message
    session = db()
    case_id = request.form.get("case_id", "").strip()[:32]
    number = request.form.get("case_number", "").strip()[:120]
    if not case_id and number:
        found = session.scalar(select(Case.id).where(Case.number == number))
        if found is None:
            return _again(complaint_id, "link", {"case_number": [f"没有找到案号 {number}。"]})
        case_id = found
    try:
        caller().case_for(session.get(Case, case_id), case_id)
    except NotFound:
        if number:
            return _again(complaint_id, "link", {"case_number": [f"没有找到案号 {number}（或不在您的办理范围）。"]})
        raise
    try:
        _, case = service.link_case(caller("web"), complaint_id, case_id)
    except ArchiveError as exc:
        flash("未能关联：" + ("投诉举报已办结。" if "closed" in exc.message else zh(exc.message)), "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    flash(f"案卷 {case.number} 已关联，其全部文书已保全（办结前不可删除）。", "ok")
    back = request.form.get("back")
    if back and back.startswith("/search?"):
        return redirect(back, code=303)
    return redirect(url_for("web.complaint", complaint_id=complaint_id) + "#cases", code=303)


def _store_attachments(c: Complaint, uploads) -> tuple[list[str], list[str]]:
    """Store each file (write-once); (names stored, Chinese errors)."""
    stored, failed = [], []
    for upload in uploads:
        if not upload.filename:
            continue
        try:
            a = service.attach_file(caller("web"), c.id, upload.filename,
                                    received_file(upload, get_archive().ingest_settings.max_bytes))
        except ArchiveError as exc:
            failed.append(f"{upload.filename}：" + ("文件是空的。" if "empty" in exc.message else zh(exc.message)))
            continue
        stored.append(a.filename)
    return stored, failed


@bp.route("/complaints/<int:complaint_id>/attachments", methods=["POST"])
def complaint_attach(complaint_id: int):
    c = service.scoped_complaint(caller(), complaint_id, open_only=False)
    if c.status != "open":
        flash("投诉举报已办结，不能再添加附件。", "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    uploads = [f for f in request.files.getlist("file") if f.filename]
    if not uploads:
        return _again(complaint_id, "attach", {"file": ["请选择文件。"]})
    stored, failed = _store_attachments(c, uploads)
    if stored:
        flash(f"已保存附件：{'、'.join(stored)}（存档后不可修改或删除）。", "ok")
    for text in failed:
        flash(text, "error")
    return redirect(url_for("web.complaint", complaint_id=complaint_id) + "#attachments", code=303)


@bp.route("/complaints/<int:complaint_id>/close", methods=["POST"])
def complaint_close(complaint_id: int):
    service.scoped_complaint(caller(), complaint_id, open_only=False)
    handling, outcome = request.form.get("handling", "").strip(), request.form.get("outcome", "").strip()
    errors = {k: ["必填。"] for k, v in (("handling", handling), ("outcome", outcome)) if not v}
    if errors:
        return _again(complaint_id, "close", errors)
    try:
        _, released = service.close_complaint(caller("web"), complaint_id, handling[:20000], outcome[:5000])
    except Conflict:
        flash("这件投诉举报已经办结。", "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    flash("已办结。" + (f"{len(released)} 件案卷不再被其他投诉关联，保全已解除。" if released else ""), "ok")
    return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
