"""One table from domain errors to responses: the API's one JSON shape {code, status, message, errors},
the browser's friendly Chinese pages."""
from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from archive.errors import (
    ArchiveError, BadQuery, ChecksumMismatch, Conflict, DuplicateFile, Forbidden, NotFound, StoredFileDamaged, StoredFileMissing, Disposed,
    TooLarge, ValidationFailed,
)
from archive.edge.auth import audit_event, audit_not_found
from archive.storage.base import StorageError, StorageUnavailable

log = logging.getLogger(__name__)

TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到这个页面", 405: "不允许的操作",
          409: "操作冲突", 410: "文件已缺失", 413: "文件太大", 416: "范围无效", 422: "填写有误", 429: "操作过于频繁",
          500: "服务器出错了", 502: "存储服务出错", 503: "服务暂不可用"}
HINTS = {403: "您的角色不能进行这项操作。如需办理，请联系有权限的人员。",
         404: "您要找的案件、文书或页面不存在，或不在您的查看范围内。",
         405: "已归档的记录不可修改或删除；更正请通过更正申请。",
         500: "服务器处理时出错，已记录。请稍后再试；问题持续时请联系管理员。",
         503: "对象存储或数据库暂时不可用，没有保存任何内容。请稍后再试。"}


def error_page(status: int, message: str = ""):
    """(html, status) of the Chinese page for ``status``."""
    detail = message.split(" / ")[0] if message else ""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in detail):
        detail = ""  # an English-only message says nothing to a clerk: the hint does
    return render_template("error.html", status=status, title=TITLES.get(status, "出错了"),
                           hint=HINTS.get(status, ""), detail=detail), status


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
    (Disposed, 410),
    (StorageUnavailable, 503),
]


def wants_page() -> bool:
    """A browser page (not the API): errors are shown as a Chinese page, not JSON."""
    from flask import has_request_context

    return has_request_context() and not request.path.startswith("/api/")


def error_response(status: int, message: str, errors: dict | None = None, extra: dict | None = None):
    if wants_page():
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
            audit_not_found(exc)
        extra = {"duplicate_of": exc.duplicate_of} if isinstance(exc, DuplicateFile) else None
        return error_response(status, exc.message, exc.errors, extra)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        audit_event("access.refused", method=request.method, path=request.path,
                    reason="CSRF token missing or wrong")
        if request.path.startswith("/api/"):
            return jsonify({"code": 400, "status": "Bad Request",
                            "message": "CSRF 校验失败 / CSRF token missing or wrong"}), 400
        return error_page(400, "页面已过期或请求无效，请返回上一页刷新后重试。")

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
