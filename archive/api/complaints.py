"""Complaints (投诉举报): record, search the archive for, link cases (legal hold), close."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from archive.api.fields import UploadFileSchema
from archive.services.schemas import BoundedDate, ComplaintCreateSchema, LocalDateTime
from archive.auth import policy
from archive.edge.auth import audit_event, caller, current
from archive.edge.uploads import received_file
from archive.extension import db, get_archive
from archive.models import Case, Complaint
from archive.services import complaints as service
from archive.clock import as_aware

blp = Blueprint("complaints", __name__, url_prefix="/api/complaints", description="投诉举报 Complaints")


class StepCreateSchema(Schema):
    done_on = BoundedDate(required=True, metadata={"description": "the day it was done"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class StepSchema(Schema):
    id = fields.Integer()
    done_on = fields.Date()
    text = fields.String()
    recorded_by = fields.String()
    recorded_at = LocalDateTime()


class AttachmentSchema(Schema):
    id = fields.String()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.String()
    uploaded_at = LocalDateTime()


class LinkSchema(Schema):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=32))


class CloseSchema(Schema):
    handling = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class LinkedCaseSchema(Schema):
    case_id = fields.String()
    case_number = fields.String()
    linked_by = fields.String()
    linked_at = LocalDateTime()
    held = fields.Boolean()


class ComplaintSchema(Schema):
    id = fields.Integer()
    received_at = LocalDateTime()
    complainant = fields.String()
    contact = fields.String(allow_none=True)
    agency = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    text = fields.String()
    status = fields.String()
    handling = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = LocalDateTime()
    closed_by = fields.String(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)
    cases = fields.List(fields.Nested(LinkedCaseSchema))
    steps = fields.List(fields.Nested(StepSchema), metadata={"description": "the handling log (办理记录)"})
    attachments = fields.List(fields.Nested(AttachmentSchema), metadata={"description": "files stored write-once"})


class ComplaintQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "closed"]))


class ComplaintListSchema(Schema):
    complaints = fields.List(fields.Nested(ComplaintSchema))


@blp.route("")
class Complaints(MethodView):
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data):
        """Record a complaint; a case it names is linked at once (its objects go on legal hold)."""
        c = caller()
        service.ensure_handler(c)
        case_id = data.pop("case_id", None)
        cases = [c.case_for(db().get(Case, case_id), case_id)] if case_id else []
        data["received_at"] = as_aware(data["received_at"])
        return service.view(db(), service.record(c, data, cases))

    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintListSchema)
    def get(self, args):
        """Complaints in the caller's scope, newest first."""
        service.ensure_handler(caller())
        p = current()
        q = select(Complaint).order_by(Complaint.id.desc())
        if args.get("status"):
            q = q.where(Complaint.status == args["status"])
        q = policy.scoped(q, p, Complaint.agency_code, Complaint.district_code)
        session = db()
        return {"complaints": [service.view(session, c) for c in session.scalars(q.limit(500))]}


@blp.route("/<int:complaint_id>")
class ComplaintItem(MethodView):
    @blp.response(200, ComplaintSchema)
    def get(self, complaint_id):
        return service.view(db(), service.view_complaint(caller(), complaint_id))


@blp.route("/<int:complaint_id>/links")
class ComplaintLinks(MethodView):
    @blp.arguments(LinkSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data, complaint_id):
        """Link a case found while handling; its objects go on legal hold."""
        c, _ = service.link_case(caller(), complaint_id, data["case_id"])
        return service.view(db(), c)


@blp.route("/<int:complaint_id>/steps")
class ComplaintSteps(MethodView):
    @blp.arguments(StepCreateSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data, complaint_id):
        """Add a step to the handling log (办理记录): the day and what was done; appended only."""
        c = service.log_step(caller(), complaint_id, data["done_on"], data["text"])
        return service.view(db(), c)


@blp.route("/<int:complaint_id>/attachments")
class ComplaintAttachments(MethodView):
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, AttachmentSchema)
    def post(self, files, complaint_id):
        """Store a file that came with the complaint (multipart ``file``), write-once like a document."""
        upload = files["file"]
        service.scoped_complaint(caller(), complaint_id)  # refused before the file is read
        return service.attach_file(caller(), complaint_id, upload.filename,
                                   received_file(upload, get_archive().ingest_settings.max_bytes))


@blp.route("/<int:complaint_id>/attachments/<attachment_id>")
class ComplaintAttachmentContent(MethodView):
    @blp.response(200, description="the stored bytes, checked against their SHA-256 while they stream")
    def get(self, complaint_id, attachment_id):
        """A complaint's attachment; a mismatch with its SHA-256 aborts the response."""
        from archive.api.documents import stored_file_response
        from archive.errors import NotFound
        from archive.models import ComplaintAttachment

        c = service.scoped_complaint(caller(), complaint_id, open_only=False)
        a = db().get(ComplaintAttachment, attachment_id)
        if a is None or a.complaint_id != c.id:
            raise NotFound("no such attachment")
        audit_event("complaint.attachment", "complaint", str(complaint_id), attachment=a.id)
        return stored_file_response(a, "complaint_attachment")


@blp.route("/<int:complaint_id>/close")
class ComplaintClose(MethodView):
    @blp.arguments(CloseSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, data, complaint_id):
        """Close with the handling and the outcome; holds no other open complaint needs are lifted."""
        c, released = service.close_complaint(caller(), complaint_id, data["handling"], data["outcome"])
        session = db()
        return service.view(session, c)
