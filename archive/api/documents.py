"""Document metadata and content (streamed, ETag, Range). No route changes or deletes one."""
from __future__ import annotations

import hashlib
import tempfile
from typing import Iterator
from urllib.parse import quote

from flask import Response, request
from sqlalchemy import select
from flask.views import MethodView
from flask_smorest import Blueprint

from archive.edge.errors import error_response
from archive.services.schemas import DocumentSchema
from archive.edge.auth import audit_event, caller
from archive.services.documents import scoped_document
from archive.errors import Disposed, NotFound, StoredFileDamaged, StoredFileMissing, ValidationFailed
from archive.extension import db, get_archive
from archive.models import Document
from archive.clock import now as server_now
from archive.storage.base import ObjectNotFound, StorageError

blp = Blueprint("documents", __name__, url_prefix="/api/documents", description="文书与证据 Documents")


@blp.route("/<doc_id>")
class DocumentItem(MethodView):
    @blp.response(200, DocumentSchema)
    def get(self, doc_id):
        """Metadata of one document."""
        from archive.services import examinations, renditions

        doc = scoped_document(caller(), doc_id)
        audit_event("document.view", "document", doc_id)
        doc.rendition = renditions.view(db(), doc)  # type: ignore[attr-defined]
        exam = examinations.current_view(db(), doc)
        doc.examination, doc.format, doc.signatures = exam, exam["format"], exam["signatures"]  # type: ignore[attr-defined]
        return doc


@blp.route("/<doc_id>/rendition")
class DocumentRendition(MethodView):
    @blp.response(200, description="application/pdf: the PDF/A rendition of the current version")
    def get(self, doc_id):
        """The PDF/A-2b rendition of an editable document's current version, verified against its
        SHA-256 while it streams; 404 while it is pending or when it failed (see the document's
        ``rendition``)."""
        from archive.services import renditions

        doc = scoped_document(caller(), doc_id)
        _version(doc, None)  # 410 once destroyed
        r = renditions.stored(db(), doc)
        if request.if_none_match.contains(r.sha256):
            return Response(status=304, headers={"ETag": f'"{r.sha256}"'})
        audit_event("document.rendition", "document", doc_id, version=r.source_version_id)
        headers = {"ETag": f'"{r.sha256}"', "Content-Length": str(r.size), "X-Content-Type-Options": "nosniff",
                   "Content-Disposition": f"inline; filename*=UTF-8''{quote(doc.filename)}.pdf",
                   "Cache-Control": "private, no-store"}
        return Response(verified_read(doc.id, r, 0, r.size or 0), headers=headers, mimetype="application/pdf",
                        direct_passthrough=True)


@blp.route("/<doc_id>/content")
class DocumentContent(MethodView):
    @blp.response(200, description="the stored bytes (206 for a Range request)")
    def get(self, doc_id):
        """The stored bytes, streamed; ETag is the SHA-256; single byte ranges supported.
        ``?version=N`` reads an earlier version (see ``/versions``)."""
        doc = scoped_document(caller(), doc_id)
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
        headers["Content-Length"] = str(length)
        chunks = verified_read(doc.id, src, offset, length)
        return Response(chunks, status=status, headers=headers, mimetype=src.media_type,
                        direct_passthrough=True)


