"""Cases, stages and uploads."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from archive.api.schemas import (
    CaseCreateSchema, CaseListSchema, CaseQuerySchema, CaseSchema, DocumentSchema,
    StageCreateSchema, UploadFileSchema, UploadFormSchema,
)
from archive.errors import ValidationFailed
from archive.extension import db, get_archive
from archive.services import cases as case_service
from archive.services.ingest import HashingSpool, ingest

blp = Blueprint("cases", __name__, url_prefix="/api/cases", description="案卷 Cases, stages, uploads")


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CaseListSchema)
    def get(self, args):
        """List cases (filters: agency or district code, kind, number contains)."""
        session = db()
        agency = case_service.agencies_under(session, args["agency"]) if args.get("agency") else None
        total, rows = case_service.list_cases(session, agency=agency, kind=args.get("kind"),
                                              number=args.get("number"), page=args["page"],
                                              per_page=args["per_page"])
        return {"total": total, "page": args["page"], "per_page": args["per_page"], "cases": rows}

    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data):
        """Create a case (inspection record or penalty case)."""
        session = db()
        case = case_service.create_case(session, data)
        session.commit()
        return case_service.get_case(session, case.id)


@blp.route("/<case_id>")
class CaseItem(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """A case with its stages and their documents."""
        return case_service.get_case(db(), case_id)


@blp.route("/<case_id>/stages")
class CaseStages(MethodView):
    @blp.arguments(StageCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data, case_id):
        """Record that a stage was completed, with when it happened."""
        session = db()
        case = case_service.get_case(session, case_id)
        case_service.record_stage(session, case, data["stage"], data["completed_at"])
        session.commit()
        return case_service.get_case(session, case_id)


@blp.route("/<case_id>/documents")
class CaseDocuments(MethodView):
    @blp.arguments(UploadFormSchema, location="form")
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, DocumentSchema)
    def post(self, form, files, case_id):
        """Upload one document or piece of evidence for a stage (multipart: file, stage, form,
        optional sha256). Stored in object storage first; indexing happens afterwards."""
        upload = files["file"]
        spool = upload.stream
        if not isinstance(spool, HashingSpool):  # small parts may arrive in memory
            spool = HashingSpool.from_stream(upload.stream, get_archive().ingest_settings.max_bytes)
        if not upload.filename:
            raise ValidationFailed("file has no filename", {"file": ["missing filename"]})
        session = db()
        case = case_service.get_case(session, case_id)
        archive = get_archive()
        return ingest(session, archive.store, archive.ingest_settings, case, stage=form["stage"],
                      form=form["form"], filename=upload.filename, spool=spool,
                      expected_sha256=form.get("sha256"), uploader=None)  # accounts arrive with roles (issue 3)
