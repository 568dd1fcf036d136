"""Amendments (更正申请) and document versions: the only way a stored document changes."""
from __future__ import annotations

import logging

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from archive.api.cases import received_file
from archive.api.documents import scoped_document
from archive.api.schemas import LocalDateTime, UploadFileSchema
from archive.auth import policy
from archive.auth.web import audit_event, current, refuse
from archive.extension import db, get_archive
from archive.models import Amendment
from archive.services import amendments as service

log = logging.getLogger(__name__)
blp = Blueprint("amendments", __name__, url_prefix="/api", description="更正 Amendments and versions")


class AmendmentFormSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class DecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=5000))


class AmendmentSchema(Schema):
    id = fields.Integer()
    document_id = fields.String()
    case_id = fields.String()
    agency = fields.String()
    reason = fields.String()
    requested_by = fields.String()
    requested_at = LocalDateTime()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    status = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = LocalDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    new_version_no = fields.Integer(allow_none=True)


class AmendmentQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["pending", "approved", "rejected"]))
    document = fields.String(validate=validate.Length(max=32))


class AmendmentListSchema(Schema):
    amendments = fields.List(fields.Nested(AmendmentSchema))


class VersionSchema(Schema):
    version = fields.Integer()
    current = fields.Boolean()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    version_id = fields.String()
    stored_at = LocalDateTime()
    superseded_at = LocalDateTime(allow_none=True)
    amendment_id = fields.Integer(allow_none=True)


class VersionListSchema(Schema):
    document_id = fields.String()
    versions = fields.List(fields.Nested(VersionSchema))


@blp.route("/documents/<doc_id>/amendments")
class DocumentAmendments(MethodView):
    @blp.arguments(AmendmentFormSchema, location="form")
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, AmendmentSchema)
    def post(self, form, files, doc_id):
        """Ask for a correction (multipart: reason, file) — the agency that holds the document."""
        a = request_amendment(scoped_document(doc_id), files["file"], form["reason"])
        return service.view(a)


def request_amendment(doc, upload, reason: str, **audit_detail) -> Amendment:
    """The document's agency asks for a correction: the corrected file is stored (retained,
    waiting for the decision) and the request committed; one pending request per document.
    The API route and the document page both ask through here."""
    p = current()
    if not policy.writes_agency(p, doc.case.agency_code):
        refuse("document", doc.id, visible=True, why="amendments are requested by the document's agency")
    archive = get_archive()
    session = db()
    a = service.request(session, archive.store, archive.ingest_settings, doc, by=p.username, reason=reason,
                        filename=upload.filename, spool=received_file(upload))
    session.commit()
    audit_event("amendment.request", "amendment", str(a.id), document_id=doc.id, sha256=a.sha256, reason=a.reason,
                **audit_detail)
    return a


@blp.route("/documents/<doc_id>/versions")
class DocumentVersions(MethodView):
    @blp.response(200, VersionListSchema)
    def get(self, doc_id):
        """Every version of the document, oldest first; read one with ``/content?version=N``."""
        doc = scoped_document(doc_id)
        audit_event("document.versions", "document", doc_id)
        return {"document_id": doc.id, "versions": service.versions(db(), doc)}


@blp.route("/amendments")
class Amendments(MethodView):
    @blp.arguments(AmendmentQuerySchema, location="query")
    @blp.response(200, AmendmentListSchema)
    def get(self, args):
        """Amendments in the caller's scope (``status=pending`` is the approver's queue)."""
        p = current()
        q = select(Amendment).order_by(Amendment.id.desc())
        if args.get("status"):
            q = q.where(Amendment.status == args["status"])
        if args.get("document"):
            q = q.where(Amendment.document_id == args["document"])
        if p.agencies is not None:
            q = q.where(Amendment.agency_code.in_(sorted(p.agencies)))
        return {"amendments": [service.view(a) for a in db().scalars(q.limit(500))]}


@blp.route("/amendments/<int:amendment_id>")
class AmendmentItem(MethodView):
    @blp.response(200, AmendmentSchema)
    def get(self, amendment_id):
        a = _amendment(amendment_id)
        return service.view(a)


@blp.route("/amendments/<int:amendment_id>/content")
class AmendmentContent(MethodView):
    @blp.response(200, description="the corrected file the amendment asks to store")
    def get(self, amendment_id):
        """The corrected file of the request, so the approver compares it with the stored
        version before deciding (verified against its SHA-256 like any stored file)."""
        from urllib.parse import quote

        from flask import Response

        from archive.api.documents import verified_read

        a = _amendment(amendment_id)
        audit_event("amendment.download", "amendment", str(amendment_id), document_id=a.document_id)
        headers = {"ETag": f'"{a.sha256}"', "Content-Length": str(a.size),
                   "Content-Disposition": f"attachment; filename*=UTF-8''{quote(a.filename)}",
                   "Cache-Control": "private, no-store"}
        return Response(verified_read(a.document_id, a, 0, a.size), headers=headers, mimetype=a.media_type,
                        direct_passthrough=True)


@blp.route("/amendments/<int:amendment_id>/decision")
class AmendmentDecision(MethodView):
    @blp.arguments(DecisionSchema)
    @blp.response(200, AmendmentSchema)
    def post(self, data, amendment_id):
        """Approve (adds a version) or reject (with the reason) — the supervising level only,
        never the requester."""
        a = decide_amendment(_amendment(amendment_id), approve=data["approve"], note=data["note"])
        return service.view(a)


def decide_amendment(a: Amendment, *, approve: bool, note: str, **audit_detail) -> Amendment:
    """The supervising level decides (never the requester): the decision committed exactly once,
    then an approval writes the new version (or the queued job does, if the store fails now).
    The API route and the amendment page both decide through here."""
    session, p = db(), current()
    role, _ = service.supervising_role(session, a.agency_code)
    if not policy.decides_amendment(p, role, a.agency_code, a.requested_by):
        why = "the requester never decides their own amendment" if p.username == a.requested_by \
            else f"amendments of {a.agency_code} are decided by its {role}, not a {p.role}"
        refuse("amendment", str(a.id), visible=True, why=why)
    service.decide(session, a, by=p.username, approve=approve, note=note)
    session.commit()
    if a.status == "approved":
        # After the commit; if the store fails now, the queued job applies it later.
        try:
            service.apply_approved(session, get_archive().store, a.id)
        except Exception as exc:  # noqa: BLE001 - the decision stands; the worker retries
            session.rollback()
            log.warning("amendment %s approved; its new version will be written by the worker: %s", a.id, exc)
        session.refresh(a)
    audit_event("amendment.decide", "amendment", str(a.id), document_id=a.document_id, status=a.status,
                note=a.decision_note, version=a.new_version_no, **audit_detail)
    return a


def _amendment(amendment_id: int) -> Amendment:
    a = service.get(db(), amendment_id)
    if not policy.reads_agency(current(), a.agency_code):
        refuse("amendment", str(amendment_id), visible=False, why="outside your scope")
    return a
