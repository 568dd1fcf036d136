"""Complaints (投诉举报): record, search the archive for, link cases (legal hold), close."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select

from archive.api.schemas import BoundedDate, BoundedDateTime, LocalDateTime, UploadFileSchema
from archive.auth import policy
from archive.auth.web import audit_event, case_for, current, refuse
from archive.errors import Conflict
from archive.extension import db, get_archive
from archive.models import Case, Complaint
from archive.services import complaints as service
from archive.services.clock import as_aware

blp = Blueprint("complaints", __name__, url_prefix="/api/complaints", description="投诉举报 Complaints")


class ComplaintCreateSchema(Schema):
    received_at = BoundedDateTime(required=True, metadata={"description": "when it was received (ISO 8601)"})
    complainant = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = fields.String(load_default=None, validate=validate.Length(max=200),
                            metadata={"description": "how to reach the complainant"})
    agency = fields.String(load_default=None, validate=validate.Length(max=64))
    case_id = fields.String(load_default=None, validate=validate.Length(max=32),
                            metadata={"description": "a case it names: linked at once (legal hold)"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))


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


def _handler() -> None:
    p = current()
    if not policy.handles_complaints(p):
        refuse("complaint", "-", visible=True, why=f"a {p.role} does not handle complaints")


def _visible(c: Complaint) -> bool:
    return policy.reads_complaint(current(), c.district_code, c.agency_code)


def complaint_for(complaint_id: int, *, open_only: bool = True) -> Complaint:
    """The complaint if the caller handles complaints and may see it (else 403/404)."""
    _handler()
    c = service.get(db(), complaint_id)
    if not _visible(c):
        refuse("complaint", str(complaint_id), visible=False, why="outside your scope")
    if open_only and c.status != "open":
        raise Conflict("the complaint is closed")
    return c


def _scoped_case(case_id: str) -> Case:
    return case_for(db().get(Case, case_id), case_id)


@blp.route("")
class Complaints(MethodView):
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data):
        """Record a complaint; a case it names is linked at once (its objects go on legal hold)."""
        _handler()
        p = current()
        session, store = db(), get_archive().store
        if data.get("agency") and not policy.reads_agency(p, data["agency"]):
            refuse("agency", data["agency"], visible=False, why="outside your scope")
        case = _scoped_case(data["case_id"]) if data.get("case_id") else None
        data["received_at"] = as_aware(data["received_at"])
        c = service.create(session, {**data, "agency": data.get("agency") or (case.agency_code if case else None)},
                           by=p.username, default_district=p.scope_code if p.agencies is not None else None)
        if case is not None:
            service.link(session, store, c, case, by=p.username)
        session.commit()
        audit_event("complaint.create", "complaint", str(c.id), case_id=case.id if case else None)
        return service.view(session, c)

    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintListSchema)
    def get(self, args):
        """Complaints in the caller's scope, newest first."""
        _handler()
        p = current()
        q = select(Complaint).order_by(Complaint.id.desc())
        if args.get("status"):
            q = q.where(Complaint.status == args["status"])
        if p.agencies is not None:
            q = q.where(or_(Complaint.district_code == p.scope_code, Complaint.agency_code.in_(sorted(p.agencies))))
        session = db()
        return {"complaints": [service.view(session, c) for c in session.scalars(q.limit(500))]}


@blp.route("/<int:complaint_id>")
class ComplaintItem(MethodView):
    @blp.response(200, ComplaintSchema)
    def get(self, complaint_id):
        c = complaint_for(complaint_id, open_only=False)
        audit_event("complaint.view", "complaint", str(complaint_id))
        return service.view(db(), c)


@blp.route("/<int:complaint_id>/links")
class ComplaintLinks(MethodView):
    @blp.arguments(LinkSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data, complaint_id):
        """Link a case found while handling; its objects go on legal hold."""
        c = complaint_for(complaint_id)
        case = _scoped_case(data["case_id"])
        session = db()
        service.link(session, get_archive().store, c, case, by=current().username)
        session.commit()
        audit_event("complaint.link", "complaint", str(complaint_id), case_id=case.id)
        return service.view(session, c)


@blp.route("/<int:complaint_id>/steps")
class ComplaintSteps(MethodView):
    @blp.arguments(StepCreateSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data, complaint_id):
        """Add a step to the handling log (办理记录): the day and what was done; appended only."""
        c = complaint_for(complaint_id)
        session = db()
        step = service.add_step(session, c, by=current().username, done_on=data["done_on"], text=data["text"])
        session.commit()
        audit_event("complaint.step", "complaint", str(complaint_id), step=step.id, done_on=str(step.done_on))
        return service.view(session, c)


@blp.route("/<int:complaint_id>/attachments")
class ComplaintAttachments(MethodView):
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, AttachmentSchema)
    def post(self, files, complaint_id):
        """Store a file that came with the complaint (multipart ``file``), write-once like a document."""
        from archive.api.cases import received_file

        c = complaint_for(complaint_id)
        upload = files["file"]
        session, archive = db(), get_archive()
        a = service.attach(session, archive.store, archive.ingest_settings, c, by=current().username,
                           filename=upload.filename, spool=received_file(upload))
        session.commit()
        audit_event("complaint.attach", "complaint", str(complaint_id), attachment=a.id, sha256=a.sha256,
                    filename=a.filename)
        return a


@blp.route("/<int:complaint_id>/attachments/<attachment_id>")
class ComplaintAttachmentContent(MethodView):
    @blp.response(200, description="the stored bytes, checked against their SHA-256 while they stream")
    def get(self, complaint_id, attachment_id):
        """A complaint's attachment; a mismatch with its SHA-256 aborts the response."""
        from archive.api.documents import stored_file_response
        from archive.errors import NotFound
        from archive.models import ComplaintAttachment

        c = complaint_for(complaint_id, open_only=False)
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
        c = complaint_for(complaint_id)
        session = db()
        released = service.close(session, get_archive().store, c, by=current().username,
                                 handling=data["handling"], outcome=data["outcome"])
        session.commit()
        audit_event("complaint.close", "complaint", str(complaint_id), released=released)
        return service.view(session, c)
