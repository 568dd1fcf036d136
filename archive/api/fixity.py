"""The fixity report: the latest check of every stored object version in the caller's scope."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from archive.services.schemas import LocalDateTime
from archive.auth import policy
from archive.edge.auth import current, refuse
from archive.extension import db, get_archive
from archive.services import fixity
from archive.clock import now

blp = Blueprint("fixity", __name__, url_prefix="/api/fixity", description="完整性 Fixity")


class FailureSchema(Schema):
    document_id = fields.String()
    key = fields.String()
    version_id = fields.String()
    result = fields.String()
    detail = fields.String()
    checked_at = LocalDateTime()


class FixityReportSchema(Schema):
    documents = fields.Integer()
    never_checked = fields.Integer()
    overdue = fields.Integer(metadata={"description": "last checked longer ago than the period"})
    period_days = fields.Integer()
    last_check_at = LocalDateTime(allow_none=True)
    latest_results = fields.Dict(keys=fields.String(), values=fields.Integer())
    failures = fields.List(fields.Nested(FailureSchema))


@blp.route("/report")
class FixityReport(MethodView):
    @blp.response(200, FixityReportSchema)
    def get(self):
        """Latest result per object version (ok, damaged, missing, altered), what was never or
        not recently checked, and the failures."""
        p = current()
        if not policy.reads_fixity(p):
            refuse("fixity", "report", visible=True, why=f"a {p.role} does not read the fixity report")
        return fixity.report(db(), p.agencies, get_archive().config["FIXITY_PERIOD_DAYS"], now())
