"""文书 page: metadata (act time vs received time), an inline preview, the download, the version
history with who approved each amendment and why, and the amendment request."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse
from archive.edge.uploads import received_file
from archive.errors import ArchiveError
from archive.extension import db, get_archive
from archive.models import Amendment, Organisation, Stage
from archive.services import amendments as amendment_service
from archive.services import examinations, renditions
from archive.services.documents import scoped_document
from archive.web.blueprint import bp
from archive.web.layout import zh, zh_errors

PREVIEW_TEXT_CHARS = 20_000  # a DOCX or text file is previewed by its first pages of text


def preview_kind(media_type: str) -> str:
    """How the page shows a file: pdf (pdf.js), image, text (extracted), or none."""
    if media_type == "application/pdf":
        return "pdf"
    if media_type in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        return "image"
    return "text"


@bp.route("/documents/<doc_id>")
def document(doc_id: str):
    p = current()
    session = db()
    doc = scoped_document(caller(), doc_id)
    audit_event("document.view", "document", doc_id, via="web")
    case = doc.case
    stage = session.scalar(select(Stage).where(Stage.case_id == case.id, Stage.stage == doc.stage))
    amendments = {a.id: a for a in session.scalars(select(Amendment).where(Amendment.document_id == doc.id)
                                                   .order_by(Amendment.id))}
    versions = amendment_service.versions(session, doc)
    # version N+1 was added by the amendment recorded on version N (the one it superseded)
    by_new = {a.new_version_no: a for a in amendments.values() if a.new_version_no}
    for v in versions:
        v["amendment"] = by_new.get(v["version"])
    pending = next((a for a in amendments.values() if a.status == "pending"), None)
    text = ocr_text = None
    kind = preview_kind(doc.media_type)
    rendition = renditions.view(session, doc)
    examination = examinations.current_view(session, doc)
    src = f"/api/documents/{doc.id}/content"
    if rendition is not None and rendition["status"] == "done":  # an editable document: its PDF/A copy
        kind, src = "pdf", f"/api/documents/{doc.id}/rendition"
    if kind == "text" or doc.text_status == "ocr":
        from sqlalchemy import func

        from archive.models import Document

        shown = session.scalar(select(func.substr(Document.text_content, 1, PREVIEW_TEXT_CHARS))
                               .where(Document.id == doc.id))
        if doc.text_status == "ocr":  # recognised text is shown as such, beside the original
            ocr_text = shown
        else:
            text = shown
    writer = policy.writes_agency(p, case.agency_code)
    from archive.services import archival
    from archive.services.archivalrules import CLASSIFICATIONS

    archival_meta = archival.metadata_of(caller(), doc_id)
    return render_template(
        "document.html", archival_meta=archival_meta, classifications=CLASSIFICATIONS, doc=doc, case=case, stage=stage, agency=session.get(Organisation, case.agency_code),
        versions=versions, amendments=list(amendments.values()), pending=pending, shown_as=kind, text=text,
        rendition=rendition, preview_src=src, examination=examination,
        ocr_text=ocr_text, writer=writer, errors=g.get("form_errors", {}), values=g.get("form_values", {}), section="cases",
        crumbs=[("案件", url_for("web.cases")) if not policy.works_from_assignments(p) else ("评查任务", url_for("web.home")),
                (case.number, url_for("web.case", case_id=case.id)), (doc.filename, None)])


@bp.route("/documents/<doc_id>/amend", methods=["POST"])
def document_amend(doc_id: str):
    """更正申请: the document's agency asks for a correction (reason + the corrected file)."""
    doc = scoped_document(caller(), doc_id)
    if not policy.writes_agency(current(), doc.case.agency_code):  # refused before the form is read
        refuse("document", doc_id, visible=True, why="amendments are requested by the document's agency")
    reason = request.form.get("reason", "").strip()
    upload = request.files.get("file")
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = ["请写明更正理由。"]
    if upload is None or not upload.filename:
        errors["file"] = ["请选择更正后的文件。"]
    if errors:
        g.form_errors, g.form_values = errors, request.form
        return document(doc_id), 422
    try:
        a = amendment_service.ask(caller("web"), doc, upload.filename,  # type: ignore[union-attr]
                                  received_file(upload, get_archive().ingest_settings.max_bytes), reason[:5000])
    except ArchiveError as exc:
        db().rollback()
        g.form_errors = zh_errors(exc.errors) or {"file": [zh(exc.message)]}
        g.form_values = request.form
        return document(doc_id), 409 if "pending" in exc.message else 422
    flash("更正申请已提交，等待上级审批。审批结果会显示在您的工作台。", "ok")
    return redirect(url_for("web.amendment", amendment_id=a.id), code=303)


@bp.route("/documents/<doc_id>/metadata", methods=["POST"])
def document_metadata(doc_id: str):
    """归档元数据: the agency sets 题名, 文件编号, 责任者 and 密级 before filing."""
    from archive.errors import ValidationFailed
    from archive.services import archival
    from archive.services.archivalrules import EDITABLE

    doc = scoped_document(caller(), doc_id)
    if not policy.writes_agency(current(), doc.case.agency_code):
        refuse("document", doc_id, visible=True, why="the archival metadata is set by the document's agency")
    try:
        archival.set_metadata(caller("web"), doc_id, {k: request.form.get(k, "") for k in EDITABLE})
    except ValidationFailed as exc:
        db().rollback()
        flash("未保存：" + "；".join(f"{k}：{v[0]}" for k, v in exc.errors.items()), "error")
    except ArchiveError as exc:
        db().rollback()
        flash("未保存：" + zh(exc.message), "error")
    else:
        flash("归档元数据已保存。", "ok")
    return redirect(url_for("web.document", doc_id=doc_id) + "#archival-metadata", code=303)
