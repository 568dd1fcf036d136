"""Document metadata and content (streamed, ETag, Range). No route changes or deletes one."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from archive.api.errors import error_response
from archive.api.schemas import DocumentSchema
from archive.auth.web import audit_event, may_read, refuse
from archive.errors import NotFound
from archive.extension import db, get_archive
from archive.models import Document

blp = Blueprint("documents", __name__, url_prefix="/api/documents", description="文书与证据 Documents")


def scoped_document(doc_id: str) -> Document:
    """The document if its case is in the caller's scope; else 404 (refusal audited)."""
    doc = db().get(Document, doc_id)
    if doc is None:
        raise NotFound("no such document")
    if not may_read(doc.case.agency_code, doc.case_id):
        refuse("document", doc_id, visible=False, why="outside your scope")
    return doc


@blp.route("/<doc_id>")
class DocumentItem(MethodView):
    @blp.response(200, DocumentSchema)
    def get(self, doc_id):
        """Metadata of one document."""
        doc = scoped_document(doc_id)
        audit_event("document.view", "document", doc_id)
        return doc


@blp.route("/<doc_id>/content")
class DocumentContent(MethodView):
    @blp.response(200, description="the stored bytes (206 for a Range request)")
    def get(self, doc_id):
        """The stored bytes, streamed; ETag is the SHA-256; single byte ranges supported.
        ``?version=N`` reads an earlier version (see ``/versions``)."""
        doc = scoped_document(doc_id)
        src = _version(doc, request.args.get("version"))
        etag = src.sha256
        if request.if_none_match.contains(etag):
            return Response(status=304, headers={"ETag": f'"{etag}"'})
        headers = {
            "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(src.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        offset, length, status = 0, src.size, 200
        rng = request.range
        if rng is not None and (not request.if_range.etag or request.if_range.etag == etag):
            bounds = rng.range_for_length(src.size)
            if bounds is None or len(rng.ranges) != 1:
                return _unsatisfiable(src.size)
            start, stop = bounds
            offset, length, status = start, stop - start, 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{src.size}"
        audit_event("document.download", "document", doc_id, range=request.headers.get("Range"),
                    version=request.args.get("version"))
        chunks = get_archive().store.open(src.object_key, src.version_id, offset=offset, length=length)
        headers["Content-Length"] = str(length)
        return Response(chunks, status=status, headers=headers, mimetype=src.media_type,
                        direct_passthrough=True)


def _version(doc: Document, wanted: str | None):
    """The document itself, or the earlier version ``wanted`` (404 if there is none)."""
    if wanted is None or wanted == str(doc.version_no):
        return doc
    from sqlalchemy import select

    from archive.models import DocumentVersion

    v = db().scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc.id,
                                                  DocumentVersion.version_no == int(wanted))) \
        if wanted.isdigit() else None
    if v is None:
        raise NotFound("no such version")
    return v


def _unsatisfiable(size: int):
    body, status = error_response(416, "range not satisfiable")
    body.headers["Content-Range"] = f"bytes */{size}"
    return body, status
