"""投诉举报 pages (complaint handlers, district and city offices): the list, recording a complaint
(the cases it names linked and held at once), the complaint page with its handling log, linked
cases and their legal hold, search from inside the complaint with one-click linking, closing,
and a one-page printable summary."""
from __future__ import annotations

import datetime as dt
import re

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import or_, select

from archive.api.complaints import ComplaintCreateSchema, _handler, _scoped_case, complaint_for
from archive.auth import policy
from archive.auth.web import audit_event, current
from archive.errors import ArchiveError, Conflict, NotFound, ValidationFailed
from archive.extension import db, get_archive
from archive.models import Case, Complaint
from archive.services import complaints as service
from archive.services.clock import as_aware, local, now
from archive.web import bp
from archive.web.layout import Pager, org_names, page_arg, visible_orgs, zh, zh_errors

PER_PAGE = 30
STATUS_NAMES = {"open": "办理中", "closed": "已办结"}


@bp.route("/complaints")
def complaints():
    _handler()
    p = current()
    q = select(Complaint)
    status = request.args.get("status")
    if status in STATUS_NAMES:
        q = q.where(Complaint.status == status)
    if p.agencies is not None:
        q = q.where(or_(Complaint.district_code == p.scope_code, Complaint.agency_code.in_(sorted(p.agencies))))
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
    _handler()
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
            data = ComplaintCreateSchema().load({k: v for k, v in values.items()
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
                agency = data.get("agency") or (cases[0].agency_code if cases else None)
                c = service.create(session, {**data, "agency": agency}, by=p.username,
                                   default_district=p.scope_code if p.agencies is not None else None)
                for case in cases:
                    service.link(session, get_archive().store, c, case, by=p.username)
                session.commit()
                _, failed = _store_attachments(session, c, [f for f in request.files.getlist("file") if f.filename])
                for text in failed:
                    flash(text, "error")
            except ValidationFailed as exc:
                session.rollback()
                errors = zh_errors(exc.errors)
            else:
                audit_event("complaint.create", "complaint", str(c.id), cases=[x.id for x in cases], via="web")
                flash("投诉举报已登记" + (f"，{len(cases)} 件案卷已关联并保全（不可删除）。" if cases else "。"), "ok")
                return redirect(url_for("web.complaint", complaint_id=c.id), code=303)
        status = 422
    return render_template("complaint_new.html", values=values, errors=errors, agencies=agencies,
                           section="complaints",
                           crumbs=[("投诉举报", url_for("web.complaints")), ("登记投诉举报", None)]), status


@bp.route("/complaints/<int:complaint_id>")
def complaint(complaint_id: int):
    c = complaint_for(complaint_id, open_only=False)
    audit_event("complaint.view", "complaint", str(complaint_id), via="web")
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
    c = complaint_for(complaint_id, open_only=False)
    session = db()
    raw = request.form.get("done_on", "").strip()
    try:
        done_on = dt.date.fromisoformat(raw)
    except ValueError:
        return _again(complaint_id, "step", {"done_on": ["日期格式应为 年-月-日。"]})
    try:
        service.add_step(session, c, by=current().username, done_on=done_on, text=request.form.get("text", ""))
        session.commit()
    except ValidationFailed as exc:
        session.rollback()
        msgs = {"in the future": "不能晚于今天。", "before the complaint was received": "不能早于收到投诉的日期。",
                "required": "请写明办理情况。"}
        return _again(complaint_id, "step", {k: [msgs.get(m, zh(m)) for m in v] for k, v in exc.errors.items()})
    except Conflict:
        session.rollback()
        flash("投诉举报已办结，不能再添加办理记录。", "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    audit_event("complaint.step", "complaint", str(complaint_id), done_on=raw, via="web")
    flash("办理记录已添加。", "ok")
    return redirect(url_for("web.complaint", complaint_id=complaint_id) + "#steps", code=303)


@bp.route("/complaints/<int:complaint_id>/links", methods=["POST"])
def complaint_link(complaint_id: int):
    """Link a case (from the complaint page by number, or one click on a search hit)."""
    c = complaint_for(complaint_id, open_only=False)  # a closed one: the service says so, as a message
    session = db()
    case_id = request.form.get("case_id", "").strip()[:32]
    number = request.form.get("case_number", "").strip()[:120]
    if not case_id and number:
        found = session.scalar(select(Case.id).where(Case.number == number))
        if found is None:
            return _again(complaint_id, "link", {"case_number": [f"没有找到案号 {number}。"]})
        case_id = found
    try:
        case = _scoped_case(case_id)
    except NotFound:
        if number:
            return _again(complaint_id, "link", {"case_number": [f"没有找到案号 {number}（或不在您的办理范围）。"]})
        raise
    try:
        service.link(session, get_archive().store, c, case, by=current().username)
        session.commit()
    except ArchiveError as exc:
        session.rollback()
        flash("未能关联：" + ("投诉举报已办结。" if "closed" in exc.message else zh(exc.message)), "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    audit_event("complaint.link", "complaint", str(complaint_id), case_id=case.id, via="web")
    flash(f"案卷 {case.number} 已关联，其全部文书已保全（办结前不可删除）。", "ok")
    back = request.form.get("back")
    if back and back.startswith("/search?"):
        return redirect(back, code=303)
    return redirect(url_for("web.complaint", complaint_id=complaint_id) + "#cases", code=303)


def _store_attachments(session, c: Complaint, uploads) -> tuple[list[str], list[str]]:
    """Store each file (write-once); (names stored, Chinese errors)."""
    from archive.api.cases import received_file

    archive = get_archive()
    stored, failed = [], []
    for upload in uploads:
        if not upload.filename:
            continue
        try:
            a = service.attach(session, archive.store, archive.ingest_settings, c, by=current().username,
                               filename=upload.filename, spool=received_file(upload))
            session.commit()
        except ArchiveError as exc:
            session.rollback()
            failed.append(f"{upload.filename}：" + ("文件是空的。" if "empty" in exc.message else zh(exc.message)))
            continue
        audit_event("complaint.attach", "complaint", str(c.id), attachment=a.id, sha256=a.sha256, via="web")
        stored.append(a.filename)
    return stored, failed


@bp.route("/complaints/<int:complaint_id>/attachments", methods=["POST"])
def complaint_attach(complaint_id: int):
    c = complaint_for(complaint_id, open_only=False)
    if c.status != "open":
        flash("投诉举报已办结，不能再添加附件。", "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    uploads = [f for f in request.files.getlist("file") if f.filename]
    if not uploads:
        return _again(complaint_id, "attach", {"file": ["请选择文件。"]})
    stored, failed = _store_attachments(db(), c, uploads)
    if stored:
        flash(f"已保存附件：{'、'.join(stored)}（存档后不可修改或删除）。", "ok")
    for text in failed:
        flash(text, "error")
    return redirect(url_for("web.complaint", complaint_id=complaint_id) + "#attachments", code=303)


@bp.route("/complaints/<int:complaint_id>/close", methods=["POST"])
def complaint_close(complaint_id: int):
    c = complaint_for(complaint_id, open_only=False)
    session = db()
    handling, outcome = request.form.get("handling", "").strip(), request.form.get("outcome", "").strip()
    errors = {k: ["必填。"] for k, v in (("handling", handling), ("outcome", outcome)) if not v}
    if errors:
        return _again(complaint_id, "close", errors)
    try:
        released = service.close(session, get_archive().store, c, by=current().username, handling=handling[:20000],
                                 outcome=outcome[:5000])
    except Conflict:
        session.rollback()
        flash("这件投诉举报已经办结。", "error")
        return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
    audit_event("complaint.close", "complaint", str(complaint_id), released=released, via="web")
    flash("已办结。" + (f"{len(released)} 件案卷不再被其他投诉关联，保全已解除。" if released else ""), "ok")
    return redirect(url_for("web.complaint", complaint_id=complaint_id), code=303)
