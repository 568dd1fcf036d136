"""Text extraction: one extractor per media type (PDF, DOCX, images, plain text), picked by
``extract``; unknown types are kept as opaque evidence."""
from __future__ import annotations

from dataclasses import replace

from archive.extraction import docx, image, ofd, pdf, text  # noqa: F401  (they register themselves)
from archive.extraction.base import (
    _REGISTRY, ExtractLimits, ExtractionResult, TextExtractor, truncated,
)
from archive.extraction.detect import detect_media_type
from archive.extraction.normalise import normalise
from archive.storage.base import ByteStream

__all__ = ["ExtractionResult", "ExtractLimits", "TextExtractor", "extract", "extractor_for", "detect_media_type",
           "normalise"]


def extractor_for(media_type: str) -> TextExtractor | None:
    """The extractor registered for ``media_type``, or None for opaque evidence."""
    return _REGISTRY.get(media_type)


def extract(stream: ByteStream, media_type: str, limits: ExtractLimits | None = None) -> ExtractionResult:
    """Extract with the registered extractor; unknown types are kept as opaque evidence."""
    extractor = extractor_for(media_type)
    if extractor is None:
        return ExtractionResult("not_extracted", reason=f"{media_type}: kept as evidence, no text extractor")
    try:
        result = extractor.extract(stream, limits or ExtractLimits())
    except Exception as exc:  # the contract says extractors don't raise; this guards the worker
        return ExtractionResult("failed", reason=f"{type(exc).__name__}: {str(exc)[:200]}")
    limit = (limits or ExtractLimits()).max_text_chars
    if len(result.text) > limit or result.status == "truncated":
        result = replace(truncated(result.text, limit, result.pages), blank_pages=result.blank_pages)
    if "\x00" in result.text:
        # NUL is never text (some PDF encodings yield it between characters) and PostgreSQL
        # cannot store it.
        result = replace(result, text=result.text.replace("\x00", ""))
    return result
