"""Statistics: the performance ratio (履职比例) per agency, within the caller's scope."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.auth import policy
from archive.auth.web import current, refuse
from archive.extension import db, get_archive
from archive.services import stats
from archive.services.clock import SHANGHAI, now

blp = Blueprint("stats", __name__, url_prefix="/api/stats", description="统计 Statistics")


class PerformanceQuerySchema(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(2000, 2100),
                          metadata={"description": "default: this year (to date)"})
    agency = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "one agency, with the powers it never exercised"})


class PowerSchema(Schema):
    code = fields.String()
    name = fields.String()
    category = fields.String()
    legal_basis = fields.String()


class AgencyPerformanceSchema(Schema):
    agency = fields.String()
    name = fields.String()
    powers = fields.Integer(metadata={"description": "powers in the agency's basic information"})
    exercised = fields.Integer(metadata={"description": "of them, with an inspection or penalty record in the period"})
    ratio = fields.Float(allow_none=True)
    status = fields.String(metadata={"description": "pass, fail (below the threshold), inaction (0), no_powers"})
    never_exercised = fields.List(fields.Nested(PowerSchema), metadata={"description": "with ?agency= only"})


class PerformanceSchema(Schema):
    year = fields.Integer()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    threshold = fields.Float()
    agencies = fields.List(fields.Nested(AgencyPerformanceSchema))


@blp.route("/performance")
class Performance(MethodView):
    @blp.arguments(PerformanceQuerySchema, location="query")
    @blp.response(200, PerformanceSchema)
    def get(self, args):
        """履职比例: per agency, its powers with at least one inspection or penalty record
        opened in the year (this year: to date) ÷ all its powers; status against the threshold
        (``ARCHIVE_PERFORMANCE_THRESHOLD``). An agency sees itself, a district office its
        agencies, the city everything."""
        p = current()
        if not policy.reads_stats(p):
            refuse("stats", "performance", visible=True, why=f"a {p.role} does not read the statistics")
        today = now().astimezone(SHANGHAI).date()
        year = args["year"] or today.year
        agency = args["agency"]
        if agency is not None and not p.sees_agency(agency):
            refuse("agency", agency, visible=False, why="outside the caller's scope")
        out = stats.performance(db(), year, p.agencies, stats.threshold(get_archive().config), as_of=today, agency=agency)
        if agency is not None:
            if not out["agencies"]:
                refuse("agency", agency, visible=False, why="no such agency")
            out["agencies"][0]["never_exercised"] = stats.never_exercised(db(), agency, year, as_of=today)
        out["from_"] = out.pop("from")
        return out
