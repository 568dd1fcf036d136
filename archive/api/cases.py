"""Cases, stages and uploads (scoped: a case outside the caller's scope is 404)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from archive.api.schemas import (
    BoundedDate,
    CaseCreateSchema, CaseListSchema, CaseQuerySchema, CaseSchema, DocumentSchema,
    StageCreateSchema, UploadFormSchema,
)
from archive.auth import policy
from archive.deadlines.service import attach_deadlines
from archive.deadlines.warnings import check_case_now
from archive.auth.web import audit_event, audit_in, case_for, current, refuse
from archive.errors import ValidationFailed
from archive.extension import db, get_archive
from archive.models import STAGES, Case
from archive.services import cases as case_service
from archive.services.ingest import HashingSpool, ingest

blp = Blueprint("cases", __name__, url_prefix="/api/cases", description="案卷 Cases, stages, uploads")


def received_file(upload) -> HashingSpool:
    """The uploaded part as a hashing spool (small parts may arrive in memory); it must be named."""
    if not upload.filename:
        raise ValidationFailed("file has no filename", {"file": ["missing filename"]})
    spool = upload.stream
    if not isinstance(spool, HashingSpool):
        spool = HashingSpool.from_stream(upload.stream, get_archive().ingest_settings.max_bytes)
    return spool


def scoped_case(case_id: str, *, write: bool = False) -> Case:
    """The case if the caller may see it (write to it): else 404 (403 if visible)."""
    session = db()
    # The scope is decided on the case row alone, so a refused id and a missing one cost the
    # same (one query, one audit entry); stages and documents are loaded only for the caller.
    case_for(session.get(Case, case_id), case_id, write=write)
    case = case_service.get_case(session, case_id)
    return attach_deadlines(session, case)


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CaseListSchema)
    def get(self, args):
        """List the cases in the caller's scope (filters: agency or district code, kind, number)."""
        session = db()
        p = current()
        agency = case_service.agencies_under(session, args["agency"]) if args.get("agency") else None
        if p.agencies is not None:
            agency = sorted(p.agencies if agency is None else set(agency) & p.agencies)
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
        p = current()
        if not policy.creates_cases(p):
            refuse("case", data["number"], visible=True, why=f"a {p.role} does not create cases")
        if not policy.writes_agency(p, data["agency"]):
            refuse("agency", data["agency"], visible=True, why="cases are created by their own agency")
        session = db()
        case = case_service.create_case(session, data)
        session.commit()
        audit_event("case.create", "case", case.id, number=case.number)
        return case_service.get_case(session, case.id)


