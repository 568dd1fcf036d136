"""Marshmallow schemas of what the API and the pages accept and answer (plain data, no HTTP);
the OpenAPI document is generated from them."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from archive.models import CASE_KINDS, PARTY_TYPES, PENALTY_TYPES, PROCEDURES, STAGES
from archive.numbers import INT_MAX
from archive.sampling.service import KINDS as SAMPLING_KINDS
from archive.clock import local


class LocalDateTime(fields.DateTime):
    """ISO 8601 with its offset, shown in Asia/Shanghai."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(local(value), attr, obj, **kwargs)


# Dates the archive accepts: wide enough for any real case file, narrow enough that converting
# between offsets never overflows (0001-01-01T00:00+14:00 has no UTC equivalent).
EARLIEST, LATEST = 1900, 2200
MAX_ID = INT_MAX  # ids and counts fit a PostgreSQL integer


def _check_year(value, name: str = "date"):
    if value is not None and not EARLIEST <= value.year <= LATEST:
        raise ValidationError(f"日期应在 {EARLIEST} 年到 {LATEST} 年之间 / {name} must lie between {EARLIEST} and {LATEST}")
    return value


class BoundedDateTime(fields.DateTime):
    """An ISO 8601 date-time between 1900 and 2200."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _check_year(super()._deserialize(value, attr, data, **kwargs))


class BoundedAwareDateTime(fields.AwareDateTime, BoundedDateTime):
    """An ISO 8601 date-time with its offset, between 1900 and 2200."""


class BoundedDate(fields.Date):
    """An ISO 8601 date between 1900 and 2200."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _check_year(super()._deserialize(value, attr, data, **kwargs))


def Id(**kwargs) -> fields.Integer:
    """A positive integer id that fits the database (1 … 2³¹−1), digits only."""
    return fields.Integer(strict=False, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class CaseCreateSchema(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=120),
                           metadata={"example": "津武市监罚〔2026〕12号"})
    agency = fields.String(required=True, metadata={"description": "agency code"})
    kind = fields.String(required=True, validate=validate.OneOf(CASE_KINDS))
    procedure = fields.String(load_default="general", validate=validate.OneOf(PROCEDURES))
    power = fields.String(load_default="", validate=validate.Length(max=64),
                          metadata={"description": "enforcement power (职权) code, required: one of the agency's "
                                                     "powers when its basic information lists them"})
    party_name = fields.String(load_default="", validate=validate.Length(max=200))
    party_id = fields.String(load_default="", validate=validate.Length(max=64),
                             metadata={"description": "unified social credit code or ID number"})
    summary = fields.String(load_default="", validate=validate.Length(max=5000))
    opened_on = BoundedDate(required=True)
    party_type = fields.String(load_default="organisation", validate=validate.OneOf(PARTY_TYPES))
    sector = fields.String(load_default="", validate=validate.Length(max=32),
                           metadata={"description": "sector for the hearing-threshold table, e.g. public_security"})


class DocumentSchema(Schema):
    id = fields.String()
    case_id = fields.String()
    stage = fields.String()
    form = fields.String(attribute="form_code")
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    sm3 = fields.String(allow_none=True, metadata={
        "description": "SM3 (GB/T 32905) of the current version, computed in the same pass as its SHA-256; "
                       "null for a version stored before SM3 was kept"})
    version_id = fields.String()
    uploaded_at = LocalDateTime()
    uploader = fields.String(allow_none=True)
    text_status = fields.String()
    text_reason = fields.String(allow_none=True, metadata={"description": "why, as recorded (technical)"})
    text_note = fields.Method("_text_note", dump_only=True,
                              metadata={"description": "why, in Chinese, for a person (empty: nothing to say)"})
    page_count = fields.Integer(allow_none=True)
    ocr_confidence = fields.Float(allow_none=True, metadata={"description": "text_status ocr: mean confidence per character, 0..1"})
    ocr_engine = fields.String(allow_none=True)
    warnings = fields.List(fields.String(), dump_only=True,
                           metadata={"description": "warnings this upload raised (a late upload), in an upload's answer"})
    rendition = fields.Dict(dump_only=True, allow_none=True, metadata={
        "description": "GET of one document, an editable one (DOCX …): its PDF/A rendition's status (pending, done, "
                       "failed), pdfa_valid, pdfa_problems, text_equal, sha256, size, reason; the PDF at …/rendition"})

    format = fields.Dict(dump_only=True, allow_none=True, metadata={
        "description": "GET of one document: the current version's format {puid, name, version, mime} (siegfried's "
                       "PRONOM identifier; local/ofd for OFD); null until the background examination ran"})
    signatures = fields.List(fields.Dict(), dump_only=True, metadata={
        "description": "GET of one document: signatures and seals inside the file, verified offline: "
                       "[{kind, signer, seal_name, signed_at, timestamp, intact, valid, trusted, coverage, result, reason}]"})
    examination = fields.Dict(dump_only=True, allow_none=True, metadata={
        "description": "GET of one document: status (pending, done), format_class, policy (master, evidence, outside), "
                       "policy_reason, protection (encrypted, password or empty), examined_at"})

    def _text_note(self, doc) -> str:
        from archive.labels import text_reason

        return text_reason(getattr(doc, "text_reason", None), getattr(doc, "text_status", None))[0]


