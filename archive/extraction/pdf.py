"""PDF text with pypdf; a PDF without a text layer is a scan, not a failure."""
from __future__ import annotations

import logging
from typing import IO, cast

from archive.storage.base import ByteStream

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from archive.extraction.base import ExtractLimits, ExtractionResult, register

logging.getLogger("pypdf").setLevel(logging.ERROR)


class PdfExtractor:
    """Text of every page, joined with form feeds."""

    media_types = ("application/pdf",)

    def extract(self, stream: ByteStream, limits: ExtractLimits) -> ExtractionResult:
        try:
            reader = PdfReader(cast(IO[bytes], stream))
            if reader.is_encrypted:
                # An empty user password is common ("encrypted" only against editing).
                try:
                    if not reader.decrypt(""):
                        return ExtractionResult("failed", reason="encrypted PDF: password required")
                except (FileNotDecryptedError, NotImplementedError) as exc:
                    return ExtractionResult("failed", reason=f"encrypted PDF: {exc}")
            pages = []
            total = 0
            for page in reader.pages:
                text = page.extract_text() or ""
                total += len(text)
                pages.append(text)
                if total > limits.max_text_chars:  # the rest is not read: cut (base.extract marks it)
                    return ExtractionResult("truncated", text="\f".join(pages), pages=len(reader.pages))
        except FileNotDecryptedError:
            return ExtractionResult("failed", reason="encrypted PDF: password required")
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
                RecursionError, OSError, AssertionError, ZeroDivisionError) as exc:
            return ExtractionResult("failed", reason=f"corrupt PDF: {type(exc).__name__}: {str(exc)[:160]}")
        text = "\f".join(pages)
        blank = sum(1 for p in pages if not p.strip())
        if not text.strip():
            return ExtractionResult("no_text_layer", pages=len(pages), blank_pages=blank,
                                    reason="PDF has no text layer (scanned)")
        return ExtractionResult("extracted", text=text, pages=len(pages), blank_pages=blank)


register(PdfExtractor())
