"""Case corrections (案件信息更正): the agency asks, its supervising office decides."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.api.amendments import DecisionSchema
from archive.services.schemas import LocalDateTime
from archive.edge.auth import audit_event, case_for, current
from archive.errors import Forbidden
from archive.extension import db
from archive.models import Case
from archive.services import corrections
from archive.clock import now

blp = Blueprint("corrections", __name__, url_prefix="/api", description="案件信息更正 Case corrections")


class CorrectionRequestSchema(Schema):
    field = fields.String(required=True, validate=validate.OneOf(list(corrections.FIELDS)),
                          metadata={"description": "opened_on, party_name, party_id or summary"})
    new_value = fields.String(required=True, validate=validate.Length(max=5000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class CorrectionSchema(Schema):
    id = fields.Integer()
    case_id = fields.String()
    agency = fields.String(attribute="agency_code")
    field = fields.String()
    old_value = fields.String()
    new_value = fields.String()
    reason = fields.String()
    requested_by = fields.String()
    requested_at = LocalDateTime()
    status = fields.String(metadata={"description": "pending, approved or rejected"})
    decided_by = fields.String(allow_none=True)
    decided_at = LocalDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class CorrectionListSchema(Schema):
    corrections = fields.List(fields.Nested(CorrectionSchema))


def _refused(exc: Forbidden, target: str) -> None:
    from flask import request

    audit_event("access.refused", "case_correction", target, method=request.method, path=request.path,
                reason=str(exc.errors.get("role")))


@blp.route("/cases/<case_id>/corrections")
class CaseCorrections(MethodView):
    @blp.response(200, CorrectionListSchema)
    def get(self, case_id):
        """The case's correction requests, oldest first: old and new value, who, why, the decision."""
        case_for(db().get(Case, case_id), case_id)
        return {"corrections": corrections.history(db(), case_id)}

    @blp.arguments(CorrectionRequestSchema)
    @blp.response(201, CorrectionSchema)
    def post(self, data, case_id):
        """Ask to correct one fact of the case (the case's agency); decided by its supervising office."""
        case = case_for(db().get(Case, case_id), case_id, write=True)
        return corrections.request(db(), current(), case, field=data["field"], new_value=data["new_value"],
                                   reason=data["reason"], now=now())


@blp.route("/case-corrections/<int:correction_id>/decision")
class CorrectionDecision(MethodView):
    @blp.arguments(DecisionSchema)  # (the same decision as an amendment's)
    @blp.response(200, CorrectionSchema)
    def post(self, data, correction_id):
        """Approve (the case takes the new value) or reject with a reason; exactly once."""
        session = db()
        c = corrections.get(session, current(), correction_id)
        try:
            return corrections.decide(session, current(), c, approve=data["approve"], note=data["note"], now=now())
        except Forbidden as exc:
            session.rollback()
            _refused(exc, str(correction_id))
            raise
