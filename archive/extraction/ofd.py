"""OFD text (GB/T 33190) with ofdkit, every page in reading order; bounded like DOCX: the
package is refused when it would unpack too far or too steeply (zip limits), and the text is cut
at the cap."""
from __future__ import annotations

import io

from archive.extraction.base import ExtractLimits, ExtractionResult, register
from archive.extraction.docx import check_zip
from archive.storage.base import ByteStream

OFD = "application/ofd"


class OfdExtractor:
    """OFD files: text objects of every page (templates included), pages apart."""

    media_types = (OFD,)

    def extract(self, stream: ByteStream, limits: ExtractLimits) -> ExtractionResult:
        refusal = check_zip(stream, limits)
        if refusal is not None:
            return ExtractionResult("failed", reason=refusal)
        import ofdkit

        stream.seek(0)
        data = stream.read()
        try:
            with ofdkit.open(io.BytesIO(data)) as doc:
                text = doc.text("\n\n")
                count = len(doc.pages)
        except Exception as exc:  # ofdkit raises OFDError and lxml/zip errors for a broken package
            return ExtractionResult("failed", reason=f"OFD not readable: {type(exc).__name__}: {str(exc)[:200]}")
        if len(text) > limits.max_text_chars:
            return ExtractionResult("truncated", text=text[: limits.max_text_chars], pages=count)
        return ExtractionResult("extracted" if text.strip() else "no_text_layer", text=text, pages=count)


register(OfdExtractor())
