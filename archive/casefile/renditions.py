"""Fixed-layout renditions of editable documents: LibreOffice (headless, in a process of its own
with a time limit and a memory bound, its own profile) makes a PDF/A-2b copy; pikepdf checks
every rendition with its PDF/A validator (``pikepdf.pdfa``: an allowlist of the constructs
known to conform to ISO 19005-2 level b, rule ids as veraPDF names them)."""
from __future__ import annotations

import logging
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

log = logging.getLogger(__name__)

# The editable formats a rendition is made for, by media type (as detected from the bytes).
EDITABLE = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/msword": "doc",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "application/vnd.ms-works": "wps",
    "application/kswps": "wps",
}
PDFA_2 = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}'


@dataclass(frozen=True)
class Converted:
    """A conversion's outcome: the PDF (a temporary file) or why there is none."""

    file: IO[bytes] | None
    reason: str = ""


def rendition_key(case_id: str, doc_id: str, version_id: str) -> str:
    """Beside the original: ids only, one object per version of the original."""
    return f"cases/{case_id}/renditions/{doc_id}/{version_id}"


def _bounded(memory_bytes: int):
    def limit() -> None:  # in the child, before LibreOffice starts
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return limit


def to_pdfa(source: IO[bytes], extension: str, soffice: str, *, timeout: float = 180,
            memory_bytes: int = 2 * 1024**3) -> Converted:
    """``source`` (an editable document) as PDF/A-2b, made by LibreOffice in its own process."""
    work = Path(tempfile.mkdtemp(prefix="rendition-"))
    try:
        src = work / f"document.{extension}"
        with open(src, "wb") as out:
            shutil.copyfileobj(source, out)
        cmd = [soffice, "--headless", "--norestore", "--nolockcheck",
               f"-env:UserInstallation=file://{work / 'profile'}", "--convert-to", PDFA_2, "--outdir", str(work), str(src)]
        try:
            subprocess.run(cmd, check=True, timeout=timeout, capture_output=True, preexec_fn=_bounded(memory_bytes))
        except subprocess.TimeoutExpired:
            return Converted(None, f"转换超时（{timeout:g} 秒）/ LibreOffice took longer than {timeout:g} s")
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("LibreOffice could not convert a document: %s", exc)
            return Converted(None, f"LibreOffice 转换失败 / LibreOffice failed: {type(exc).__name__}")
        pdf = work / "document.pdf"
        if not pdf.exists() or pdf.stat().st_size == 0:
            return Converted(None, "LibreOffice 没有生成 PDF（文件可能已损坏或加密）/ LibreOffice made no PDF")
        result = tempfile.TemporaryFile()
        try:
            result.write(tidy(pdf.read_bytes()))
        except Exception as exc:  # pikepdf cannot open what LibreOffice wrote
            result.close()
            return Converted(None, f"LibreOffice 生成的 PDF 无法读取 / unreadable PDF: {type(exc).__name__}")
        result.seek(0)
        return Converted(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tidy(pdf_bytes: bytes) -> bytes:
    """The PDF without the keys a viewer or producer adds that PDF/A's allowlist does not cover: the
    catalog's ``/OpenAction`` (a zoom hint; fpdf2 and LibreOffice write one) and LibreOffice's
    ``/DocChecksum`` in the trailer. Nothing on a page changes."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        if "/OpenAction" in pdf.Root:
            del pdf.Root["/OpenAction"]
        if "/DocChecksum" in pdf.trailer:
            del pdf.trailer["/DocChecksum"]
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


_KIND = {"violation": "不符合 PDF/A-2b", "unsupported": "无法确认符合 PDF/A-2b"}


def pdfa_problems(f: IO[bytes]) -> list[str]:
    """What keeps ``f`` from being approved as PDF/A-2b by pikepdf's validator (an allowlist: every
    construct it meets must be known to conform, so a denial may be a false alarm but an approval
    is not), one "中文 / English" line each; empty: it passes."""
    from pikepdf.pdfa import validate_written

    f.seek(0)
    try:
        report = validate_written(cast(BinaryIO, f), "2b")
    finally:
        f.seek(0)
    return [f"{_KIND.get(x.kind, x.kind)}（{x.rule}）/ {x.where}: {x.message}"[:500] for x in report.findings[:50]]
