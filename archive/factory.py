"""The app factory: ``create_app(config=None)``; nothing is built at import time."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from flask import Flask, Request
from werkzeug.routing import IntegerConverter

from archive.services.schemas import MAX_ID

from archive.config import check_production, load_config, secret_key
from archive.extension import Archive, build_archive, init_app
from archive.services.ingest import HashingSpool


class ArchiveRequest(Request):
    """Uploaded files are spooled to disk and hashed while they arrive."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        from flask import current_app

        return HashingSpool(max_bytes=current_app.config["MAX_UPLOAD_BYTES"])


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes: digits only (no sign), at most 2³¹−1, so an id never overflows the
    database; anything else is simply not that route (404)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: Mapping[str, Any] | None = None, archive: Archive | None = None) -> Flask:
    """Build the web app: configuration from defaults, environment, then ``config``.

    In production mode (ARCHIVE_ENV=production) it refuses default secrets.
    """
    cfg = load_config(config)
    check_production(cfg)
    app = Flask(__name__, static_folder=None)
    app.request_class = ArchiveRequest
    # "/api/cases//stages" must not become "/api/cases/stages" (a 405 on another route): 404.
    app.url_map.merge_slashes = False
    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.update(cfg)
    production = cfg["ENV"] == "production"
    app.config.update(
        SECRET_KEY=secret_key(cfg),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        SESSION_COOKIE_NAME="archive_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=cfg["SESSION_HOURS"]),
        # The multipart envelope around a file at the limit is allowed a little room.
        MAX_CONTENT_LENGTH=cfg["MAX_UPLOAD_BYTES"] + 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        API_TITLE="行政执法案卷归档 Case-file archive",
        API_VERSION="0.1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "archive_session"}}},
            "security": [{"bearer": []}, {"session": []}]},
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable
    if archive is None:  # a web process of its own (gunicorn): it reads the index, never writes it
        archive = build_archive(cfg)
        archive.index.read_only = True
    init_app(app, archive)
    from archive.api import init_api
    from archive.edge.auth import init_auth
    from archive.web.blueprint import bp as web_bp

    if cfg["PROXY_COUNT"] > 0:
        # Behind N trusted reverse proxies the client's address is the Nth from the right of
        # X-Forwarded-For (the login throttle keys on it); with 0 the header is ignored.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = cfg["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
    init_auth(app)
    init_api(app)
    app.register_blueprint(web_bp)
    return app
