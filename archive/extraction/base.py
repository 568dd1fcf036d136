"""The ``TextExtractor`` port and the registry the extractors add themselves to."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archive.storage.base import ByteStream


@dataclass(frozen=True)
class ExtractionResult:
    """What extraction made of a file.

    ``status``: ``extracted`` (text found), ``no_text_layer`` (a scan: nothing to read without
    OCR), ``not_extracted`` (a type kept as opaque evidence), ``truncated`` (text beyond the limit
    cut off), ``failed`` (encrypted, corrupt or hostile; ``reason`` says which). A failure never affects the stored document.
    """

    status: str
    text: str = ""
    reason: str | None = None
    pages: int | None = None
    blank_pages: int = 0  # PDF pages without a text layer (scanned pages, which OCR reads)


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds that keep hostile files from exhausting the worker."""

    max_unzipped_bytes: int = 200 * 1024**2
    max_ratio: int = 200
    max_text_chars: int = 1024**2  # characters of text kept per document (ARCHIVE_EXTRACT_MAX_TEXT_CHARS)
    ocr: bool = False  # documents without text are queued for OCR (ARCHIVE_OCR_ENGINE is not off)


class TextExtractor(Protocol):
    """Reads the text of one kind of file. MUST NOT raise: failures are results."""

    @property
    def media_types(self) -> tuple[str, ...]:
        """The media types this extractor reads."""

    def extract(self, stream: ByteStream, limits: ExtractLimits) -> ExtractionResult:
        """Extract the text of ``stream`` (seekable, positioned at 0)."""


_REGISTRY: dict[str, TextExtractor] = {}


def register(extractor: TextExtractor) -> TextExtractor:
    """Make ``extractor`` the one used for each of its media types."""
    for mt in extractor.media_types:
        _REGISTRY[mt] = extractor
    return extractor


def truncated(text: str, limit: int, pages: int | None = None) -> ExtractionResult:
    """The first ``limit`` characters, marked: one huge text must not stall the index or make
    every search that finds it slow. The document itself is stored whole."""
    return ExtractionResult("truncated", text=text[:limit], pages=pages,
                            reason=f"text cut at {limit} characters (the stored document is whole)")
