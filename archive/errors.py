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
