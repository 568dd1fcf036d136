"""Basic information (基础信息): powers, officers and inspection plans of the agencies; direct
imports by the district or city office; agencies' change requests and their approval."""
from __future__ import annotations

import datetime as dt

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate
from sqlalchemy import select

from archive.api.schemas import LocalDateTime, UploadFileSchema
from archive.auth import policy
from archive.auth.web import audit_event, current, refuse
from archive.errors import ValidationFailed
from archive.extension import db
from archive.models import BasicInfoChange
from archive.services import basicinfo
from archive.services.clock import now

blp = Blueprint("basicinfo", __name__, url_prefix="/api/basic-info", description="基础信息 Basic information")
KINDS = list(basicinfo.SPECS)
MAX_TABLE_BYTES = 10 * 1024 * 1024


class EntryQuerySchema(Schema):
    agency = fields.String(load_default=None, validate=validate.Length(max=64))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class EntryPageSchema(Schema):
    kind = fields.String()
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    entries = fields.List(fields.Dict())


class ImportCountsSchema(Schema):
    added = fields.Integer()
    updated = fields.Integer()
    removed = fields.Integer()


class ChangeFormSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    effective_on = fields.Date(required=True, metadata={"description": "when the change took (or takes) effect"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class ChangeSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.Integer()
    agency = fields.String(attribute="agency_code")
    kind = fields.String()
    filename = fields.String()
    effective_on = fields.Date()
    reason = fields.String()
    submitted_by = fields.String()
    submitted_at = LocalDateTime()
    late = fields.Boolean(metadata={"description": "reported more than 15 days after it took effect"})
    warning_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "pending, approved or rejected"})
    decided_by = fields.String(allow_none=True)
    decided_at = LocalDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    rows = fields.Integer(metadata={"description": "rows in the request"})


class ChangeDetailSchema(ChangeSchema):
    differences = fields.List(fields.Dict(), metadata={"description": "each row against today's entry"})


class ChangeQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "approved", "rejected"]))


class ChangeListSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema))


class ChangeDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=5000))


class ChangeDecisionResultSchema(ChangeSchema):
    applied = fields.Nested(ImportCountsSchema, allow_none=True)


def table_rows(upload, kind: str) -> list[dict[str, str]]:
    if not upload.filename:
        raise ValidationFailed("file has no filename", {"file": ["missing filename"]})
    data = upload.read(MAX_TABLE_BYTES + 1)
    if len(data) > MAX_TABLE_BYTES:
        raise ValidationFailed("a table of basic information is at most 10 MB", {"file": ["too large"]})
    return basicinfo.read_table(data, upload.filename, kind)


def change_view(c: BasicInfoChange) -> dict:
    out = {k: getattr(c, k) for k in ("id", "agency_code", "kind", "filename", "effective_on", "reason",
                                      "submitted_by", "submitted_at", "late", "warning_id", "status", "decided_by",
                                      "decided_at", "decision_note")}
    out["rows"] = len(basicinfo.change_rows(c))
    return out


def scoped_change(change_id: int) -> BasicInfoChange:
    c = db().get(BasicInfoChange, change_id)
    if c is None or not policy.reads_agency(current(), c.agency_code):
        refuse("basic_info_change", str(change_id), visible=False, why="no such change request in scope")
    assert c is not None
    return c


def reader():
    p = current()
    if not policy.reads_stats(p):
        refuse("basic_info", "list", visible=True, why=f"a {p.role} does not read basic information")
    return p


@blp.route("/<any(powers, officers, plans):kind>")
class Entries(MethodView):
    @blp.arguments(EntryQuerySchema, location="query")
    @blp.response(200, EntryPageSchema)
    def get(self, args, kind):
        """The powers, officers or inspection plans of the agencies in the caller's scope."""
        p = reader()
        if args["agency"] is not None and not p.sees_agency(args["agency"]):
            refuse("agency", args["agency"], visible=False, why="outside the caller's scope")
        total, rows = basicinfo.list_entries(db(), kind, p.agencies, args["agency"],
                                             (args["page"] - 1) * args["per_page"], args["per_page"])
        return {"kind": kind, "total": total, "page": args["page"], "per_page": args["per_page"],
                "entries": [basicinfo.entry_row(kind, e) for e in rows]}


