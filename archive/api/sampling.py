"""Sampling plans (抽样), the draw, reviews (评查) and their results; case-file bundles."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from archive.services.schemas import Id, LocalDateTime
from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse
from archive.extension import db, get_archive
from archive.models import Organisation, Review
from archive.sampling import report, service
from archive.services import sampling as app
from archive.services.cases import scoped_case
from archive.services.schemas import PlanCreateSchema

blp = Blueprint("sampling", __name__, url_prefix="/api/sampling", description="抽样 Sampling plans and draws")
reviews_blp = Blueprint("reviews", __name__, url_prefix="/api/reviews", description="评查 Reviews")
bundle_blp = Blueprint("bundles", __name__, url_prefix="/api/cases", description="案卷包 Case-file bundles")


class DrawSchema(Schema):
    seed = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "the value entered at the draw, e.g. public lottery numbers"})


class StratumSchema(Schema):
    agency = fields.String()
    kind = fields.String()
    population_size = fields.Integer()
    digest = fields.String(metadata={"description": "SHA-256 over the sorted case numbers joined by LF"})
    k = fields.Integer()
    population = fields.List(fields.String(), allow_none=True,
                             metadata={"description": "null for another district's stratum"})
    sample = fields.List(fields.String(), allow_none=True)


class AssignmentSchema(Schema):
    review_id = fields.Integer()
    case_id = fields.String()
    case_number = fields.String()
    agency = fields.String()
    reviewer = fields.String()
    rank = fields.String()
    status = fields.String()


class PlanSummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    kinds = fields.List(fields.String())
    district = fields.String(allow_none=True)
    count = fields.Integer(allow_none=True)
    rate = fields.Float(allow_none=True)
    min_per_stratum = fields.Integer()
    max_per_stratum = fields.Integer(allow_none=True)
    reviewers_per_file = fields.Integer()
    max_load = fields.Integer()
    review_deadline = fields.Date()
    status = fields.String()
    created_by = fields.String()
    created_at = LocalDateTime()
    frozen_at = LocalDateTime(allow_none=True)
    seed = fields.String(allow_none=True)
    drawn_at = LocalDateTime(allow_none=True)
    drawn_by = fields.String(allow_none=True)
    withdrawn_at = LocalDateTime(allow_none=True)
    withdrawn_by = fields.String(allow_none=True)
    withdraw_reason = fields.String(allow_none=True)


class PlanSchema(PlanSummarySchema):
    strata = fields.List(fields.Nested(StratumSchema))
    assignments = fields.List(fields.Nested(AssignmentSchema))


class PlanListSchema(Schema):
    plans = fields.List(fields.Nested(PlanSummarySchema))


class ResultsQuerySchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "docx"]))


class DeductionSchema(Schema):
    item = fields.String(required=True, validate=validate.Length(max=16))
    points = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    reason = fields.String(required=True, validate=validate.Length(max=2000))


class ReviewSubmitSchema(Schema):
    vetoed = fields.List(fields.String(validate=validate.Length(max=16)), load_default=list,
                         metadata={"description": "codes of the failed veto items (否决项)"})
    deductions = fields.List(fields.Nested(DeductionSchema), load_default=list)
    note = fields.String(load_default="", validate=validate.Length(max=5000))


class ReviewSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    case_id = fields.String()
    case_number = fields.String()
    agency = fields.String()
    reviewer = fields.String()
    due_on = fields.Date()
    status = fields.String()
    submitted_at = LocalDateTime(allow_none=True)
    vetoed = fields.List(fields.String())
    deductions = fields.List(fields.Dict())
    form_score = fields.Float(allow_none=True)
    content_score = fields.Float(allow_none=True)
    score = fields.Float(allow_none=True)
    grade = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class ReviewQuerySchema(Schema):
    mine = fields.Boolean(load_default=False)
    plan = Id(load_default=None)


class ReviewListSchema(Schema):
    reviews = fields.List(fields.Nested(ReviewSchema))


class ConflictSchema(Schema):
    agency = fields.String(load_default=None, validate=validate.Length(max=64))
    case_number = fields.String(load_default=None, validate=validate.Length(max=120))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ConflictOutSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    agency = fields.String(attribute="agency_code", allow_none=True)
    case_number = fields.String(allow_none=True)
    reason = fields.String()


# -- who may do what ----------------------------------------------------------------------------

@blp.route("/plans")
class Plans(MethodView):
    @blp.arguments(PlanCreateSchema)
    @blp.response(201, PlanSchema)
    def post(self, data):
        """Set a sampling plan (city office only)."""
        plan = app.create_plan(caller(), data)
        return service.plan_view(db(), plan)

    @blp.response(200, PlanListSchema)
    def get(self):
        """The plans the caller may see (403 for roles that read no plans, as on the page)."""
        p = current()
        if not policy.reads_plans(p):
            refuse("sampling_plan", "-", visible=True, why=f"a {p.role} does not read sampling plans")
        from archive.models import SamplingPlan

        plans = db().scalars(select(SamplingPlan).order_by(SamplingPlan.id.desc())).all()
        return {"plans": [service.plan_view(db(), pl, detail=False) for pl in plans
                          if policy.reads_plan(current(), pl.district_code)]}


@blp.route("/plans/<int:plan_id>")
class PlanItem(MethodView):
    @blp.response(200, PlanSchema)
    def get(self, plan_id):
        """A plan with its strata (frozen populations and digests), seed, sample and assignments."""
        plan = app.view_plan(caller(), plan_id)
        return service.plan_view(db(), plan, agencies=policy.plan_agencies(current()))


@blp.route("/plans/<int:plan_id>/freeze")
class PlanFreeze(MethodView):
    @blp.response(200, PlanSchema)
    def post(self, plan_id):
        """Freeze the eligible populations and record their digests (before any seed is known)."""
        plan = app.freeze(caller(), plan_id)
        return service.plan_view(db(), plan, agencies=policy.plan_agencies(current()))


class WithdrawSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/plans/<int:plan_id>/withdraw")
class PlanWithdraw(MethodView):
    @blp.arguments(WithdrawSchema)
    @blp.response(200, PlanSchema)
    def post(self, data, plan_id):
        """Withdraw a frozen plan not yet drawn (the city office), with a reason; it is kept."""
        plan = app.withdraw(caller(), plan_id, data["reason"])
        return service.plan_view(db(), plan, agencies=policy.plan_agencies(current()))


@blp.route("/plans/<int:plan_id>/draw")
class PlanDraw(MethodView):
    @blp.arguments(DrawSchema)
    @blp.response(200, PlanSchema)
    def post(self, data, plan_id):
        """Draw with the seed entered now; freezes first if needed. 422 names the strata whose
        constraints the reviewer pool cannot meet."""
        plan = app.draw(caller(), plan_id, data["seed"])
        return service.plan_view(db(), plan, agencies=policy.plan_agencies(current()))


@blp.route("/plans/<int:plan_id>/results")
class PlanResults(MethodView):
    @blp.arguments(ResultsQuerySchema, location="query")
    @blp.response(200, description="results per file, agency and district (JSON, CSV or DOCX)")
    def get(self, args, plan_id):
        """Scores per file, per agency and per district; ``format=csv`` or ``format=docx`` to export."""
        plan = app.scoped_plan(caller(), plan_id)
        # a district office sees its own agencies' results of a city-wide plan
        data = service.results(db(), plan, policy.plan_agencies(current()))
        audit_event("sample.results", "sampling_plan", str(plan_id), format=args["format"])
        if args["format"] == "csv":
            return Response(report.csv_bytes(data), mimetype="text/csv; charset=utf-8", headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'评查结果-{plan.id}.csv')}"})
        if args["format"] == "docx":
            return Response(report.docx_bytes(data), headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'评查结果-{plan.id}.docx')}"},
                mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        return data


# -- reviews ------------------------------------------------------------------------------------

@reviews_blp.route("")
class Reviews(MethodView):
    @reviews_blp.arguments(ReviewQuerySchema, location="query")
    @reviews_blp.response(200, ReviewListSchema)
    def get(self, args):
        """``mine=1``: the caller's assignments; offices see the reviews of their scope."""
        p = current()
        if not policy.lists_reviews(p):
            refuse("review", "-", visible=True, why=f"a {p.role} does not read reviews")
        q = select(Review).order_by(Review.id)
        if args["plan"] is not None:
            q = q.where(Review.plan_id == args["plan"])
        if args["mine"] or policy.works_from_assignments(p):
            q = q.where(Review.reviewer == p.username)
        else:
            q = policy.scoped(q, p, Review.agency_code)
        return {"reviews": [service.review_view(r) for r in db().scalars(q)]}


