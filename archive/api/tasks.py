"""Supervision tasks (交办/转办): create, list, answer, accept or send back; attachments."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate

from archive.api.schemas import LocalDateTime
from archive.auth.web import audit_event, current, refuse
from archive.extension import db, get_archive
from archive.models import SupervisionTask, TaskAttachment
from archive.services import tasks as service
from archive.services.clock import now

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


def scoped_task(task_id: int) -> SupervisionTask:
    task = db().get(SupervisionTask, task_id)
    if task is None or not service.reads(current(), task):
        refuse("task", str(task_id), visible=False, why="no such task for the caller")
    assert task is not None
    return task


def _store_files(task: SupervisionTask, step, uploads) -> list[TaskAttachment]:
    from archive.api.cases import received_file

    archive = get_archive()
    return [service.attach(db(), archive.store, archive.ingest_settings, task, step, by=current().username,
                           filename=u.filename, spool=received_file(u)) for u in uploads if u.filename]


def create_task(form: dict, uploads, **audit_detail) -> SupervisionTask:
    p = current()
    if service.assigning_kind(p) is None:
        refuse("task", "new", visible=True, why="only the city office transfers and a district office assigns")
    session = db()
    task = service.create(session, p, assignee=form["assignee"], subject=form["subject"], text=form["text"],
                          due_days=form["due_days"], cases=service.case_numbers(form.get("cases", "")),
                          complaint_id=form.get("complaint"), now=now())
    first = task_first_step(task)
    files = _store_files(task, first, uploads)
    session.commit()
    audit_event("task.create", "task", str(task.id), kind=task.kind, assignee=task.assignee_org, subject=task.subject,
                due_at=task.due_at.isoformat() if task.due_at else None, complaint=task.complaint_id,
                files=[f.sha256 for f in files], **audit_detail)
    return task


def task_first_step(task: SupervisionTask):
    from sqlalchemy import select

    from archive.models import TaskStep

    return db().scalars(select(TaskStep).where(TaskStep.task_id == task.id).order_by(TaskStep.id)).first()


def answer_task(task_id: int, text: str, uploads, **audit_detail) -> SupervisionTask:
    task = scoped_task(task_id)
    p = current()
    if not service.answers_for(p, task):
        refuse("task", str(task_id), visible=True, why="only the assignee answers")
    session = db()
    step = service.answer(session, task, p, text, now())
    files = _store_files(task, step, uploads)
    session.commit()
    audit_event("task.answer", "task", str(task_id), step=step.id, files=[f.sha256 for f in files], **audit_detail)
    return task


def decide_task(task_id: int, accept: bool, reason: str, **audit_detail) -> SupervisionTask:
    task = scoped_task(task_id)
    p = current()
    if not service.decides_for(p, task):
        refuse("task", str(task_id), visible=True, why="only the assigner accepts or sends back")
    session = db()
    step = service.decide(session, task, p, accept, reason, now())
    session.commit()
    audit_event("task.accept" if accept else "task.send_back", "task", str(task_id), step=step.id, reason=reason,
                **audit_detail)
    return task


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskListSchema)
    def get(self, args):
        """Tasks assigned to the caller's organisation (``role=mine``), assigned by it
        (``assigned``), or every task (``all``: city office and auditors)."""
        session = db()
        return {"tasks": [service.view(session, t) for t in service.listing(session, current(), args["role"],
                                                                             args["status"], limit=200)]}

    @blp.arguments(TaskFormSchema, location="form")
    @blp.response(201, TaskSchema)
    def post(self, form):
        """转办 (city office → a district office) or 交办 (district office → one of its agencies):
        multipart ``assignee, subject, text, due_days, cases, complaint`` and any number of
        ``file`` parts, stored write-once."""
        task = create_task(form, request.files.getlist("file"))
        return service.view(db(), task)


@blp.route("/<int:task_id>")
class Task(MethodView):
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """A task with its cases, every step and the files of each step."""
        return service.view(db(), scoped_task(task_id))


@blp.route("/<int:task_id>/answer")
class TaskAnswer(MethodView):
    @blp.arguments(AnswerFormSchema, location="form")
    @blp.response(200, TaskSchema)
    def post(self, form, task_id):
        """The assignee answers (multipart ``text`` and ``file`` parts); once per round: a second
        answer before the assigner decides answers 409."""
        return service.view(db(), answer_task(task_id, form["text"], request.files.getlist("file")))


@blp.route("/<int:task_id>/decision")
class TaskDecision(MethodView):
    @blp.arguments(TaskDecisionSchema)
    @blp.response(200, TaskSchema)
    def post(self, args, task_id):
        """The assigner accepts the answer (办结) or sends it back with a reason; once (409 after)."""
        return service.view(db(), decide_task(task_id, args["accept"], args["reason"]))


@blp.route("/<int:task_id>/attachments/<attachment_id>")
class TaskAttachmentContent(MethodView):
    @blp.response(200, description="the stored bytes, checked against their SHA-256 while they stream")
    def get(self, task_id, attachment_id):
        """A task's file; a mismatch with its SHA-256 aborts the response."""
        from archive.api.documents import stored_file_response
        from archive.errors import NotFound

        task = scoped_task(task_id)
        a = db().get(TaskAttachment, attachment_id)
        if a is None or a.task_id != task.id:
            raise NotFound("no such attachment")
        audit_event("task.attachment", "task", str(task_id), attachment=a.id)
        return stored_file_response(a, "task_attachment")
