"""The archive's state on a Flask app (``app.extensions["archive"]``) and its construction."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.db import make_engine, make_sessionmaker, upgrade
from archive.extraction.base import ExtractLimits
from archive.indexing.base import SearchEngine
from archive.indexing.engines import make_index
from archive.services.ingest import IngestSettings
from archive.storage.s3 import S3ObjectStore

if TYPE_CHECKING:
    from archive.ocr.runner import OcrRunner


@dataclass
class Archive:
    """Collaborators shared by requests, the worker and the CLI."""

    config: dict[str, Any]
    engine: Engine
    sessions: sessionmaker[Session]
    store: S3ObjectStore
    index: SearchEngine
    _ocr_runner: OcrRunner | None = field(default=None, repr=False)

    @property
    def ingest_settings(self) -> IngestSettings:
        return IngestSettings.from_config(self.config)

    @property
    def extract_limits(self) -> ExtractLimits:
        return ExtractLimits(max_unzipped_bytes=self.config["EXTRACT_MAX_UNZIPPED_BYTES"],
                             max_ratio=self.config["EXTRACT_MAX_RATIO"],
                             max_text_chars=self.config["EXTRACT_MAX_TEXT_CHARS"],
                             ocr=self.config["OCR_ENGINE"] != "off")

    @property
    def ocr_runner(self) -> OcrRunner:
        """The OCR process of this archive (started at its first document); ``close()`` stops it."""
        if self._ocr_runner is None:
            from archive.ocr.pages import OcrLimits
            from archive.ocr.runner import OcrRunner

            limits = OcrLimits(max_pages=self.config["OCR_MAX_PAGES"], page_seconds=self.config["OCR_PAGE_SECONDS"],
                               max_pixels=self.config["OCR_MAX_PIXELS"], dpi=self.config["OCR_DPI"],
                               max_text_chars=self.config["EXTRACT_MAX_TEXT_CHARS"])
            self._ocr_runner = OcrRunner(self.config["OCR_ENGINE"], self.config["OCR_THREADS"], limits)
        return self._ocr_runner

    def prepare(self) -> None:
        """Migrate the database and create the bucket (versioning + object lock). Idempotent."""
        upgrade(self.engine)
        from archive.audit import ensure_digest

        with self.sessions() as session:
            ensure_digest(session, self.config.get("AUDIT_DIGEST", "sha256"))
        self.store.ensure_bucket()


def build_archive(config: dict[str, Any]) -> Archive:
    """Construct the collaborators from configuration; touches no server yet."""
    engine = make_engine(config["DATABASE_URL"])
    endpoint = config["S3_ENDPOINT"] or f"127.0.0.1:{config['S3_PORT']}"
    store = S3ObjectStore(endpoint, config["S3_ACCESS_KEY"], config["S3_SECRET_KEY"],
                          config["S3_BUCKET"], secure=config["S3_SECURE"],
                          retention_mode=config["RETENTION_MODE"], part_size=config["PART_SIZE"],
                          stream_puts=config["S3_STREAM_PUTS"], read_timeout=config["S3_READ_TIMEOUT"])
    return Archive(config=config, engine=engine, sessions=make_sessionmaker(engine), store=store,
                   index=make_index(config["SEARCH_ENGINE"], config["INDEX_DIR"]))


def init_app(app: Flask, archive: Archive) -> None:
    """Register the archive on ``app`` and close request sessions at teardown."""
    app.extensions["archive"] = archive

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        from flask import g

        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_archive() -> Archive:
    """The archive of the current app."""
    return current_app.extensions["archive"]


def db() -> Session:
    """The request's database session (closed at teardown)."""
    from flask import g

    if "db_session" not in g:
        g.db_session = get_archive().sessions()
    return g.db_session
