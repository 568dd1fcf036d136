"""更正 pages: the requests in scope (the approver's queue first), one request with the stored
version and the corrected file side by side, and the decision with its reason."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse
from archive.errors import Conflict, ValidationFailed
from archive.extension import db
from archive.labels import AMENDMENT_STATUS_NAMES
from archive.models import Amendment, Case, Document
from archive.services import amendments as service
from archive.web.blueprint import bp
from archive.web.documents import preview_kind
from archive.web.layout import Pager, org_names, page_arg, zh

PER_PAGE = 30


@bp.route("/amendments")
def amendments():
    p = current()
    session = db()
    status = request.args.get("status")
    if status not in AMENDMENT_STATUS_NAMES:
        status = "pending" if "status" not in request.args else None
    q = select(Amendment, Case.number).join(Case, Case.id == Amendment.case_id)
    if status:
        q = q.where(Amendment.status == status)
    q = policy.scoped(q, p, Amendment.agency_code)
    from sqlalchemy import func

    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    page = page_arg()
    rows = session.execute(q.order_by(Amendment.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    from archive.models import CaseCorrection
    from archive.services import corrections

    cq = select(CaseCorrection, Case.number).join(Case, Case.id == CaseCorrection.case_id)
    if status:
        cq = cq.where(CaseCorrection.status == status)
    cq = policy.scoped(cq, p, CaseCorrection.agency_code)
    fixes = session.execute(cq.order_by(CaseCorrection.id.desc()).limit(100)).all()

    def may_decide(k) -> bool:
        role, _ = service.supervising_role(session, k.agency_code)
        return k.status == "pending" and policy.decides_amendment(p, role, k.agency_code, k.requested_by)

    return render_template("amendments.html", rows=rows, total=total, pager=Pager(total, page, PER_PAGE),
                           status=status or "", statuses=list(AMENDMENT_STATUS_NAMES.items()),
                           names=org_names([a.agency_code for a, _ in rows] + [k.agency_code for k, _ in fixes]),
                           fixes=fixes, fields=corrections.FIELDS, may_decide=may_decide, section="amendments",
                           crumbs=[("更正", None)])


@bp.route("/case-corrections/<int:correction_id>/decision", methods=["POST"])
def case_correction_decide(correction_id: int):
    """批准 or 驳回 a case correction (the supervising office; a rejection says why)."""
    from archive.errors import ArchiveError, Forbidden
    from archive.services import corrections
    from archive.clock import now

    p = current()
    session = db()
    k = corrections.get(session, p, correction_id)
    approve = request.form.get("decision") == "approve"
    try:
        corrections.decide(session, p, k, approve=approve, note=request.form.get("note", ""), now=now())
    except Forbidden:
        session.rollback()
        refuse("case_correction", str(correction_id), visible=True, why="decided by the supervising office")
    except ArchiveError as exc:
        session.rollback()
        flash("未能审批：" + (next(iter(exc.errors.values()))[0] if exc.errors else zh(exc.message)), "error")
    else:
        flash(f"案件信息更正已{'批准，案件已按新内容更新' if approve else '驳回'}。", "ok")
    return redirect(url_for("web.amendments", status="pending") + "#case-corrections", code=303)


@bp.route("/amendments/<int:amendment_id>")
def amendment(amendment_id: int):
    p = current()
    session = db()
    a = service.scoped(caller(), amendment_id)
    doc = session.get(Document, a.document_id)
    case = session.get(Case, a.case_id)
    role, _ = service.supervising_role(session, a.agency_code)
    may_decide = a.status == "pending" and policy.decides_amendment(p, role, a.agency_code, a.requested_by)
    # the version the request corrects: the current one while pending, else the one it replaced
    old_version = (a.new_version_no - 1) if a.new_version_no else doc.version_no  # type: ignore[union-attr]
    old_src = f"/api/documents/{a.document_id}/content?version={old_version}"
    old = next((v for v in service.versions(session, doc) if v["version"] == old_version),  # type: ignore[arg-type]
               {"filename": doc.filename, "size": doc.size, "sha256": doc.sha256, "media_type": doc.media_type})  # type: ignore[union-attr]
    old_media = str(old["media_type"])
    audit_event("amendment.view", "amendment", str(amendment_id), via="web")
    return render_template(
        "amendment.html", a=a, doc=doc, case=case, may_decide=may_decide, old_version=old_version, old=old,
        old_src=old_src, old_kind=preview_kind(old_media), new_kind=preview_kind(a.media_type),
        new_src=url_for("amendments.AmendmentContent", amendment_id=a.id),
        old_text=doc.text_content[:20000] if preview_kind(old_media) == "text" and doc.text_content  # type: ignore[union-attr]
        and old_version == doc.version_no else None,  # type: ignore[union-attr]
        decider={"district_office": "区司法局/区政府法制办", "city_office": "市级"}.get(role, role),
        agency_name=org_names([a.agency_code]).get(a.agency_code, a.agency_code),
        error=g.get("form_error"), note=g.get("form_note", ""), section="amendments",
        crumbs=[("更正", url_for("web.amendments")), (f"更正申请 {a.id}", None)])


@bp.route("/amendments/<int:amendment_id>/decide", methods=["POST"])
def amendment_decide(amendment_id: int):
    """Approve (adds a version; the old one stays readable) or reject with a reason."""
    session = db()
    a = service.scoped(caller(), amendment_id)
    approve = request.form.get("decision") == "approve"
    note = request.form.get("note", "").strip()[:5000]
    try:
        service.decide_as(caller("web"), a, approve=approve, note=note)
    except ValidationFailed:
        session.rollback()
        g.form_error, g.form_note = "驳回时请写明理由。", note
        return amendment(amendment_id), 422
    except Conflict:
        session.rollback()
        flash("这项更正申请已经审批过了。", "error")
        return redirect(url_for("web.amendment", amendment_id=amendment_id), code=303)
    flash("已批准，新版本已存入；原版本仍保留可查。" if a.status == "approved" else "已驳回，申请人会在工作台看到理由。", "ok")
    return redirect(url_for("web.amendment", amendment_id=amendment_id), code=303)
