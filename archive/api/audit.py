"""The audit trail, read-only, for auditors."""
from __future__ import annotations

import json

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from archive.services.schemas import BoundedAwareDateTime, LocalDateTime, OrderedRangeSchema
from archive.auth import policy
from archive.edge.auth import audit_event, current, refuse
from archive.extension import db
from archive.models import AuditEntry

blp = Blueprint("audit", __name__, url_prefix="/api/audit", description="审计 Audit trail (auditors)")


class AuditQuerySchema(OrderedRangeSchema):
    RANGES = (("date_from", "date_to"),)
    actor = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.Length(max=64))
    target_id = fields.String(validate=validate.Length(max=120))
    date_from = BoundedAwareDateTime(data_key="from")
    date_to = BoundedAwareDateTime(data_key="to")
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AuditEntrySchema(Schema):
    seq = fields.Integer()
    at = LocalDateTime()
    actor = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    detail = fields.Function(lambda e: json.loads(e.detail or "{}"))
    ip = fields.String(allow_none=True)
    hash = fields.String()
    prev_hash = fields.String()


class AuditPageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    entries = fields.List(fields.Nested(AuditEntrySchema))


@blp.route("")
class Audit(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Audit entries, newest first (filters: actor, action, target, from/to)."""
        p = current()
        if not policy.reads_audit(p):
            refuse("audit", "trail", visible=True, why="only auditors read the audit trail")
        q = select(AuditEntry)
        for name in ("actor", "action", "target_id"):
            if args.get(name):
                q = q.where(getattr(AuditEntry, name) == args[name])
        if args.get("date_from"):
            q = q.where(AuditEntry.at >= args["date_from"])
        if args.get("date_to"):
            q = q.where(AuditEntry.at <= args["date_to"])
        session = db()
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(q.order_by(AuditEntry.seq.desc())
                               .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"])).all()
        audit_event("audit.view", filters={k: str(v) for k, v in args.items()})
        return {"total": total, "page": args["page"], "per_page": args["per_page"], "entries": rows}
