"""DOCX text with python-docx: body paragraphs, tables, headers and footers; zip bombs refused."""
from __future__ import annotations

import zipfile
from typing import IO, Iterator, cast

from archive.storage.base import ByteStream

import docx
from docx.table import Table

from archive.extraction.base import ExtractLimits, ExtractionResult, register
from archive.extraction.detect import DOCX


def check_zip(stream: ByteStream, limits: ExtractLimits) -> str | None:
    """A reason to refuse the archive (zip bomb, corrupt), or None when it is safe to open."""
    try:
        with zipfile.ZipFile(stream) as zf:
            total = 0
            for info in zf.infolist():
                total += info.file_size
                if total > limits.max_unzipped_bytes:
                    return f"zip bomb: unpacks to more than {limits.max_unzipped_bytes} bytes"
                if info.compress_size and info.file_size > 1024**2 and \
                        info.file_size / info.compress_size > limits.max_ratio:
                    return f"zip bomb: {info.filename} is compressed {info.file_size // info.compress_size}:1"
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"corrupt DOCX: {exc}"
    finally:
        stream.seek(0)
    return None


def _table_text(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells = []
        for cell in row.cells:
            parts = [p.text for p in cell.paragraphs]
            for inner in cell.tables:
                parts.extend(_table_text(inner))
            cells.append("\n".join(p for p in parts if p))
        yield "\t".join(cells)


def _blocks(container) -> Iterator[str]:
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            yield from _table_text(block)
        else:
            yield block.text


# A body part larger than this is read by a streaming parser that stops at the text limit,
# instead of python-docx (which builds the whole XML tree: gigabytes for a huge text).
STREAM_ABOVE = 16 * 1024**2
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _body_size(stream: ByteStream) -> int:
    try:
        with zipfile.ZipFile(stream) as zf:
            return zf.getinfo("word/document.xml").file_size
    except (KeyError, zipfile.BadZipFile, OSError):
        return 0
    finally:
        stream.seek(0)


def _streamed_text(stream: ByteStream, limit: int) -> tuple[str, bool]:
    """Paragraph texts of word/document.xml in order, read with ``iterparse`` and discarded as
    it goes; stops past ``limit`` characters. Returns (text, cut)."""
    from lxml import etree

    parts: list[str] = []
    size = 0
    with zipfile.ZipFile(stream) as zf, zf.open("word/document.xml") as body:
        for _event, el in etree.iterparse(body, events=("end",), tag=(W + "p",), huge_tree=False,
                                          resolve_entities=False, no_network=True):
            text = "".join(t.text or "" for t in el.iter(W + "t", W + "tab"))
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
            if text:
                parts.append(text)
                size += len(text) + 1
                if size > limit:
                    return "\n".join(parts), True
    stream.seek(0)
    return "\n".join(parts), False


class DocxExtractor:
    """Word documents (OOXML)."""

    media_types = (DOCX,)

    def extract(self, stream: ByteStream, limits: ExtractLimits) -> ExtractionResult:
        refusal = check_zip(stream, limits)
        if refusal:
            return ExtractionResult("failed", reason=refusal)
        if _body_size(stream) > STREAM_ABOVE:
            try:
                text, cut = _streamed_text(stream, limits.max_text_chars)
            except Exception as exc:  # lxml and zipfile raise many types for a broken package
                return ExtractionResult("failed", reason=f"corrupt DOCX: {type(exc).__name__}: {str(exc)[:160]}")
            return ExtractionResult("truncated" if cut else "extracted", text=text)
        try:
            document = docx.Document(cast(IO[bytes], stream))
            parts: list[str] = []
            for section in document.sections:
                for hf in (section.header, section.first_page_header, section.footer,
                           section.first_page_footer):
                    if not hf.is_linked_to_previous:
                        parts.extend(_blocks(hf))
            size = sum(len(x) for x in parts)
            for block in _blocks(document):  # stop collecting past the limit
                parts.append(block)
                size += len(block) + 1
                if size > limits.max_text_chars:
                    break
        except Exception as exc:  # python-docx raises many types for a broken package
            return ExtractionResult("failed", reason=f"corrupt DOCX: {type(exc).__name__}: {str(exc)[:160]}")
        text = "\n".join(p for p in parts if p)
        if not text.strip():
            return ExtractionResult("extracted", text="", reason="DOCX has no text")
        return ExtractionResult("extracted", text=text)


register(DocxExtractor())