class StageOfficerSchema(Schema):
    certificate_no = fields.String()
    name = fields.String()


class StageSchema(Schema):
    stage = fields.String()
    completed_at = LocalDateTime(allow_none=True)
    recorded_at = LocalDateTime(allow_none=True)
    officers = fields.List(fields.Nested(StageOfficerSchema))
    documents = fields.List(fields.Nested(DocumentSchema))


class CaseSchema(Schema):
    id = fields.String()
    number = fields.String()
    agency = fields.String(attribute="agency_code")
    agency_name = fields.Function(lambda c: c.agency.name if c.agency else None)
    kind = fields.String()
    procedure = fields.String()
    power = fields.String(attribute="power_code")
    party_name = fields.String()
    party_id = fields.String()
    summary = fields.String()
    opened_on = fields.Date()
    created_at = LocalDateTime()
    party_type = fields.String()
    sector = fields.String()
    penalty_types = fields.Function(lambda c: __import__("json").loads(c.penalty_types or "[]"))
    fine_amount = fields.Integer(allow_none=True)
    decision_period = fields.Function(lambda c: getattr(c, "decision_period", None), metadata={
        "description": "penalty cases after filing: {due_at, extension_days, suspended_days, suspended} (law art. 60)"})
    major = fields.Function(lambda c: getattr(c, "major", None),
                            metadata={"description": "重大案件 by the rules, once the decision is recorded"})
    stages = fields.Method("dump_stages")

    def dump_stages(self, case):
        """Stages in filing order: recorded ones with their times, and any with documents."""
        from archive.models import STAGES_BY_KIND

        recorded = {s.stage: s for s in case.stages}
        deadlines = getattr(case, "deadlines", {})
        out = []
        for name in STAGES_BY_KIND[case.kind]:
            docs = [d for d in case.documents if d.stage == name]
            s = recorded.get(name)
            if s is None and not docs:
                continue
            item = StageSchema().dump({
                "stage": name, "completed_at": s.completed_at if s else None,
                "recorded_at": s.recorded_at if s else None, "documents": docs,
                "officers": [{"certificate_no": o.certificate_no, "name": o.name} for o in s.officers] if s else []})
            item.update(deadlines.get(name, {"upload_due_at": None, "late": None}))
            out.append(item)
        return out


class CaseSummarySchema(CaseSchema):
    class Meta:
        exclude = ("stages", "major")


class CaseListSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    cases = fields.List(fields.Nested(CaseSummarySchema))


class OrderedRangeSchema(Schema):
    """A query with date ranges (attribute pairs in RANGES): a reversed one is a 422 naming its end."""

    RANGES: tuple[tuple[str, str], ...] = ()

    @validates_schema
    def _ordered(self, data, **_kwargs):
        for start, end in self.RANGES:
            if data.get(start) and data.get(end) and data[start] > data[end]:
                raise ValidationError("结束日期早于开始日期 / the range ends before it starts",
                                      field_name=self.fields[end].data_key or end)