@reviews_blp.route("/<int:review_id>")
class ReviewItem(MethodView):
    @reviews_blp.response(200, ReviewSchema)
    def get(self, review_id):
        """One review (its reviewer, or an office whose scope covers the file)."""
        return service.review_view(app.scoped_review(caller(), review_id))

    @reviews_blp.arguments(ReviewSubmitSchema)
    @reviews_blp.response(200, ReviewSchema)
    def post(self, data, review_id):
        """Submit the score: failed veto items, deductions with reasons (once, before the deadline)."""
        review = app.submit_review(caller(), review_id, vetoed=data["vetoed"], deductions=data["deductions"],
                                   note=data["note"])
        return service.review_view(review)


@reviews_blp.route("/conflicts")
class Conflicts(MethodView):
    @reviews_blp.arguments(ConflictSchema)
    @reviews_blp.response(201, ConflictOutSchema)
    def post(self, data):
        """A reviewer declares a conflict of interest with an agency or a case (回避)."""
        return app.declare_conflict(caller(), agency=data["agency"], case_number=data["case_number"],
                                    reason=data["reason"])


# -- bundles --------------------------------------------------------------------------------------

def _bundle_case(case_id: str):
    case = scoped_case(caller(), case_id)
    org = db().get(Organisation, case.agency_code)
    return case, org.name if org else case.agency_code


