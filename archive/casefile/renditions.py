"""Fixed-layout renditions of editable documents: LibreOffice (headless, in a process of its own
with a time limit and a memory bound, its own profile) makes a PDF/A-2b copy; pikepdf checks
what a PDF/A-2b file must be (the claim in its XMP metadata, an output intent, every font
embedded, no encryption, no JavaScript, no external content). The checks are the subset of
ISO 19005-2 this archive can test itself; a full validator (veraPDF) can be run on the stored
renditions by an archivist."""
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
        with open(pdf, "rb") as g:
            shutil.copyfileobj(g, result)
        result.seek(0)
        return Converted(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pdfa_problems(f: IO[bytes]) -> list[str]:
    """What keeps ``f`` from being PDF/A-2b, as far as these checks see ("中文 / English"); empty: passes."""
    import pikepdf

    problems: list[str] = []
    try:
        pdf = pikepdf.open(cast(BinaryIO, f))
    except Exception as exc:  # not a PDF at all
        return [f"无法打开 / not a readable PDF: {type(exc).__name__}"]
    try:
        if pdf.is_encrypted:
            problems.append("文件已加密 / encrypted")
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            status = meta.pdfa_status
        if status not in ("2B", "2U", "2A"):
            problems.append(f"XMP 元数据未声明 PDF/A-2 / no PDF/A-2 claim in the XMP metadata ({status or 'none'})")
        intents = pdf.Root.get("/OutputIntents")
        if not intents or not any(i.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents):
            problems.append("缺少输出意图（ICC 色彩配置）/ no PDF/A output intent with an ICC profile")
        names = pdf.Root.get("/Names")
        if "/OpenAction" in pdf.Root and pdf.Root.OpenAction.get("/S") == "/JavaScript" or \
                (names is not None and "/JavaScript" in names):
            problems.append("含有 JavaScript / contains JavaScript")
        unembedded = set()
        for page in pdf.pages:
            resources: Any = page.get("/Resources")
            fonts: Any = resources.get("/Font") if resources is not None else None
            if fonts is None:
                continue
            for _, font in fonts.items():
                descriptors = [font.get("/FontDescriptor")] + [d.get("/FontDescriptor") for d in font.get("/DescendantFonts", [])]
                if not any(d is not None and any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                           for d in descriptors):
                    unembedded.add(str(font.get("/BaseFont", "?")))
        if unembedded:
            problems.append(f"字体未嵌入 / fonts not embedded: {', '.join(sorted(unembedded))}")
    finally:
        pdf.close()
        f.seek(0)
    return problems
