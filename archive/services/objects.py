"""What every stored object of the archive shares: the upload spool that hashes as it
writes, clean file names, keys made of ids only, the metadata that says what an object is from
the store alone, and retention. Below ingest, amendments, attachments and fixity."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from typing import Any

from archive.clock import SHANGHAI
from archive.digests import Digests
from archive.errors import TooLarge
from archive.models import Case, Document

MAX_FILENAME = 100  # characters; keeps the percent-encoded S3 metadata under 2 KB
METADATA_SCHEMA = "case-archive/1"


class HashingSpool:
    """A temporary file that hashes and counts what is written to it (the upload is streamed to
    disk by the multipart parser, never held whole in memory)."""

    def __init__(self, max_bytes: int | None = None, spool_bytes: int = 1024 * 1024) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=spool_bytes)
        self._digests = Digests()
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise TooLarge(f"file larger than {self.max_bytes} bytes")
        self._digests.update(data)
        return self._file.write(data)

    @property
    def sha256(self) -> str:
        return self._digests.sha256

    @property
    def sm3(self) -> str:
        return self._digests.sm3

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)

    @classmethod
    def from_stream(cls, stream: Any, max_bytes: int | None = None, chunk: int = 1024 * 1024) -> "HashingSpool":
        """Copy ``stream`` into a new spool (used by the CLI, the demo and tests)."""
        spool = cls(max_bytes)
        while True:
            block = stream.read(chunk)
            if not block:
                break
            spool.write(block)
        spool.seek(0)
        return spool


def clean_filename(name: str | None) -> str:
    """The name a person gave the file, without directories, control characters or excess length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not name:
        return "unnamed"
    if len(name) > MAX_FILENAME:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: MAX_FILENAME - len(ext)] + ext
    return name


@dataclass(frozen=True)
class IngestSettings:
    """What ingest needs from the configuration."""

    max_bytes: int
    retention_years: int  # summary procedure (简易程序): 30 years
    permanent_years: int = 100  # general procedure (普通程序): permanent, as a long retention
    retention_seconds: int = 0  # trials and tests (ARCHIVE_RETENTION_SECONDS): seconds instead of years

    @classmethod
    def from_config(cls, cfg: dict) -> "IngestSettings":
        return cls(max_bytes=int(cfg.get("MAX_UPLOAD_BYTES") or 0), retention_years=int(cfg.get("RETENTION_YEARS", 30)),
                   permanent_years=int(cfg.get("RETENTION_PERMANENT_YEARS", 100)),
                   retention_seconds=int(cfg.get("RETENTION_SECONDS") or 0))

    def years_for(self, procedure: str) -> int:
        """Penalty files of the general procedure are kept permanently, summary ones 30 years."""
        return self.retention_years if procedure == "summary" else self.permanent_years

    def until(self, start: dt.datetime, procedure: str | None = "general") -> dt.datetime:
        """The object-lock retention of a version stored for a case of ``procedure`` (None: a
        record kept permanently), counted from ``start``; with ``retention_seconds`` (trials,
        tests) that many seconds from now or ``start``, whichever is later."""
        if self.retention_seconds > 0:
            return max(start, dt.datetime.now(dt.timezone.utc)) + dt.timedelta(seconds=self.retention_seconds)
        return retain_until(start, self.years_for(procedure) if procedure else self.permanent_years)


def object_key(case_id: str, doc_id: str) -> str:
    """Object keys are made of ids only, never of user text."""
    return f"cases/{case_id}/documents/{doc_id}"


def object_metadata(case: Case, doc: Document, completed_at: dt.datetime | None) -> dict[str, str]:
    """Everything needed to know what an object is from the object store alone."""
    return {
        "schema": METADATA_SCHEMA, "doc-id": doc.id, "case-id": case.id,
        "case-number": case.number, "agency": case.agency_code, "kind": case.kind,
        "procedure": case.procedure, "power": case.power_code, "party-name": case.party_name,
        "party-id": case.party_id, "opened-on": case.opened_on.isoformat(), "stage": doc.stage,
        "form": doc.form_code, "filename": doc.filename, "media-type": doc.media_type,
        "size": str(doc.size), "sha256": doc.sha256, **({"sm3": doc.sm3} if doc.sm3 else {}),
        "completed-at": completed_at.astimezone(SHANGHAI).isoformat() if completed_at else "",
        "uploaded-at": doc.uploaded_at.astimezone(SHANGHAI).isoformat(), "uploader": doc.uploader or "",
    }


def retain_until(uploaded_at: dt.datetime, years: int) -> dt.datetime:
    """Retention end: ``years`` after upload (29 Feb falls back to 28 Feb)."""
    try:
        return uploaded_at.replace(year=uploaded_at.year + years)
    except ValueError:
        return uploaded_at.replace(year=uploaded_at.year + years, day=28)


def receipt_key(case_id: str, doc_id: str, version_id: str) -> str:
    """Where the SHA-256 and size of a streamed version are kept (its metadata was sent before
    its last byte arrived)."""
    return f"cases/{case_id}/receipts/{doc_id}/{version_id}"
