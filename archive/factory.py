"""The app factory: ``create_app(config=None)``; nothing is built at import time."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, Request

from archive.config import load_config
from archive.extension import Archive, build_archive, init_app
from archive.services.ingest import HashingSpool


class ArchiveRequest(Request):
    """Uploaded files are spooled to disk and hashed while they arrive."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        from flask import current_app

        return HashingSpool(max_bytes=current_app.config["MAX_UPLOAD_BYTES"])


def create_app(config: Mapping[str, Any] | None = None, archive: Archive | None = None) -> Flask:
    """Build the web app: configuration from defaults, environment, then ``config``."""
    cfg = load_config(config)
    app = Flask(__name__)
    app.request_class = ArchiveRequest
    app.config.update(cfg)
    app.config.update(
        # The multipart envelope around a file at the limit is allowed a little room.
        MAX_CONTENT_LENGTH=cfg["MAX_UPLOAD_BYTES"] + 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        JSON_AS_ASCII=False,
        API_TITLE="行政执法案卷归档 Case-file archive",
        API_VERSION="0.1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable
    init_app(app, archive or build_archive(cfg))
    from archive.api import init_api

    init_api(app)
    return app
