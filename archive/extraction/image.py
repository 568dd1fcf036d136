"""Images (photographs, scans) have no text to extract: OCR reads them (``archive.ocr``)."""
from __future__ import annotations

from archive.extraction.base import ExtractLimits, ExtractionResult, register
from archive.storage.base import ByteStream


IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff", "image/bmp", "image/webp", "image/gif")


class ImageExtractor:
    """Marks an image as text only OCR can read; the index worker queues it for OCR."""

    media_types = IMAGE_TYPES

    def extract(self, stream: ByteStream, limits: ExtractLimits) -> ExtractionResult:
        return ExtractionResult("not_extracted", reason="image: its text is read by OCR")


register(ImageExtractor())
