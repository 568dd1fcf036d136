"""Warnings (预警): list, summary, handle — scoped like cases."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from archive.services.schemas import LocalDateTime
from archive.auth import policy
from archive.edge.auth import caller, current
from archive.deadlines.warnings import summary
from archive.extension import db
from archive.models import WarningRecord
from archive.services import cases as case_service
from archive.services import warnings as service

blp = Blueprint("warnings", __name__, url_prefix="/api/warnings", description="预警 Warnings")


class WarningQuerySchema(Schema):
    level = fields.Integer(validate=validate.OneOf([1, 2, 3]))
    status = fields.String(validate=validate.OneOf(["open", "handled", "resolved"]))
    agency = fields.String(validate=validate.Length(max=64))
    rule = fields.String(validate=validate.Length(max=40))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class WarningSchema(Schema):
    id = fields.Integer()
    rule = fields.String()
    case_id = fields.String(allow_none=True, metadata={"description": "null: about the agency (basic information)"})
    agency = fields.String(attribute="agency_code")
    stage = fields.String(allow_none=True)
    message = fields.String()
    level = fields.Integer()
    status = fields.String()
    opened_at = LocalDateTime()
    fact_due_at = LocalDateTime(allow_none=True)
    due_at = LocalDateTime(allow_none=True, metadata={"description": "handle before this or it climbs a level"})
    handled_at = LocalDateTime(allow_none=True)
    handled_by = fields.String(allow_none=True)
    handled_note = fields.String(allow_none=True)


class WarningPageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    warnings = fields.List(fields.Nested(WarningSchema))


class HandleSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class HandleTogetherSchema(Schema):
    ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)), required=True,
                      validate=validate.Length(min=1, max=200), metadata={"description": "warnings of one agency"})
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class SkippedSchema(Schema):
    id = fields.Integer()
    reason = fields.String()


class HandledTogetherSchema(Schema):
    handled = fields.List(fields.Nested(WarningSchema))
    skipped = fields.List(fields.Nested(SkippedSchema), metadata={"description": "handled or resolved meanwhile"})


class SummaryRowSchema(Schema):
    agency = fields.String()
    level_1 = fields.Integer()
    level_2 = fields.Integer()
    level_3 = fields.Integer()


@blp.route("")
class Warnings(MethodView):
    @blp.arguments(WarningQuerySchema, location="query")
    @blp.response(200, WarningPageSchema)
    def get(self, args):
        """Warnings in the caller's scope, open ones and the highest levels first."""
        p = current()
        session = db()
        q = select(WarningRecord)
        q = policy.scoped(q, p, WarningRecord.agency_code)
        if args.get("agency"):
            q = q.where(WarningRecord.agency_code.in_(case_service.agencies_under(session, args["agency"])))
        for name in ("level", "status", "rule"):
            if args.get(name) is not None:
                q = q.where(getattr(WarningRecord, name) == args[name])
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(q.order_by(WarningRecord.status.desc(), WarningRecord.level.desc(),
                                          WarningRecord.opened_at)
                               .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"])).all()
        return {"total": total, "page": args["page"], "per_page": args["per_page"], "warnings": rows}


@blp.route("/summary")
class WarningSummary(MethodView):
    @blp.response(200, SummaryRowSchema(many=True))
    def get(self):
        """Open warnings counted by agency and level (in the caller's scope)."""
        return summary(db(), current().agencies)


@blp.route("/handle")
class HandleWarnings(MethodView):
    @blp.arguments(HandleTogetherSchema)
    @blp.response(200, HandledTogetherSchema)
    def post(self, data):
        """Handle several warnings of one agency with one note, each as its own handling (the
        role of their level; all or none refused when one is outside the scope or the role)."""
        handled, skipped = service.handle_many(caller(), data["ids"], data["note"])
        return {"handled": handled, "skipped": [{"id": i, "reason": r} for i, r in sorted(skipped.items())]}


@blp.route("/<int:warning_id>/handle")
class HandleWarning(MethodView):
    @blp.arguments(HandleSchema)
    @blp.response(200, WarningSchema)
    def post(self, data, warning_id):
        """Record how the warning was handled (level 1: the agency's legal unit; level 2: the
        district office; level 3: the city office). A handled warning never fires again."""
        return service.handle_one(caller(), warning_id, data["note"])
