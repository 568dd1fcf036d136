"""鉴定与销毁: the district and city offices appraise filed cases whose retention has ended —
keep longer or propose disposal; another office role approves; the 销毁清册."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.edge.auth import caller
from archive.services import disposal

blp = Blueprint("appraisal", __name__, url_prefix="/api/appraisal", description="鉴定与销毁 Appraisal and disposal")


class AppraisalSchema(Schema):
    id = fields.Integer()
    case_id = fields.String()
    kind = fields.String(metadata={"description": "keep (延长保管) or dispose (销毁)"})
    status = fields.String(metadata={"description": "keep: done; dispose: proposed, approved, rejected, disposed"})
    status_name = fields.String()
    archival_no = fields.String()
    retention_before = fields.String()
    until_before = fields.String(allow_none=True)
    retention_after = fields.String(allow_none=True)
    until_after = fields.String(allow_none=True)
    reason = fields.String(metadata={"description": "鉴定意见"})
    proposed_by = fields.String()
    proposed_role = fields.String()
    proposed_at = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_role = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    decision_note = fields.String()
    disposed_at = fields.String(allow_none=True)
    waiting = fields.String(metadata={"description": "why an approved disposal waits (retention, legal hold)"})
    register = fields.Dict(metadata={"description": "the 销毁清册 entry: the case, 档号, documents with SHA-256 and size"})
    register_sha256 = fields.String()


class AppraisalDueSchema(Schema):
    case_id = fields.String()
    case_number = fields.String()
    party_name = fields.String()
    agency_code = fields.String()
    agency_name = fields.String()
    archival_no = fields.String()
    retention = fields.String()
    retention_name = fields.String()
    retain_until = fields.Date()
    held = fields.Boolean(metadata={"description": "an open complaint holds the case: it cannot be disposed of"})
    status = fields.String()
    proposal = fields.Nested(AppraisalSchema, allow_none=True)
    may_decide = fields.Boolean()


class AppraisalDueListSchema(Schema):
    cases = fields.List(fields.Nested(AppraisalDueSchema))


class AppraisalListSchema(Schema):
    appraisals = fields.List(fields.Nested(AppraisalSchema))


class AppraisalKeepSchema(Schema):
    period = fields.String(required=True, metadata={"description": "the new period's code (forms/archival.json)"})
    reason = fields.String(required=True, validate=validate.Length(max=2000))


class DisposalProposeSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(max=2000))


class DisposalDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class DisposalStatusQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(["proposed", "approved", "rejected", "disposed"]))


@blp.route("/due")
class Due(MethodView):
    @blp.response(200, AppraisalDueListSchema)
    def get(self):
        """到期鉴定: filed cases of the caller's scope whose retention period has ended."""
        return {"cases": disposal.due_list(caller())}


@blp.route("/cases/<case_id>")
class CaseAppraisals(MethodView):
    @blp.response(200, AppraisalListSchema)
    def get(self, case_id):
        """A case's appraisals (kept longer, disposal proposed/decided/carried out)."""
        return {"appraisals": [disposal.view(a) for a in disposal.history(caller(), case_id)]}


@blp.route("/cases/<case_id>/keep")
class Keep(MethodView):
    @blp.arguments(AppraisalKeepSchema)
    @blp.response(201, AppraisalSchema)
    def post(self, args, case_id):
        """Keep a due case longer: a new period (counted from the end of the old) and the reason."""
        return disposal.view(disposal.keep_longer(caller(), case_id, args["period"], args["reason"]))


@blp.route("/cases/<case_id>/dispose")
class Propose(MethodView):
    @blp.arguments(DisposalProposeSchema)
    @blp.response(201, AppraisalSchema)
    def post(self, args, case_id):
        """Propose the disposal of a due case (409 while an open complaint holds it or a
        disposal of it is open)."""
        return disposal.view(disposal.propose(caller(), case_id, args["reason"]))


@blp.route("/disposals")
class Disposals(MethodView):
    @blp.arguments(DisposalStatusQuery, location="query")
    @blp.response(200, AppraisalListSchema)
    def get(self, args):
        """Disposals of the caller's scope, newest first; ``status=disposed``: the 销毁清册."""
        return {"appraisals": [disposal.view(a) for a in disposal.disposals(caller(), args["status"])]}


@blp.route("/disposals/<int:appraisal_id>")
class OneDisposal(MethodView):
    @blp.response(200, AppraisalSchema)
    def get(self, appraisal_id):
        """One disposal with its register (销毁清册 entry)."""
        return disposal.view(disposal.disposal(caller(), appraisal_id))


@blp.route("/disposals/<int:appraisal_id>/decision")
class Decision(MethodView):
    @blp.arguments(DisposalDecisionSchema)
    @blp.response(200, AppraisalSchema)
    def post(self, args, appraisal_id):
        """Approve or refuse a proposed disposal (another office role than the proposer's; once)."""
        return disposal.view(disposal.decide(caller(), appraisal_id, args["approve"], args["note"]))
