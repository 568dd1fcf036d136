"""Major-case 备案 review: the district office's queue, the checklist pre-checked, the review."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.services.schemas import LocalDateTime
from archive.edge.auth import caller, current, refuse
from archive.extension import db
from archive.services import filings as service

blp = Blueprint("filings", __name__, url_prefix="/api/filings", description="备案审查 Major-case filing review")


class FilingQuerySchema(Schema):
    status = fields.String(load_default="pending", validate=validate.OneOf(["pending", "reviewed", "all"]))


class CertificateQuerySchema(Schema):
    certificate = fields.String(load_default="", validate=validate.Length(max=64))


class FilingVerdictSchema(Schema):
    ok = fields.Boolean(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class FilingReviewBodySchema(Schema):
    certificate = fields.String(load_default="", validate=validate.Length(max=64),
                                metadata={"description": "the legal reviewer's certificate number (checked against the officers)"})
    items = fields.Dict(keys=fields.String(), values=fields.Nested(FilingVerdictSchema), load_default=dict,
                        metadata={"description": "code → {ok, reason}; an item left out takes the archive's pre-check"})
    note = fields.String(load_default="", validate=validate.Length(max=5000))
    due_days = fields.Integer(load_default=10, validate=validate.Range(1, 60),
                              metadata={"description": "working days the agency has to put problems right"})


class FilingSchema(Schema):
    case_id = fields.String()
    number = fields.String()
    agency = fields.String()
    filed_at = LocalDateTime()
    decided_at = LocalDateTime(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={"description": "null: not reviewed; accepted; problems"})
    task_id = fields.Integer(allow_none=True)


class FilingListSchema(Schema):
    filings = fields.List(fields.Nested(FilingSchema))


class FilingDetailSchema(FilingSchema):
    checklist = fields.List(fields.Dict(), metadata={"description": "each item with the pre-check (auto) and, once reviewed, ok and reason"})
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = LocalDateTime(allow_none=True)
    note = fields.String(allow_none=True)


@blp.route("")
class Filings(MethodView):
    @blp.arguments(FilingQuerySchema, location="query")
    @blp.response(200, FilingListSchema)
    def get(self, args):
        """Major cases whose 备案 was filed, in the caller's scope: ``pending`` (the queue),
        ``reviewed`` or ``all``; district and city offices and auditors."""
        from archive.deadlines.rules import load_rules

        p = current()
        if not service.reads_filings(p):
            refuse("filing", "list", visible=True, why=f"a {p.role} does not review 备案")
        return {"filings": [service.filing_row(e) for e in service.queue(db(), p.agencies, load_rules(), args["status"])]}


@blp.route("/<case_id>")
class Filing(MethodView):
    @blp.arguments(CertificateQuerySchema, location="query")
    @blp.response(200, FilingDetailSchema)
    def get(self, args, case_id):
        """The checklist of ``forms/filing_review.json`` with the archive's pre-check of each item
        (``certificate`` checks the legal reviewer against the officers); the review once made."""
        return service.detail(caller(), service.scoped_case(caller(), case_id), args["certificate"])


@blp.route("/<case_id>/review")
class FilingReviewRoute(MethodView):
    @blp.arguments(FilingReviewBodySchema)
    @blp.response(201, FilingDetailSchema)
    def post(self, args, case_id):
        """Record the review (the agency's district office, once per case: 409 after). Problems
        open a 交办 task on the agency with ``due_days`` working days."""
        case = service.scoped_case(caller(), case_id)
        service.do_review(caller(), case, args)
        return service.detail(caller(), case)
