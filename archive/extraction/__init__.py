"""Text extraction: a registry of extractors by media type, and media-type detection from bytes."""
from archive.extraction.base import ExtractionResult, TextExtractor, extract, extractor_for
from archive.extraction.detect import detect_media_type
from archive.extraction.normalise import normalise

__all__ = ["ExtractionResult", "TextExtractor", "detect_media_type", "extract", "extractor_for",
           "normalise"]
