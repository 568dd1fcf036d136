"""预警 pages: the list by level, status, agency and rule; one warning with its escalation history;
handling with a note by the role whose level it is."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from archive.auth import policy
from archive.edge.auth import audit_not_found, caller, current
from archive.services import warnings as service
from archive.errors import Conflict, ValidationFailed
from archive.extension import db
from archive.labels import HANDLER_NAMES, RULE_NAMES, WARNING_STATUS_NAMES
from archive.models import Case, WarningEscalation, WarningRecord
from archive.services import cases as case_service
from archive.clock import now
from archive.web.blueprint import bp
from archive.web.layout import Pager, org_names, page_arg, visible_orgs, zh

PER_PAGE = 30


@bp.route("/warnings")
def warnings():
    p = current()
    session = db()
    args = request.args
    q = select(WarningRecord, Case.number).outerjoin(Case, Case.id == WarningRecord.case_id)
    q = policy.scoped(q, p, WarningRecord.agency_code)
    if args.get("agency"):
        try:
            q = q.where(WarningRecord.agency_code.in_(case_service.agencies_under(session, args["agency"])))
        except ValidationFailed:
            q = q.where(WarningRecord.id.is_(None))
    if args.get("level") in ("1", "2", "3"):
        q = q.where(WarningRecord.level == int(args["level"]))
    if args.get("status") in WARNING_STATUS_NAMES:
        q = q.where(WarningRecord.status == args["status"])
    if args.get("rule") in RULE_NAMES:
        q = q.where(WarningRecord.rule == args["rule"])
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    page = page_arg()
    rows = session.execute(q.order_by((WarningRecord.status == "open").desc(), WarningRecord.level.desc(),
                                      WarningRecord.due_at.is_(None), WarningRecord.due_at, WarningRecord.id)
                           .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    names = org_names(w.agency_code for w, _ in rows)
    return render_template("warnings.html", rows=rows, total=total, pager=Pager(total, page, PER_PAGE), args=args,
                           orgs=visible_orgs(p), names=names, rules=list(RULE_NAMES.items()),
                           statuses=list(WARNING_STATUS_NAMES.items()),
                           may_handle=lambda w: policy.handles_warning(p, w.level, w.agency_code),
                           handles_any=any(w.status == "open" and policy.handles_warning(p, w.level, w.agency_code)
                                           for w, _ in rows),
                           section="warnings", crumbs=[("预警", None)])


@bp.route("/warnings/<int:warning_id>")
def warning(warning_id: int):
    p = current()
    session = db()
    w = service.scoped_warning(caller(), warning_id)
    if w.status == "open" and policy.handles_warning(p, w.level, w.agency_code) and w.first_seen_at is None \
            and request.method == "GET":
        from archive.services.dailyuse import mark_seen

        mark_seen(session, w, p.username, now())  # the first look by someone who handles it
        session.commit()
        session.refresh(w)
    case = session.get(Case, w.case_id) if w.case_id else None
    change_id = int(w.fact_key.split(":")[1]) if w.case_id is None and w.fact_key.startswith("change:") else None
    steps = session.scalars(select(WarningEscalation).where(WarningEscalation.warning_id == w.id)
                            .order_by(WarningEscalation.level)).all()
    return render_template("warning.html", w=w, case=case, change_id=change_id, steps=steps, agency_name=org_names([w.agency_code]).get(
        w.agency_code, w.agency_code), may_handle=w.status == "open" and policy.handles_warning(p, w.level, w.agency_code),
        handler=HANDLER_NAMES.get(w.level, ""), error=g.get("form_error"), note=g.get("form_note", ""),
        section="warnings", crumbs=[("预警", url_for("web.warnings")), (f"预警 {w.id}", None)])


@bp.route("/warnings/<int:warning_id>/handle", methods=["POST"])
def warning_handle(warning_id: int):
    """Handle with a note: the agency's legal staff at level 1, the district at 2, the city at 3."""
    c = caller("web")
    w = service.scoped_warning(c, warning_id)
    service.may_handle(c, w)  # refused before the note is read
    note = request.form.get("note", "").strip()[:2000]
    back = request.form.get("back") == "list"
    if w.status != "open":
        flash("这条预警已处理或已自动解除。", "error")
        return redirect(url_for("web.warning", warning_id=warning_id), code=303)
    try:
        service.handle_one(c, warning_id, note)
    except ValidationFailed:
        g.form_error, g.form_note = "请写明处理情况。", note
        return warning(warning_id), 422
    except Conflict as exc:
        flash("未能处理：" + ("这条预警已被他人处理，或已升级到上一级。" if "climbed" in exc.message else zh(exc.message)), "error")
        return redirect(url_for("web.warning", warning_id=warning_id), code=303)
    flash("预警已处理。", "ok")
    return redirect(url_for("web.warnings", status="open") if back else url_for("web.warning", warning_id=warning_id),
                    code=303)


@bp.route("/warnings/handle", methods=["POST"])
def warnings_handle_together():
    """Handle the warnings ticked in the list with one note (one agency at a time)."""
    from archive.errors import Forbidden, NotFound

    ids = [int(v) for v in request.form.getlist("ids") if v.isascii() and v.isdigit() and len(v) < 10]
    note = request.form.get("note", "").strip()[:2000]
    back = {k: v for k, v in (("status", request.form.get("status") or "open"),
                              ("agency", request.form.get("agency"))) if v}
    try:
        handled, skipped = service.handle_many(caller("web"), ids, note)
    except (ValidationFailed, Forbidden, NotFound) as exc:
        if isinstance(exc, NotFound):
            audit_not_found(exc)
        first = next(iter(exc.errors.values()), [exc.message])[0] if exc.errors else zh(exc.message)
        flash("未能批量处理：" + first, "error")
        return redirect(url_for("web.warnings", **back), code=303)
    message = f"已处理 {len(handled)} 条预警。"
    if skipped:
        message += f"另有 {len(skipped)} 条已被他人处理或已自动解除。"
    flash(message, "ok")
    return redirect(url_for("web.warnings", **back), code=303)