@blp.route("/<case_id>")
class CaseItem(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """A case with its stages and their documents."""
        case = scoped_case(case_id)
        audit_event("case.view", "case", case_id)
        return case


@blp.route("/<case_id>/stages")
class CaseStages(MethodView):
    @blp.arguments(StageCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data, case_id):
        """Record that a stage was completed, with when it happened."""
        session = db()
        case = scoped_case(case_id, write=True)
        case_service.record_stage(session, case, data["stage"], data["completed_at"],
                                  recorded_by=current().username, penalty_types=data.get("penalty_types"),
                                  fine_amount=data.get("fine_amount"))
        session.commit()
        audit_event("stage.record", "case", case_id, stage=data["stage"])
        case_changed(case_id)
        return attach_deadlines(session, case_service.get_case(session, case_id))


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
    from archive.services.ingest import ingest_stream
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
        return store_upload(case, upload, stage=form["stage"], form=form["form"], expected_sha256=form.get("sha256"),
                            allow_duplicate=form["allow_duplicate"])
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
        return store_spool(case, spool, parts.filename, stage=form["stage"], form=form["form"],
                           expected_sha256=form.get("sha256"), allow_duplicate=form["allow_duplicate"])
    form = checked(fields)
    archive = get_archive()
    doc = ingest_stream(db(), archive.store, archive.ingest_settings, case, stage=form["stage"], form=form["form"],
                        filename=parts.filename, source=parts, expected_sha256=form.get("sha256"),
                        uploader=current().username, before_commit=audited(case),
                        allow_duplicate=form["allow_duplicate"])
    parts.rest()  # the epilogue (fields after the file are ignored)
    return _stored(case, doc)


def store_upload(case: Case, upload, *, stage: str, form: str, expected_sha256: str | None = None,
                 allow_duplicate: bool = False, **audit_detail):
    """Ingest one uploaded file into ``case`` (object first), audit it, check the case's
    deadlines at once; the document carries the warnings the upload raised (a late upload).
    The API route and the upload page both store files through here."""
    return store_spool(case, received_file(upload), upload.filename, stage=stage, form=form,
                       expected_sha256=expected_sha256, allow_duplicate=allow_duplicate, **audit_detail)


def store_spool(case: Case, spool: HashingSpool, filename: str | None, *, stage: str, form: str,
                expected_sha256: str | None = None, allow_duplicate: bool = False, **audit_detail):
    """Ingest a file spooled already (``ingest``), then audit and check as every upload is."""
    archive = get_archive()
    doc = ingest(db(), archive.store, archive.ingest_settings, case, stage=stage, form=form, filename=filename,
                 spool=spool, expected_sha256=expected_sha256, uploader=current().username,
                 before_commit=audited(case, **audit_detail), allow_duplicate=allow_duplicate)
    return _stored(case, doc)


def audited(case: Case, **audit_detail):
    """What is committed with the document's row: the upload's audit entry, and the case's
    deadline check (a late upload's warning; a check that fails is undone alone)."""
    from archive.deadlines.warnings import check_case_in

    def add(session, doc) -> None:
        audit_in(session, "document.upload", "document", doc.id, case_id=case.id, sha256=doc.sha256,
                 size=doc.size, filename=doc.filename, **audit_detail)
        check_case_in(session, case.id)
    return add


def _stored(case: Case, doc):
    """After a document was stored (audited and checked with it): carry the warnings the
    upload raised (a late upload) on the answer."""
    doc.warnings = raised_by(db(), doc.case_id, doc.id)  # type: ignore[attr-defined]
    return doc


def case_changed(case_id: str) -> None:
    """After a committed change to a case: check its deadlines at once (a secondary step that
    never undoes the change; the manifest job was committed with the change)."""
    check_case_now(get_archive().sessions, case_id)


def raised_by(session, case_id: str, doc_id: str) -> list[str]:
    """The warnings an upload raised (a late upload), as the uploader should read them."""
    from sqlalchemy import select

    from archive.models import WarningRecord

    from archive.models import Document
    from archive.services.clock import SHANGHAI

    doc = session.get(Document, doc_id)
    if doc is None:
        return []
    day = doc.uploaded_at.astimezone(SHANGHAI).date().isoformat()
    return list(session.scalars(select(WarningRecord.message).where(
        WarningRecord.case_id == case_id, WarningRecord.rule == "late_upload",
        WarningRecord.fact_key.in_([f"late:{doc.stage}:{day}", f"doc:{doc_id}"]))))


class PeriodCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["extension", "suspension"]))
    days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=365), metadata={"description": "extension: days added (art. 60)"})
    start_on = BoundedDate(load_default=None, metadata={"description": "suspension: first day"})
    end_on = BoundedDate(load_default=None, metadata={"description": "suspension: the day it ended (may come later)"})
    approved_by = fields.String(required=True, validate=validate.Length(min=1, max=120),
                                metadata={"description": "who approved it (行政机关负责人)"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


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

        scoped_case(case_id)
        return {"periods": db().scalars(select(CasePeriod).where(CasePeriod.case_id == case_id)
                                        .order_by(CasePeriod.id)).all()}

    @blp.arguments(PeriodCreateSchema)
    @blp.response(201, PeriodSchema)
    def post(self, data, case_id):
        """Record an approved extension (``days``) or a suspension (``start_on``, ``end_on`` when known)."""
        case = scoped_case(case_id, write=True)
        session = db()
        period = case_service.add_period(session, case, data, by=current().username)
        session.commit()
        audit_event("case.period", "case", case_id, kind=period.kind, days=period.days,
                    start_on=str(period.start_on), end_on=str(period.end_on))
        case_changed(case_id)
        return period


@blp.route("/<case_id>/periods/<int:period_id>/end")
class CasePeriodEnd(MethodView):
    @blp.arguments(PeriodEndSchema)
    @blp.response(200, PeriodSchema)
    def post(self, data, case_id, period_id):
        """End an open suspension: the decision period runs again, less the suspended days."""
        case = scoped_case(case_id, write=True)
        session = db()
        period = case_service.end_suspension(session, case, period_id, data["end_on"])
        session.commit()
        audit_event("case.period_end", "case", case_id, period=period_id, end_on=str(period.end_on))
        case_changed(case_id)
        return period