@bundle_blp.route("/<case_id>/bundle")
class CaseBundle(MethodView):
    @bundle_blp.response(200, description="application/zip: a BagIt bag (RFC 8493), streamed")
    def get(self, case_id):
        """The case file as a BagIt bag in a ZIP, documents in filing order under ``data/``."""
        from archive.casefile.bundle import bag_zip

        case, agency_name = _bundle_case(case_id)
        audit_event("case.bundle", "case", case_id, documents=len(case.documents))
        sessions = get_archive().sessions

        def mismatch(doc) -> None:
            from archive import audit

            audit.record(sessions, "fixity.mismatch", target_type="document", target_id=doc.id,
                         detail={"where": "bundle"})

        from archive.services.examinations import formats_of
        from archive.services.renditions import made

        return Response(bag_zip(case, agency_name, get_archive().store, mismatch, made(db(), case),
                                formats_of(db(), list(case.documents))),
                        mimetype="application/zip",
                        headers={"Content-Disposition": f"attachment; filename=case-{case.id}.zip",
                                 "Cache-Control": "private, no-store"})


@bundle_blp.route("/<case_id>/binder.pdf")
class CaseBinder(MethodView):
    @bundle_blp.response(200, description="application/pdf: cover, 卷内目录, the PDF documents")
    def get(self, case_id):
        """The case file as one PDF with a bookmark per stage and document."""
        from archive.casefile.bundle import build_binder, file_chunks, find_soffice
        from archive.services.renditions import rendition_states

        case, agency_name = _bundle_case(case_id)
        archive = get_archive()
        binder = build_binder(case, agency_name, archive.store, find_soffice(archive.config["LIBREOFFICE"]),
                              renditions=rendition_states(db(), case))
        audit_event("case.binder", "case", case_id, pages=binder.pages)
        size = binder.file.seek(0, 2)
        binder.file.seek(0)
        return Response(file_chunks(binder.file), mimetype="application/pdf", direct_passthrough=True,
                        headers={"Content-Length": str(size), "Cache-Control": "private, no-store",
                                 "Content-Disposition": f"inline; filename=case-{case.id}.pdf"})

