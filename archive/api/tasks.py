"""Supervision tasks (交办/转办): create, list, answer, accept or send back; attachments."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate

from archive.services.schemas import LocalDateTime
from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse
from archive.edge.uploads import received_files
from archive.extension import db, get_archive
from archive.models import TaskAttachment
from archive.services import tasks as service
from archive.clock import now

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="交办转办 Supervision tasks")


class TaskFormSchema(Schema):
    assignee = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "a district (city office: 转办) or one of your agencies (district office: 交办)"})
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    due_days = fields.Integer(required=True, validate=validate.Range(1, service.MAX_DUE_DAYS),
                              metadata={"description": "working days from now (holidays and make-up days counted)"})
    cases = fields.String(load_default="", validate=validate.Length(max=5000),
                          metadata={"description": "case numbers, one per line or separated by commas"})
    complaint = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))


class TaskQuerySchema(Schema):
    role = fields.String(load_default="mine", validate=validate.OneOf(["mine", "assigned", "all"]),
                         metadata={"description": "mine: assigned to my organisation; assigned: by it; all: city office, auditors"})
    status = fields.String(load_default=None, validate=validate.OneOf(list(service.STATUS_NAMES)))


class AnswerFormSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class TaskDecisionSchema(Schema):
    accept = fields.Boolean(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=5000))


class TaskSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.Integer()
    kind = fields.String(metadata={"description": "transfer (转办, city → district) or assign (交办, district → agency)"})
    subject = fields.String()
    text = fields.String()
    assigner = fields.String()
    assigned_by = fields.String()
    assigned_at = LocalDateTime()
    assignee = fields.String()
    due_days = fields.Integer()
    due_at = LocalDateTime(allow_none=True)
    status = fields.String(metadata={"description": "assigned, answered, sent_back, accepted"})
    complaint_id = fields.Integer(allow_none=True)
    answered_at = LocalDateTime(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)
    overdue_warning = fields.Integer(allow_none=True)
    cases = fields.List(fields.Dict())
    steps = fields.List(fields.Dict())


class TaskListSchema(Schema):
    tasks = fields.List(fields.Nested(TaskSchema))


def _files():
    return received_files(request.files.getlist("file"), get_archive().ingest_settings.max_bytes)


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskListSchema)
    def get(self, args):
        """Tasks assigned to the caller's organisation (``role=mine``), assigned by it
        (``assigned``), or every task (``all``: city office and auditors)."""
        p = current()
        if not policy.works_tasks(p):  # as on the page
            refuse("task", "list", visible=True, why=f"a {p.role} has no supervision tasks")
        session = db()
        return {"tasks": [service.view(session, t) for t in service.listing(session, current(), args["role"],
                                                                             args["status"], limit=200)]}

    @blp.arguments(TaskFormSchema, location="form")
    @blp.response(201, TaskSchema)
    def post(self, form):
        """转办 (city office → a district office) or 交办 (district office → one of its agencies):
        multipart ``assignee, subject, text, due_days, cases, complaint`` and any number of
        ``file`` parts, stored write-once."""
        task = service.create_task(caller(), form, _files(), now())
        return service.view(db(), task)


@blp.route("/<int:task_id>")
class Task(MethodView):
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """A task with its cases, every step and the files of each step."""
        return service.view(db(), service.scoped_task(caller(), task_id))


@blp.route("/<int:task_id>/answer")
class TaskAnswer(MethodView):
    @blp.arguments(AnswerFormSchema, location="form")
    @blp.response(200, TaskSchema)
    def post(self, form, task_id):
        """The assignee answers (multipart ``text`` and ``file`` parts); once per round: a second
        answer before the assigner decides answers 409."""
        return service.view(db(), service.answer_task(caller(), task_id, form["text"], _files(), now()))


@blp.route("/<int:task_id>/decision")
class TaskDecision(MethodView):
    @blp.arguments(TaskDecisionSchema)
    @blp.response(200, TaskSchema)
    def post(self, args, task_id):
        """The assigner accepts the answer (办结) or sends it back with a reason; once (409 after)."""
        return service.view(db(), service.decide_task(caller(), task_id, args["accept"], args["reason"], now()))


@blp.route("/<int:task_id>/attachments/<attachment_id>")
class TaskAttachmentContent(MethodView):
    @blp.response(200, description="the stored bytes, checked against their SHA-256 while they stream")
    def get(self, task_id, attachment_id):
        """A task's file; a mismatch with its SHA-256 aborts the response."""
        from archive.api.documents import stored_file_response
        from archive.errors import NotFound

        task = service.scoped_task(caller(), task_id)
        a = db().get(TaskAttachment, attachment_id)
        if a is None or a.task_id != task.id:
            raise NotFound("no such attachment")
        audit_event("task.attachment", "task", str(task_id), attachment=a.id)
        return stored_file_response(a, "task_attachment")
