"""Plain text in UTF-8 or GB18030/GBK, detected."""
from __future__ import annotations


from archive.storage.base import ByteStream

from charset_normalizer import from_bytes

from archive.extraction.base import ExtractLimits, ExtractionResult, register


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 first (BOM allowed), then GB18030, then charset detection."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    best = from_bytes(data).best()
    if best is None:
        return data.decode("utf-8", errors="replace"), "utf-8 (lossy)"
    return str(best), best.encoding


class PlainTextExtractor:
    """Text files: the whole file, decoded."""

    media_types = ("text/plain",)

    def extract(self, stream: ByteStream, limits: ExtractLimits) -> ExtractionResult:
        data = stream.read(limits.max_text_chars * 4 + 1)
        if len(data) > limits.max_text_chars * 4:  # only the beginning is read and kept
            text, _ = decode_text(data[: limits.max_text_chars * 4])
            return ExtractionResult("truncated", text=text[: limits.max_text_chars])
        text, _ = decode_text(data)
        return ExtractionResult("extracted", text=text)


register(PlainTextExtractor())
