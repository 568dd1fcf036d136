"""Basic information (基础信息): powers, officers and inspection plans of the agencies; direct
imports by the district or city office; agencies' change requests and their approval."""
from __future__ import annotations


from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate
from sqlalchemy import select

from archive.api.fields import UploadFileSchema
from archive.services.schemas import LocalDateTime
from archive.auth import policy
from archive.edge.auth import caller, refuse
from archive.extension import db
from archive.models import BasicInfoChange
from archive.services import basicinfo

blp = Blueprint("basicinfo", __name__, url_prefix="/api/basic-info", description="基础信息 Basic information")
KINDS = list(basicinfo.SPECS)


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


def change_view(c: BasicInfoChange) -> dict:
    out = {k: getattr(c, k) for k in ("id", "agency_code", "kind", "filename", "effective_on", "reason",
                                      "submitted_by", "submitted_at", "late", "warning_id", "status", "decided_by",
                                      "decided_at", "decision_note")}
    out["rows"] = len(basicinfo.change_rows(c))
    return out


@blp.route("/<any(powers, officers, plans, trainings, exams):kind>")
class Entries(MethodView):
    @blp.arguments(EntryQuerySchema, location="query")
    @blp.response(200, EntryPageSchema)
    def get(self, args, kind):
        """The powers, officers or inspection plans of the agencies in the caller's scope."""
        p = basicinfo.reader(caller())
        if args["agency"] is not None and not p.sees_agency(args["agency"]):
            refuse("agency", args["agency"], visible=False, why="outside the caller's scope")
        total, rows = basicinfo.list_entries(db(), kind, p.agencies, args["agency"],
                                             (args["page"] - 1) * args["per_page"], args["per_page"])
        return {"kind": kind, "total": total, "page": args["page"], "per_page": args["per_page"],
                "entries": [basicinfo.entry_row(kind, e) for e in rows]}


@blp.route("/<any(powers, officers, plans, trainings, exams):kind>/import")
class Import(MethodView):
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(200, ImportCountsSchema)
    def post(self, files, kind):
        """Import a CSV or XLSX table directly (district office: its agencies; city office: all);
        all or nothing, every bad row named. A row with ``action`` remove deletes the entry."""
        return basicinfo.import_table(caller(), kind, files["file"])


@blp.route("/changes")
class Changes(MethodView):
    @blp.arguments(ChangeQuerySchema, location="query")
    @blp.response(200, ChangeListSchema)
    def get(self, args):
        """Change requests in the caller's scope, newest first (``status=pending``: the queue)."""
        p = basicinfo.reader(caller())
        q = select(BasicInfoChange).order_by(BasicInfoChange.id.desc()).limit(500)
        if args["status"]:
            q = q.where(BasicInfoChange.status == args["status"])
        q = policy.scoped(q, p, BasicInfoChange.agency_code)
        return {"changes": [change_view(c) for c in db().scalars(q)]}

    @blp.arguments(ChangeFormSchema, location="form")
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, ChangeSchema)
    def post(self, form, files):
        """An agency asks to change its basic information (multipart: kind, effective_on, reason,
        file). Nothing changes until its district office approves; reported more than 15 days
        after ``effective_on``, the request raises a warning on the agency."""
        c = basicinfo.submit(caller(), form["kind"], files["file"], form["effective_on"], form["reason"])
        return change_view(c)


@blp.route("/changes/<int:change_id>")
class Change(MethodView):
    @blp.response(200, ChangeDetailSchema)
    def get(self, change_id):
        """A change request with each row against today's entry (新增, 修改, 删除, 无变化)."""
        basicinfo.reader(caller())
        c = basicinfo.scoped_change(caller(), change_id)
        return change_view(c) | {"differences": basicinfo.differences(db(), c)}


@blp.route("/changes/<int:change_id>/decision")
class ChangeDecision(MethodView):
    @blp.arguments(ChangeDecisionSchema)
    @blp.response(200, ChangeDecisionResultSchema)
    def post(self, args, change_id):
        """Approve (the rows are applied, checked again) or reject with a reason — the agency's
        district office, once: a second decision answers 409."""
        c, counts = basicinfo.decide(caller(), change_id, args["approve"], args["note"])
        return change_view(c) | {"applied": counts}

