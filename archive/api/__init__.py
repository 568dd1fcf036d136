"""The HTTP API (flask-smorest): thin handlers that load, call one service, dump."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from archive.api.errors import register_error_handlers

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
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", _MESSAGES.get(code) or error.description or error.name)
        return payload, code, headers


def init_api(app: Flask) -> Api:
    """Register the blueprints and the error table on ``app``."""
    from archive.api import amendments, audit, cases, complaints, fixity, documents, meta, sampling, search, warnings

    api = ArchiveApi(app)
    for module in (cases, documents, search, meta, audit, warnings):
        api.register_blueprint(module.blp)
    for bp in (sampling.blp, sampling.reviews_blp, sampling.bundle_blp, amendments.blp, complaints.blp, fixity.blp):
        api.register_blueprint(bp)
    register_error_handlers(app)
    return api
