"""One table from domain errors to responses, all in one JSON shape {code, status, message, errors}."""
from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify

from archive.errors import (
    ArchiveError, BadQuery, ChecksumMismatch, Conflict, DuplicateFile, Forbidden, NotFound, StoredFileDamaged, StoredFileMissing,
    TooLarge, ValidationFailed,
)
from archive.storage.base import StorageError, StorageUnavailable

log = logging.getLogger(__name__)

STATUS_OF: list[tuple[type[Exception], int]] = [
    (ChecksumMismatch, 422),
    (ValidationFailed, 422),
    (BadQuery, 400),
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (TooLarge, 413),
    (StoredFileDamaged, 409),
    (StoredFileMissing, 410),
    (StorageUnavailable, 503),
]


def wants_page() -> bool:
    """A browser page (not the API): errors are shown as a Chinese page, not JSON."""
    from flask import has_request_context, request

    return has_request_context() and not request.path.startswith("/api/")


def error_response(status: int, message: str, errors: dict | None = None, extra: dict | None = None):
    if wants_page():
        from archive.web.errors import error_page

        return error_page(status, message)
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    """Map domain and storage errors; everything else is a 500 with no internals shown."""

    @app.errorhandler(ArchiveError)
    def _domain(exc: ArchiveError):
        status = next((s for cls, s in STATUS_OF if isinstance(exc, cls)), 400)
        if isinstance(exc, NotFound):
            from archive.auth.web import audit_not_found

            audit_not_found(exc)
        extra = {"duplicate_of": exc.duplicate_of} if isinstance(exc, DuplicateFile) else None
        return error_response(status, exc.message, exc.errors, extra)

    @app.errorhandler(500)
    def _internal(exc):
        log.exception("unhandled error", exc_info=getattr(exc, "original_exception", exc))
        return error_response(500, "服务器内部错误 / internal server error")

    from sqlalchemy.exc import DataError

    @app.errorhandler(DataError)
    def _data(exc: DataError):
        # a value the database refuses (out of range, not text): the request's fault, and the
        # transaction is rolled back with the request's session
        log.warning("the database refused a value: %s", exc.orig)
        from archive.extension import db

        db().rollback()
        return error_response(400, "请求中有数据库无法保存的值 / a value the database cannot store")

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError):
        return error_response(400, "请求内容嵌套过深 / the request body is nested too deeply")

    @app.errorhandler(StorageUnavailable)
    def _storage_down(exc: StorageUnavailable):
        log.error("object store unavailable: %s", exc)
        return error_response(503, "对象存储暂不可用，未保存任何内容 / object storage unavailable; nothing was stored")

    from archive.casefile.fonts import FontMissing

    @app.errorhandler(FontMissing)
    def _no_font(exc: FontMissing):
        # the machine lacks what the PDF or chart needs: the service, not the request, is at fault
        log.error("no Chinese font: %s", exc)
        return error_response(503, "服务器未安装中文字体，暂时无法生成 PDF 或图表；请管理员安装 fonts-noto-cjk"
                                   "（或设置 ARCHIVE_CJK_FONT）/ no Chinese font installed",
                              {"font": str(exc)})

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError):
        log.error("object store error: %s", exc)
        return error_response(502, "object storage refused the request; nothing was stored")
