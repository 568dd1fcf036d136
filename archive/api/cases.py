"""Cases, stages and uploads (scoped: a case outside the caller's scope is 404)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from archive.services.schemas import (
    BoundedDate,
    CaseCreateSchema, CaseListSchema, CaseQuerySchema, CaseSchema, DocumentSchema,
    StageCreateSchema, UploadFormSchema,
)
from archive.auth import policy
from archive.edge.auth import caller, case_for, current, refuse
from archive.edge.uploads import received_file
from archive.errors import ValidationFailed
from archive.extension import db, get_archive
from archive.models import STAGES, Case
from archive.services import cases as case_service
from archive.services import uploads
from archive.services.objects import HashingSpool
from archive.services.schemas import PeriodCreateSchema

blp = Blueprint("cases", __name__, url_prefix="/api/cases", description="案卷 Cases, stages, uploads")


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CaseListSchema)
    def get(self, args):
        """List the cases in the caller's scope (filters: agency or district code, kind, number)."""
        session = db()
        p = current()
        if not policy.reads_cases(p):
            refuse("cases", "list", visible=True, why="administrators read no case file")
        agency = case_service.agencies_under(session, args["agency"]) if args.get("agency") else None
        agency = policy.narrowed_agencies(p, agency)
        total, rows = case_service.list_cases(
            session, agency=agency, kind=args.get("kind"), number=args.get("number"), stage=args.get("stage"),
            opened_from=args.get("opened_from"), opened_to=args.get("opened_to"),
            open_warnings=args.get("open_warnings"), late=args.get("late"), page=args["page"],
            per_page=args["per_page"])
        return {"total": total, "page": args["page"], "per_page": args["per_page"], "cases": rows}

    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data):
        """Create a case (inspection record or penalty case) for the caller's own agency."""
        return case_service.open_case(caller(), data)


@blp.route("/<case_id>")
class CaseItem(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """A case with its stages and their documents."""
        return case_service.view_case(caller(), case_id)


@blp.route("/<case_id>/stages")
class CaseStages(MethodView):
    @blp.arguments(StageCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data, case_id):
        """Record that a stage was completed, with when it happened."""
        return case_service.complete_stage(caller(), case_id, data)


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["stage", "form", "file"],
    "properties": {"stage": {"type": "string", "enum": list(STAGES)},
                   "form": {"type": "string", "maxLength": 64},
                   "sha256": {"type": "string", "description": "SHA-256 the client expects; a mismatch is refused"},
                   "allow_duplicate": {"type": "boolean", "description": "store a file the case holds already "
                                       "(same SHA-256); without it such a file answers 409 with duplicate_of"},
                   "file": {"type": "string", "format": "binary",
                            "description": "sent after the other fields, it is stored while it arrives"}}}}}}


@blp.route("/<case_id>/documents")
class CaseDocuments(MethodView):
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(201, DocumentSchema)
    def post(self, case_id):
        """Upload one document or piece of evidence for a stage (multipart: stage, form, optional
        sha256, then file). The file goes to object storage while it arrives (no spool); the
        row is committed after the object; indexing happens afterwards."""
        # the case row alone (its stages load when needed): an upload needs no documents list
        case = db().get(Case, case_id)
        case_for(case, case_id, write=True)
        return streamed_upload(case)


def streamed_upload(case: Case):
    """Read the multipart body as it arrives and store its file (``ingest_stream``). Fields sent
    after the file are still accepted: the file is then spooled first (``store_upload``)."""
    from flask import request
    from marshmallow import ValidationError

    from archive.errors import BadQuery
    from archive.services.streaming import MultipartStream, boundary_of

    def checked(values: dict) -> dict:
        bad = next((k for k, v in values.items() if "\x00" in k or "\x00" in v), None)
        if bad is not None:
            raise BadQuery("请求中含有不允许的字符（NUL）/ NUL is not allowed in text", {bad: ["NUL (0x00) is not allowed"]})
        try:
            return UploadFormSchema().load({k: v for k, v in values.items() if k in ("stage", "form", "sha256", "allow_duplicate")})
        except ValidationError as exc:
            raise ValidationFailed("the upload's fields are not valid", exc.messages) from None  # type: ignore[arg-type]

    boundary = boundary_of(request.content_type or "")
    if boundary is None or "form" in request.__dict__ or "files" in request.__dict__:
        # not multipart (refused with the usual errors), or parsed already (a web session's CSRF
        # check read the form): the spooled way
        upload = request.files.get("file")
        form = checked(request.form.to_dict())
        if upload is None:
            raise ValidationFailed("no file", {"file": ["Missing data for required field."]})
        spool = received_file(upload, get_archive().ingest_settings.max_bytes)
        return uploads.store_spool(caller(), case, spool, upload.filename, stage=form["stage"], form=form["form"],
                                   expected_sha256=form.get("sha256"), allow_duplicate=form["allow_duplicate"])
    parts = MultipartStream(request.stream, boundary, content_length=request.content_length)
    fields = parts.until_file()

    if parts.file_field is None:
        checked(fields)
        raise ValidationFailed("no file", {"file": ["Missing data for required field."]})
    if parts.file_field != "file" or not parts.filename:
        raise ValidationFailed("file has no filename" if parts.file_field == "file" else "the file field is 'file'",
                               {"file": ["missing filename" if parts.file_field == "file" else "Missing data for required field."]})
    if "stage" not in fields or "form" not in fields:  # sent after the file: spool it, then read them
        spool = HashingSpool.from_stream(parts, get_archive().ingest_settings.max_bytes)
        form = checked(parts.rest())
        return uploads.store_spool(caller(), case, spool, parts.filename, stage=form["stage"], form=form["form"],
                           expected_sha256=form.get("sha256"), allow_duplicate=form["allow_duplicate"])
    form = checked(fields)
    doc = uploads.store_stream(caller(), case, parts, parts.filename, stage=form["stage"], form=form["form"],
                               expected_sha256=form.get("sha256"), allow_duplicate=form["allow_duplicate"])
    parts.rest()  # the epilogue (fields after the file are ignored)
    return doc


class PeriodEndSchema(Schema):
    end_on = BoundedDate(required=True)


class PeriodSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    days = fields.Integer(allow_none=True)
    start_on = fields.Date(allow_none=True)
    end_on = fields.Date(allow_none=True)
    approved_by = fields.String()
    reason = fields.String()
    recorded_by = fields.String()


class PeriodListSchema(Schema):
    periods = fields.List(fields.Nested(PeriodSchema))


@blp.route("/<case_id>/periods")
class CasePeriods(MethodView):
    @blp.response(200, PeriodListSchema)
    def get(self, case_id):
        """Extensions and suspensions of the decision period (law art. 60)."""
        from sqlalchemy import select

        from archive.models import CasePeriod

        case_service.scoped_case(caller(), case_id)
        return {"periods": db().scalars(select(CasePeriod).where(CasePeriod.case_id == case_id)
                                        .order_by(CasePeriod.id)).all()}

    @blp.arguments(PeriodCreateSchema)
    @blp.response(201, PeriodSchema)
    def post(self, data, case_id):
        """Record an approved extension (``days``) or a suspension (``start_on``, ``end_on`` when known)."""
        return case_service.change_period(caller(), case_id, data)


@blp.route("/<case_id>/periods/<int:period_id>/end")
class CasePeriodEnd(MethodView):
    @blp.arguments(PeriodEndSchema)
    @blp.response(200, PeriodSchema)
    def post(self, data, case_id, period_id):
        """End an open suspension: the decision period runs again, less the suspended days."""
        return case_service.end_period(caller(), case_id, period_id, data["end_on"])