class CaseQuerySchema(OrderedRangeSchema):
    RANGES = (("opened_from", "opened_to"),)
    agency = fields.String()
    kind = fields.String(validate=validate.OneOf(CASE_KINDS))
    number = fields.String(validate=validate.Length(max=120))
    stage = fields.String(validate=validate.OneOf(STAGES), metadata={"description": "this stage is recorded"})
    opened_from = BoundedDate()
    opened_to = BoundedDate()
    open_warnings = fields.Boolean(metadata={"description": "has (true) or has no (false) open warning"})
    late = fields.Boolean(metadata={"description": "has a lateness warning (late upload, decision overdue)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class StageCreateSchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    completed_at = BoundedDateTime(required=True,
                                   metadata={"description": "when it happened (ISO 8601); without an offset it is Asia/Shanghai time"})
    penalty_types = fields.List(fields.String(validate=validate.OneOf(PENALTY_TYPES)),
                                metadata={"description": "decision stage only: what was imposed"})
    fine_amount = fields.Integer(validate=validate.Range(min=0, max=10**12), allow_none=True,
                                 metadata={"description": "decision stage only: the fine in yuan"})
    officers = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=20),
                           metadata={"description": "the certificate numbers (执法证号) of the officers who performed "
                                                    "the stage, from the agency's registry (two or more where the "
                                                    "rules ask: 调查取证, 检查, 送达)"})


class UploadFormSchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    form = fields.String(required=True, validate=validate.Length(min=1, max=64))
    sha256 = fields.String(validate=validate.Length(max=128),
                           metadata={"description": "SHA-256 the client expects; a mismatch is refused"})
    allow_duplicate = fields.Boolean(load_default=False, metadata={
        "description": "store it even if the case holds the same file (SHA-256) already; else 409 with duplicate_of"})


class SearchQuerySchema(OrderedRangeSchema):
    RANGES = (("date_from", "date_to"),)
    q = fields.String(load_default="", validate=validate.Length(max=400))
    agency = fields.String(validate=validate.Length(max=64))
    kind = fields.String(validate=validate.OneOf(CASE_KINDS))
    stage = fields.String(validate=validate.OneOf(STAGES))
    form = fields.String(validate=validate.Length(max=64))
    date_from = BoundedDate(data_key="from")
    date_to = BoundedDate(data_key="to")
    sort = fields.String(load_default="relevance",
                         validate=validate.OneOf(["relevance", "date", "date_desc", "date_asc"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    versions = fields.String(load_default="current", validate=validate.OneOf(["current", "all"]),
                             metadata={"description": "all: also find earlier versions replaced by amendments"})
    complaint = Id(metadata={"description": "the complaint being handled (recorded in the audit trail)"})


class HitSchema(Schema):
    document_id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    filename = fields.String()
    stage = fields.String()
    form = fields.String()
    agency = fields.String()
    party_name = fields.String()
    uploaded_at = LocalDateTime()
    version = fields.Integer()
    current = fields.Boolean()
    score = fields.Float()
    highlights = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class SearchResultSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    hits = fields.List(fields.Nested(HitSchema))


class FormSchema(Schema):
    code = fields.String()
    name = fields.String()
    stages = fields.List(fields.String())


class OrganisationSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    children = fields.List(fields.Nested(lambda: OrganisationSchema()))
class PeriodCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["extension", "suspension"]))
    days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=365), metadata={"description": "extension: days added (art. 60)"})
    start_on = BoundedDate(load_default=None, metadata={"description": "suspension: first day"})
    end_on = BoundedDate(load_default=None, metadata={"description": "suspension: the day it ended (may come later)"})
    approved_by = fields.String(required=True, validate=validate.Length(min=1, max=120),
                                metadata={"description": "who approved it (行政机关负责人)"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class PlanCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    period_start = BoundedDate(required=True)
    period_end = BoundedDate(required=True)
    kinds = fields.List(fields.String(validate=validate.OneOf(SAMPLING_KINDS)), required=True,
                        validate=validate.Length(min=1, max=2))
    district = fields.String(load_default=None, validate=validate.Length(max=64),
                             metadata={"description": "a district code; empty: the whole city"})
    count = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100000))
    rate = fields.Float(load_default=None, validate=validate.Range(min=0, max=1), metadata={"description": "share of each stratum, 0 < rate ≤ 1"})
    min_per_stratum = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))
    max_per_stratum = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100000))
    reviewers_per_file = fields.Integer(load_default=2, validate=validate.Range(min=1, max=20))
    max_load = fields.Integer(load_default=10, validate=validate.Range(min=1, max=10000))
    review_deadline = BoundedDate(required=True)


class ComplaintCreateSchema(Schema):
    received_at = BoundedDateTime(required=True, metadata={"description": "when it was received (ISO 8601)"})
    complainant = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = fields.String(load_default=None, validate=validate.Length(max=200),
                            metadata={"description": "how to reach the complainant"})
    agency = fields.String(load_default=None, validate=validate.Length(max=64))
    case_id = fields.String(load_default=None, validate=validate.Length(max=32),
                            metadata={"description": "a case it names: linked at once (legal hold)"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))