def verified_read(doc_id: str, src, offset: int, length: int) -> Iterator[bytes]:
    """The bytes of a version, never served as genuine when they are not.

    A version a fixity check found damaged or missing is refused (409 / 410 with the finding).
    Up to VERIFY_BEFORE_SEND_BYTES, the whole version is read and hashed before the first byte
    is sent; a larger one is hashed while it streams, and its last chunk is held back until the
    hash matches, so a mismatch aborts the response (the client never receives a complete
    200). Either way a mismatch or a missing object is recorded as a fixity finding.
    (A byte range of a large version is served without verification: only its part is read.)"""
    from archive.services.fixity import latest_finding, record_finding

    from archive.services.disposal import disposed_document

    archive = get_archive()
    if disposed_document(db(), doc_id):
        raise Disposed("该文件已按保管期限鉴定销毁，见销毁清册 / destroyed at the end of its retention period",
                       {"document": ["已销毁"]})
    finding = latest_finding(db(), src.object_key, src.version_id)
    if finding is not None:
        if finding.result == "missing":
            raise StoredFileMissing("存档文件缺失 / the stored file is missing (fixity check)",
                                    {"fixity": [f"{finding.checked_at.isoformat()}: {finding.detail}"]})
        raise StoredFileDamaged("存档文件已损坏，不作为原件提供 / the stored file is damaged and is not served as genuine",
                                {"fixity": [f"{finding.checked_at.isoformat()}: {finding.detail}"]})

    def found(result: str, detail: str) -> None:
        record_finding(archive.sessions, doc_id, src.object_key, src.version_id, result, detail, server_now())

    whole = offset == 0 and length == src.size
    small = src.size <= archive.config["VERIFY_BEFORE_SEND_BYTES"]
    try:
        stream = archive.store.open(src.object_key, src.version_id,
                                    offset=0 if small else offset, length=None if small else length)
    except ObjectNotFound:
        found("missing", "the version is not in the store (found while reading)")
        raise StoredFileMissing("存档文件缺失 / the stored file is missing from object storage",
                                {"fixity": ["the object version is not in the store"]}) from None
    except StorageError as exc:
        archive.store.ping()  # the store itself down says nothing about the object (503)
        found("damaged", f"the store answers but cannot read this version: {exc}")
        raise StoredFileDamaged("存档文件已损坏，无法读取 / the stored file is damaged and cannot be read back",
                                {"fixity": [str(exc)[:200]]}) from None
    if small:
        spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        digest = hashlib.sha256()
        try:
            for chunk in stream:
                digest.update(chunk)
                spool.write(chunk)
        except StorageError as exc:
            spool.close()
            archive.store.ping()  # the store down says nothing about the object (503)
            found("damaged", f"the store answers but cannot read this version: {exc}")
            raise StoredFileDamaged("存档文件已损坏，无法读取 / the stored file is damaged and cannot be read back",
                                    {"fixity": [str(exc)[:200]]}) from None
        if digest.hexdigest() != src.sha256:
            spool.close()
            found("damaged", f"served bytes hash to {digest.hexdigest()}, the catalog says {src.sha256}")
            raise StoredFileDamaged("存档文件已损坏，不作为原件提供 / the stored file is damaged and is not served as genuine",
                                    {"fixity": ["the stored bytes do not match the recorded SHA-256"]})
        spool.seek(offset)
        return _read_spool(spool, length)
    if not whole:
        return stream
    return _hash_while_streaming(stream, src.sha256, found)


def _read_spool(spool, length: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    try:
        left = length
        while left > 0:
            block = spool.read(min(chunk, left))
            if not block:
                break
            left -= len(block)
            yield block
    finally:
        spool.close()


class DamagedWhileStreaming(Exception):
    """Raised inside a response body: the server drops the connection before the last bytes."""


def _hash_while_streaming(stream: Iterator[bytes], sha256: str, found) -> Iterator[bytes]:
    digest = hashlib.sha256()
    held: bytes | None = None
    try:
        for chunk in stream:
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
    except StorageError as exc:
        found("damaged", f"the store failed while this version streamed: {exc}")
        raise DamagedWhileStreaming(f"stored bytes could not be read: {exc}") from None
    if digest.hexdigest() != sha256:
        found("damaged", f"streamed bytes hash to {digest.hexdigest()}, the catalog says {sha256}")
        raise DamagedWhileStreaming(f"stored bytes do not match SHA-256 {sha256}: response aborted")
    if held is not None:
        yield held


def stored_file_response(a, target_type: str):
    """A write-once attachment (a complaint's, a task's) as a download, checked against its
    SHA-256 while it streams: a mismatch aborts the response and is recorded as a fixity finding."""
    from urllib.parse import quote

    from flask import Response

    from archive import audit

    sessions = get_archive().sessions

    def found(result: str, detail: str) -> None:
        audit.record(sessions, "fixity.mismatch", target_type=target_type, target_id=str(a.id),
                     detail={"result": result, "detail": detail})

    stream = get_archive().store.open(a.object_key, a.version_id)
    return Response(_hash_while_streaming(stream, a.sha256, found), mimetype=a.media_type, direct_passthrough=True,
                    headers={"Content-Length": str(a.size), "ETag": f'"{a.sha256}"', "Cache-Control": "private, no-store",
                             "Content-Disposition": f"attachment; filename*=UTF-8''{quote(a.filename)}"})


def _version(doc: Document, wanted: str | None):
    """The document itself, or the earlier version ``wanted`` (404 if there is none; 410 when
    the document was destroyed at the end of its retention period)."""
    if doc.disposed_at is not None:
        raise Disposed("该文件已按保管期限鉴定销毁，见销毁清册 / destroyed at the end of its retention period",
                       {"document": ["已销毁"]})
    if wanted is None or wanted == str(doc.version_no):
        return doc
    from archive.models import DocumentVersion

    if not (wanted.isascii() and wanted.isdecimal() and len(wanted) <= 9):  # '²'.isdigit() is True
        raise ValidationFailed("version is a version number", {"version": ["a whole number, 1 or more"]})
    v = db().scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc.id,
                                                  DocumentVersion.version_no == int(wanted)))
    if v is None:
        raise NotFound("no such version")
    return v


def _unsatisfiable(size: int):
    body, status = error_response(416, "range not satisfiable")
    body.headers["Content-Range"] = f"bytes */{size}"
    return body, status
