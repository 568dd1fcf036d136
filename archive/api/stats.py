"""Statistics: the performance ratio (履职比例) and the monthly scores per agency, within the
caller's scope; the pass mark of each year."""
from __future__ import annotations

import re
from urllib.parse import quote

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from archive.edge.auth import audit_event, caller, refuse
from archive.extension import db, get_archive
from archive.services import briefing
from archive.services import reports, stats
from archive.clock import FIRST_YEAR, LAST_YEAR, SHANGHAI, check_month, now

blp = Blueprint("stats", __name__, url_prefix="/api/stats", description="统计 Statistics")
reports_blp = Blueprint("reports", __name__, url_prefix="/api/reports", description="简报 Reports")


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
        p = reports.stats_reader(caller(), "performance")
        today = now().astimezone(SHANGHAI).date()
        year = args["year"] or today.year
        agency = args["agency"]
        if agency is not None and not p.sees_agency(agency):
            refuse("agency", agency, visible=False, why="outside the caller's scope")
        out = stats.performance(db(), year, p.agencies, stats.threshold_for(db(), get_archive().config, year), as_of=today, agency=agency)
        if agency is not None:
            if not out["agencies"]:
                refuse("agency", agency, visible=False, why="no such agency")
            out["agencies"][0]["never_exercised"] = stats.never_exercised(db(), agency, year, as_of=today)
        out["from_"] = out.pop("from")
        return out


def valid_month(value: str) -> None:
    """A month the archive can count (a year outside its range answers 422, not 500)."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value or ""):
        raise ValidationError("月份格式应为 YYYY-MM")
    try:
        check_month(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class ScoresQuerySchema(Schema):
    month = fields.String(required=True, validate=valid_month,
                          metadata={"description": f"YYYY-MM, from {FIRST_YEAR}-01 to {LAST_YEAR}-12"})
    district = fields.String(load_default=None, validate=validate.Length(max=64),
                             metadata={"description": "only the agencies of this district"})


class ComponentSchema(Schema):
    class Meta:
        unknown = INCLUDE

    rate = fields.Float(allow_none=True, metadata={"description": "0..1; null: no data this month (left out of the weights)"})
    weight = fields.Float()
    points = fields.Float(allow_none=True)


class AgencyScoreSchema(Schema):
    agency = fields.String()
    name = fields.String()
    district = fields.String(allow_none=True)
    score = fields.Float(allow_none=True, metadata={"description": "of 100; null: no data"})
    rank = fields.Integer(allow_none=True)
    components = fields.Dict(keys=fields.String(), values=fields.Dict(),
                             metadata={"description": "on_time, completeness, warnings, reviews, performance, daily_use, officers"})


class ScoresSchema(Schema):
    month = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    as_of = fields.DateTime()
    formula = fields.Dict()
    agencies = fields.List(fields.Nested(AgencyScoreSchema))


@blp.route("/scores")
class Scores(MethodView):
    @blp.arguments(ScoresQuerySchema, location="query")
    @blp.response(200, ScoresSchema)
    def get(self, args):
        """月度考评: each agency's score of the month, ranked, with every component (rate,
        weight, points and the counts behind it). The formula is ``ARCHIVE_SCORE_WEIGHTS`` and
        ``ARCHIVE_SCORE_WARNING_CREDIT``; a component without data is left out of the weights."""
        out = reports.month_scores(caller(), args)
        out["from_"] = out.pop("from")
        return out


class ThresholdSchema(Schema):
    threshold = fields.Float(required=True, metadata={"description": "share of the powers, 0.01–1 (0.6 = 60 %)"})
    note = fields.String(load_default="", validate=validate.Length(max=500))


class YearThresholdSchema(Schema):
    year = fields.Integer()
    threshold = fields.Float()
    set_by = fields.String()
    set_at = fields.DateTime()
    note = fields.String()


class ThresholdsSchema(Schema):
    default = fields.Float(metadata={"description": "ARCHIVE_PERFORMANCE_THRESHOLD, for a year without its own"})
    years = fields.List(fields.Nested(YearThresholdSchema))


@blp.route("/thresholds")
class Thresholds(MethodView):
    @blp.response(200, ThresholdsSchema)
    def get(self):
        """The pass mark of the performance ratio: the default and each year's own."""
        reports.stats_reader(caller(), "thresholds")
        return stats.thresholds(db(), get_archive().config)


@blp.route("/thresholds/<int:year>")
class YearThreshold(MethodView):
    @blp.arguments(ThresholdSchema)
    @blp.response(200, ThresholdsSchema)
    def put(self, args, year):
        """Set the pass mark of ``year`` (city office). Recorded in the audit trail."""
        reports.set_threshold(caller(), year, args["threshold"], args["note"])
        return stats.thresholds(db(), get_archive().config)


class MonthlyReportQuerySchema(ScoresQuerySchema):
    format = fields.String(load_default="docx", validate=validate.OneOf(list(briefing.FORMATS)),
                           metadata={"description": "docx (with charts), csv or xlsx"})


@reports_blp.route("/monthly")
class MonthlyReport(MethodView):
    @reports_blp.arguments(MonthlyReportQuerySchema, location="query")
    @reports_blp.response(200, {"format": "binary", "type": "string"},
                          content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    def get(self, args):
        """月度简报: the month's summary, the ranking with every component, the charts (DOCX)
        and the warnings that climbed to level 2 or 3; the same figures as CSV or XLSX. For the
        caller's scope (``district`` narrows it)."""
        data = reports.briefing_data(caller(), args)
        body = briefing.render(data, args["format"])
        audit_event("report.monthly", "month", args["month"], format=args["format"], district=args.get("district"))
        name = briefing.filename(data, args["format"])
        return Response(body, mimetype=briefing.FORMATS[args["format"]], headers={
            "Content-Disposition": f"attachment; filename=\"monthly-{args['month']}.{args['format']}\"; "
                                   f"filename*=UTF-8''{quote(name)}"})


class DailyUseRowSchema(Schema):
    class Meta:
        unknown = INCLUDE

    code = fields.String()
    name = fields.String()
    level = fields.String(metadata={"description": "agency or district"})
    users = fields.Integer(metadata={"description": "its users (agency clerks and legal staff; a district's office)"})
    working_days = fields.Integer()
    days_used = fields.Integer(metadata={"description": "working days with at least one web login"})
    rate = fields.Float(allow_none=True)
    missed = fields.List(fields.Date(), metadata={"description": "working days without a login"})
    other_days = fields.List(fields.Date(), metadata={"description": "logins on holidays and weekends (not required)"})
    warnings = fields.Dict(metadata={"description": "opened in the month: opened, seen, unseen, median_hours to the first look"})


class DailyUseSchema(Schema):
    month = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    working_days = fields.List(fields.Date())
    calendar_missing = fields.Boolean()
    organisations = fields.List(fields.Nested(DailyUseRowSchema))


@blp.route("/daily-use")
class DailyUse(MethodView):
    @blp.arguments(ScoresQuerySchema, location="query")
    @blp.response(200, DailyUseSchema)
    def get(self, args):
        """日常使用情况: per organisation in scope, the working days of the month (to date) with a
        web login by one of its users, the days missed (holidays are not missed; make-up working
        days are), and how quickly the month's warnings on it were first looked at."""
        out = reports.daily_use_data(caller(), args)
        out["from_"] = out.pop("from")
        return out
