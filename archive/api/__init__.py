"""The HTTP API (flask-smorest): thin handlers that load, call one service, dump."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from archive.api.errors import register_error_handlers


def init_api(app: Flask) -> Api:
    """Register the blueprints and the error table on ``app``."""
    from archive.api import cases, documents, meta, search

    api = Api(app)
    for module in (cases, documents, search, meta):
        api.register_blueprint(module.blp)
    register_error_handlers(app)
    return api
