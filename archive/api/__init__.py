"""The HTTP API (flask-smorest): thin handlers that load, call one service, dump."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from archive.edge.errors import error_page, register_error_handlers, wants_page

_MESSAGES = {
    422: "请求参数有误 / invalid or missing fields",
    401: "请先登录 / authentication required",
    403: "无此操作权限 / forbidden",
    404: "未找到 / not found",
    405: "不允许的操作：已归档的记录不可修改或删除 / method not allowed: archived records are write-once",
}


class ArchiveApi(Api):
    """flask-smorest's Api whose HTTP errors always carry a ``message`` (one error shape)."""

    def handle_http_exception(self, error):
        if wants_page():  # a page the browser asked for: the Chinese error page
            return error_page(error.code or 500, error.description or "")
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", _MESSAGES.get(code) or error.description or error.name)
        if isinstance(payload.get("errors"), dict):
            payload["errors"] = flatten_locations(payload["errors"])
        return payload, code, headers


LOCATIONS = frozenset({"json", "query", "form", "files", "headers", "cookies", "path", "view_args"})


def flatten_locations(errors: dict) -> dict:
    """webargs nests field errors under their location (``{"form": {"form": [...]}}``); the
    archive's one error shape names the field directly (``{"form": [...]}``), as domain errors do."""
    if not errors or not set(errors) <= LOCATIONS:
        return errors
    flat: dict = {}
    for inner in errors.values():
        if isinstance(inner, dict):
            for field, messages in inner.items():
                flat.setdefault(field, [])
                flat[field] = flat[field] + (messages if isinstance(messages, list) else [messages])
    return flat


def init_api(app: Flask) -> Api:
    """Register the blueprints and the error table on ``app``."""
    from archive.api import (amendments, appraisal, archival, notices, audit, basicinfo, cases, complaints, corrections, filings, fixity, documents,
                             meta, sampling, search, stats, tasks, users, warnings)

    api = ArchiveApi(app)
    for module in (cases, documents, search, meta, audit, warnings, stats, basicinfo, tasks, filings, corrections,
                   users, archival, appraisal):
        api.register_blueprint(module.blp)
    for bp in (archival.documents_blp, sampling.blp, sampling.reviews_blp, sampling.bundle_blp, amendments.blp, complaints.blp, fixity.blp,
               stats.reports_blp, notices.blp, notices.briefings_blp):
        api.register_blueprint(bp)
    register_error_handlers(app)
    return api