@blp.route("/<any(powers, officers, plans):kind>/import")
class Import(MethodView):
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(200, ImportCountsSchema)
    def post(self, files, kind):
        """Import a CSV or XLSX table directly (district office: its agencies; city office: all);
        all or nothing, every bad row named. A row with ``action`` remove deletes the entry."""
        p = current()
        if not policy.imports_basic_info(p):
            refuse("basic_info", kind, visible=True, why="agencies ask for changes; the district office imports")
        session = db()
        counts = basicinfo.import_rows(session, kind, table_rows(files["file"], kind), agencies=p.agencies)
        session.commit()
        audit_event("basic_info.import", "basic_info", kind, filename=files["file"].filename, **counts)
        return counts


@blp.route("/changes")
class Changes(MethodView):
    @blp.arguments(ChangeQuerySchema, location="query")
    @blp.response(200, ChangeListSchema)
    def get(self, args):
        """Change requests in the caller's scope, newest first (``status=pending``: the queue)."""
        p = reader()
        q = select(BasicInfoChange).order_by(BasicInfoChange.id.desc()).limit(500)
        if args["status"]:
            q = q.where(BasicInfoChange.status == args["status"])
        if p.agencies is not None:
            q = q.where(BasicInfoChange.agency_code.in_(sorted(p.agencies)))
        return {"changes": [change_view(c) for c in db().scalars(q)]}

    @blp.arguments(ChangeFormSchema, location="form")
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, ChangeSchema)
    def post(self, form, files):
        """An agency asks to change its basic information (multipart: kind, effective_on, reason,
        file). Nothing changes until its district office approves; reported more than 15 days
        after ``effective_on``, the request raises a warning on the agency."""
        c = submit(form["kind"], files["file"], form["effective_on"], form["reason"])
        return change_view(c)


def submit(kind: str, upload, effective_on: dt.date, reason: str, **audit_detail) -> BasicInfoChange:
    """The agency of the caller submits a change request (the API and the page ask through here)."""
    p = current()
    if not policy.requests_basic_info_change(p) or not p.scope_code:
        refuse("basic_info_change", kind, visible=True, why="change requests come from an agency")
    assert p.scope_code is not None
    session = db()
    c = basicinfo.submit_change(session, p.scope_code, kind, table_rows(upload, kind), effective_on, reason,
                                p.username, now(), filename=upload.filename or "")
    session.commit()
    audit_event("basic_info.change_request", "basic_info_change", str(c.id), kind=kind, late=c.late,
                effective_on=effective_on.isoformat(), **audit_detail)
    return c


def decide(change_id: int, approve: bool, note: str, **audit_detail) -> tuple[BasicInfoChange, dict | None]:
    """The district office decides a pending request (exactly once)."""
    p = current()
    c = scoped_change(change_id)
    if not policy.decides_basic_info_change(p, c.agency_code):
        refuse("basic_info_change", str(change_id), visible=True, why="the agency's district office decides")
    session = db()
    counts = basicinfo.decide_change(session, c, approve, p.username, note, now())
    session.commit()
    session.refresh(c)
    audit_event("basic_info.change_decision", "basic_info_change", str(c.id), approve=approve, note=note,
                **(counts or {}), **audit_detail)
    return c, counts


@blp.route("/changes/<int:change_id>")
class Change(MethodView):
    @blp.response(200, ChangeDetailSchema)
    def get(self, change_id):
        """A change request with each row against today's entry (新增, 修改, 删除, 无变化)."""
        reader()
        c = scoped_change(change_id)
        return change_view(c) | {"differences": basicinfo.differences(db(), c)}


@blp.route("/changes/<int:change_id>/decision")
class ChangeDecision(MethodView):
    @blp.arguments(ChangeDecisionSchema)
    @blp.response(200, ChangeDecisionResultSchema)
    def post(self, args, change_id):
        """Approve (the rows are applied, checked again) or reject with a reason — the agency's
        district office, once: a second decision answers 409."""
        c, counts = decide(change_id, args["approve"], args["note"])
        return change_view(c) | {"applied": counts}

