"""Domain errors. They carry no HTTP codes: ``archive.edge.errors`` maps them to responses."""
from __future__ import annotations


class ArchiveError(Exception):
    """Base of domain errors; ``errors`` maps fields to messages."""

    def __init__(self, message: str, errors: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(ArchiveError):
    """Input that is well-formed but not acceptable (unknown stage, empty file, …)."""


class NotFound(ArchiveError):
    """No such case, document or organisation (or not visible to the caller)."""

    audit: tuple[str | None, str | None, str] | None = None  # what the audit trail records


class Conflict(ArchiveError):
    """The record exists already and records are write-once."""


class DuplicateFile(Conflict):
    """The file is stored in the case already (same SHA-256); ``duplicate_of`` names it."""

    def __init__(self, message: str, errors: dict | None = None, duplicate_of: dict | None = None) -> None:
        super().__init__(message, errors)
        self.duplicate_of = duplicate_of or {}


class Forbidden(ArchiveError):
    """The caller may see the record but not do this to it."""


class ChecksumMismatch(ValidationFailed):
    """The client's SHA-256 differs from the bytes received."""


class TooLarge(ArchiveError):
    """The upload exceeds the configured limit."""


class BadQuery(ArchiveError):
    """A search query that cannot be parsed."""


class StoredFileDamaged(ArchiveError):
    """The stored bytes of a document no longer match its recorded SHA-256 (a fixity finding)."""


class StoredFileMissing(ArchiveError):
    """The object version a document names is gone from the store (a fixity finding)."""


class Disposed(ArchiveError):
    """The document was destroyed (销毁) at the end of its retention period: its bytes are gone
    on purpose; the 销毁清册 keeps its SHA-256 and size."""


# Field messages the pages show beside a field: "中文 / English", the Chinese half for a clerk
# (``web.layout.zh``), the whole for an API client.
REQUIRED = "必填 / required"
MISSING_FILENAME = "请选择文件 / missing filename"
BEFORE_START = "不能早于开始日期 / before the start"
SUSPENSION_OPEN = "还有未结束的中止，请先结束它 / a suspension is still open: end it first"
NOT_PARTY_ID = "不是有效的统一社会信用代码或身份证号码 / not a unified social credit code or ID number"
