"""Amendments (更正申请) and document versions: the only way a stored document changes."""
from __future__ import annotations

import logging

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from archive.services.documents import scoped_document
from archive.edge.uploads import received_file
from archive.api.fields import UploadFileSchema
from archive.services.schemas import LocalDateTime
from archive.auth import policy
from archive.edge.auth import audit_event, caller, current
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
    sm3 = fields.String(allow_none=True, metadata={"description": "SM3 of the version (null: stored before SM3 was kept)"})
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
        upload = files["file"]
        a = service.ask(caller(), scoped_document(caller(), doc_id), upload.filename,
                        received_file(upload, get_archive().ingest_settings.max_bytes), form["reason"])
        return service.view(a)


@blp.route("/documents/<doc_id>/versions")
class DocumentVersions(MethodView):
    @blp.response(200, VersionListSchema)
    def get(self, doc_id):
        """Every version of the document, oldest first; read one with ``/content?version=N``."""
        doc = scoped_document(caller(), doc_id)
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
        q = policy.scoped(q, p, Amendment.agency_code)
        return {"amendments": [service.view(a) for a in db().scalars(q.limit(500))]}


@blp.route("/amendments/<int:amendment_id>")
class AmendmentItem(MethodView):
    @blp.response(200, AmendmentSchema)
    def get(self, amendment_id):
        a = service.scoped(caller(), amendment_id)
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

        a = service.scoped(caller(), amendment_id)
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
        a = service.decide_as(caller(), service.scoped(caller(), amendment_id), approve=data["approve"], note=data["note"])
        return service.view(a)
