"""Media type from the bytes, never from the filename."""
from __future__ import annotations

import zipfile

from archive.storage.base import ByteStream

import filetype

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OFD = "application/ofd"
SNIFF = 8192


def _looks_like_text(sample: bytes) -> bool:
    if not sample or b"\x00" in sample:
        return False
    for enc in ("utf-8", "gb18030"):
        try:
            sample.decode(enc)
            return True
        except UnicodeDecodeError as exc:
            # A multi-byte character cut by the end of the sample is still text.
            if exc.start >= len(sample) - 4 and exc.reason.startswith("unexpected end"):
                return True
    return False


def detect_media_type(stream: ByteStream) -> str:
    """Sniff ``stream`` (seekable) and return its media type; the position is restored."""
    pos = stream.tell()
    sample = stream.read(SNIFF)
    stream.seek(pos)
    if sample.startswith(b"%PDF-"):
        return "application/pdf"
    if sample.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(stream) as zf:
                names = set(zf.namelist())
            if "word/document.xml" in names:
                return DOCX
            if "OFD.xml" in names:  # GB/T 33190 (the format examination checks its namespace)
                return OFD
        except (zipfile.BadZipFile, OSError, ValueError):
            pass
        finally:
            stream.seek(pos)
        return "application/zip"
    kind = filetype.guess(sample)
    if kind is not None:
        return kind.mime
    if _looks_like_text(sample):
        return "text/plain"
    return "application/octet-stream"
