"""Major-case 备案 review: the district office's queue, the checklist pre-checked, the review."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.api.schemas import LocalDateTime
from archive.auth.web import audit_event, current, refuse
from archive.extension import db
from archive.models import Case, FilingReview
from archive.services import filings as service
from archive.services.clock import now

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


def _row(entry: dict) -> dict:
    case, review = entry["case"], entry["review"]
    return {"case_id": case.id, "number": case.number, "agency": case.agency_code, "filed_at": entry["filed_at"],
            "decided_at": entry["decided_at"], "outcome": review.outcome if review else None,
            "task_id": review.task_id if review else None}


def scoped_case(case_id: str) -> Case:
    p = current()
    if not service.reads_filings(p):
        refuse("filing", case_id, visible=True, why=f"a {p.role} does not review 备案")
    case = db().get(Case, case_id)
    if case is None or not p.sees_agency(case.agency_code):
        refuse("filing", case_id, visible=False, why="no such case in scope")
    assert case is not None
    return case


def filed_entry(case: Case) -> dict:
    """The case's 备案 entry, or 404 when it is not a major case with a filed 备案."""
    from archive.deadlines.rules import load_rules

    entry = service.entry(db(), case, load_rules())
    if entry is None:
        refuse("filing", case.id, visible=False, why="not a major case with a filed 备案")
    assert entry is not None
    return entry


def detail(case: Case, certificate: str = "", entry: dict | None = None) -> dict:
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar

    session = db()
    rules = load_rules()
    entry = entry or filed_entry(case)
    review: FilingReview | None = entry["review"]
    items = service.saved_items(review) if review else service.check(session, case, rules, load_calendar(session),
                                                                       certificate)
    return _row(entry) | {"checklist": items, "reviewed_by": review.reviewed_by if review else None,
                          "reviewed_at": review.reviewed_at if review else None,
                          "note": review.note if review else None, "certificate": review.certificate if review else certificate}


def do_review(case: Case, args: dict, **audit_detail) -> FilingReview:
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar

    p = current()
    if not service.reviews_filings(p, case.agency_code):
        refuse("filing", case.id, visible=True, why="the agency's district office reviews its 备案")
    filed_entry(case)  # a major case with a filed 备案, or 404
    session = db()
    r = service.review(session, p, case, load_rules(), load_calendar(session), verdicts=args["items"],
                       certificate=args["certificate"], note=args["note"], due_days=args["due_days"], now=now())
    session.commit()
    audit_event("filing.review", "case", case.id, outcome=r.outcome, task=r.task_id,
                problems=[i["code"] for i in service.saved_items(r) if not i["ok"]], **audit_detail)
    if r.task_id:
        audit_event("task.create", "task", str(r.task_id), kind="assign", assignee=case.agency_code,
                    subject=f"重大案件备案审查问题整改：{case.number}", via="filing review")
    return r


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
        return {"filings": [_row(e) for e in service.queue(db(), p.agencies, load_rules(), args["status"])]}


@blp.route("/<case_id>")
class Filing(MethodView):
    @blp.arguments(CertificateQuerySchema, location="query")
    @blp.response(200, FilingDetailSchema)
    def get(self, args, case_id):
        """The checklist of ``forms/filing_review.json`` with the archive's pre-check of each item
        (``certificate`` checks the legal reviewer against the officers); the review once made."""
        return detail(scoped_case(case_id), args["certificate"])


@blp.route("/<case_id>/review")
class FilingReviewRoute(MethodView):
    @blp.arguments(FilingReviewBodySchema)
    @blp.response(201, FilingDetailSchema)
    def post(self, args, case_id):
        """Record the review (the agency's district office, once per case: 409 after). Problems
        open a 交办 task on the agency with ``due_days`` working days."""
        case = scoped_case(case_id)
        do_review(case, args)
        return detail(case)
