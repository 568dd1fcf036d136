"""A case file as a BagIt bag in a ZIP (RFC 8493), and as one binder PDF (卷宗).

The ZIP is produced while it is sent: each document is copied from object storage in chunks
and never held whole. The binder is assembled in a temporary file on disk, one document at a
time (``pdfstream``): memory stays of the order of the largest document, not of the case.
"""
from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, Iterator

from archive.labels import STAGE_NAMES
from archive.casefile.formats import OFD_MIME
from archive.casefile.renditions import EDITABLE
from archive.models import STAGES, Case, Document
from archive.clock import SHANGHAI, now as server_now
from archive.storage.base import ObjectStore

log = logging.getLogger(__name__)

PDF = "application/pdf"


def filing_order(documents: list[Document]) -> list[Document]:
    """Documents as they are filed: by stage (立案→调查→审核→决定→执行→结案), then by upload time."""
    rank = {s: i for i, s in enumerate(STAGES)}
    return sorted(documents, key=lambda d: (rank.get(d.stage, len(STAGES)), d.uploaded_at, d.id))


def _safe_name(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f/\\%]+", "_", name).strip(". ") or "document"
    return name[:120]


@dataclass(frozen=True)
class Entry:
    path: str  # inside data/
    doc: Document
    rendition: tuple[str, str, str, int] | None = None  # (key, version id, SHA-256, size) of a rendition entry

    @property
    def key(self) -> str:
        return self.rendition[0] if self.rendition else self.doc.object_key

    @property
    def version_id(self) -> str:
        return self.rendition[1] if self.rendition else self.doc.version_id

    @property
    def sha256(self) -> str:
        return self.rendition[2] if self.rendition else self.doc.sha256

    @property
    def size(self) -> int:
        return self.rendition[3] if self.rendition else self.doc.size


def payload(documents: list[Document], renditions: dict[str, tuple[str, str, str, int]] | None = None) -> list[Entry]:
    """The bag's files in filing order; each original followed by its PDF/A rendition (when made)
    as ``….pdfa.pdf``."""
    out, dirs = [], {s: f"{i + 1:02d}-{s}" for i, s in enumerate(STAGES)}
    for n, d in enumerate(filing_order(documents), 1):
        path = f"{dirs.get(d.stage, '99-other')}/{n:03d}-{d.form_code}-{_safe_name(d.filename)}"
        out.append(Entry(path, d))
        if renditions and d.id in renditions:
            out.append(Entry(path + ".pdfa.pdf", d, renditions[d.id]))
    return out


def _info_value(value: object) -> str:
    return re.sub(r"\s+", " ", str(value if value is not None else "")).strip()


def bag_info(case: Case, agency_name: str, entries: list[Entry]) -> str:
    octets = sum(e.size for e in entries)
    stages = "; ".join(f"{s.stage} {s.completed_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
                       for s in sorted(case.stages, key=lambda s: STAGES.index(s.stage) if s.stage in STAGES else 99))
    fields = [
        ("Source-Organization", agency_name), ("Organization-Address", case.agency_code),
        ("External-Identifier", case.number), ("External-Description", case.summary or case.number),
        ("Bagging-Date", server_now().astimezone(SHANGHAI).date().isoformat()),
        ("Payload-Oxum", f"{octets}.{len(entries)}"), ("Bag-Count", "1 of 1"),
        ("Case-Id", case.id), ("Case-Kind", case.kind), ("Case-Procedure", case.procedure),
        ("Case-Opened-On", case.opened_on.isoformat()), ("Party-Name", case.party_name),
        ("Party-Id", case.party_id), ("Agency-Code", case.agency_code), ("Case-Stages", stages),
    ]
    return "".join(f"{k}: {_info_value(v)}\n" for k, v in fields)


class _Sink:
    """A write-only, unseekable file for zipfile; what was written is taken out as it comes."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def _manifest_path(path: str) -> str:
    # RFC 8493 §2.1.3: CR, LF and % in a path are percent-encoded in manifests
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


RENDITION_FORMAT = ("fmt/477", "Acrobat PDF/A - Portable Document Format", "2b")


def formats_tsv(entries: list[Entry], formats: dict[str, tuple[str, str, str]]) -> str:
    """The tag file ``formats.tsv``: each payload file's format (PRONOM identifier, name, version)
    as the archive identified it; a rendition is the PDF/A-2b the archive made."""
    rows = ["path\tpuid\tformat\tversion"]
    for e in entries:
        puid, name, version = RENDITION_FORMAT if e.rendition else formats.get(e.doc.id, ("UNKNOWN", "未识别", ""))
        rows.append("\t".join([f"data/{_manifest_path(e.path)}", puid, _info_value(name), _info_value(version)]))
    return "\n".join(rows) + "\n"


def bag_zip(case: Case, agency_name: str, store: ObjectStore, on_mismatch=None,
            renditions: dict[str, tuple[str, str, str, int]] | None = None,
            formats: dict[str, tuple[str, str, str]] | None = None) -> Iterator[bytes]:
    """The case's BagIt bag as ZIP bytes, produced while they are read: the originals and their
    PDF/A renditions (``renditions``: document id → key, version, SHA-256, size). The manifest
    carries the checksums recorded when they were stored; a file whose bytes differ is reported to
    ``on_mismatch`` (the bag then fails validation, which is the truth). ``formats`` (document id →
    PUID, name, version of its current version) gives the tag file ``formats.tsv``."""
    entries = payload(list(case.documents), renditions)
    root = f"case-{case.id}"
    sink = _Sink()
    stamp = server_now().astimezone(SHANGHAI).timetuple()[:6]

    def info(name: str, compress: int) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(f"{root}/{name}", date_time=stamp)
        zi.compress_type = compress
        zi.external_attr = 0o644 << 16
        return zi

    tags: dict[str, bytes] = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": bag_info(case, agency_name, entries).encode("utf-8"),
        "manifest-sha256.txt": "".join(f"{e.sha256}  data/{_manifest_path(e.path)}\n"
                                       for e in entries).encode("utf-8"),
    }
    if formats is not None:
        tags["formats.tsv"] = formats_tsv(entries, formats).encode("utf-8")
    tags["tagmanifest-sha256.txt"] = "".join(f"{hashlib.sha256(body).hexdigest()}  {name}\n"
                                             for name, body in tags.items()).encode("utf-8")
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:  # type: ignore[call-overload]
        for name, body in tags.items():
            zf.writestr(info(name, zipfile.ZIP_DEFLATED), body)
            yield sink.take()
        for e in entries:
            digest = hashlib.sha256()
            with zf.open(info(f"data/{e.path}", zipfile.ZIP_DEFLATED), "w", force_zip64=e.size > 2**31) as w:
                for chunk in store.open(e.key, e.version_id):
                    digest.update(chunk)
                    w.write(chunk)
                    out = sink.take()
                    if out:
                        yield out
            if digest.hexdigest() != e.sha256:
                log.error("document %s%s: stored bytes differ from the recorded SHA-256", e.doc.id,
                          " (its rendition)" if e.rendition else "")
                if on_mismatch:
                    on_mismatch(e.doc)
            yield sink.take()
    yield sink.take()


# -- binder PDF --------------------------------------------------------------------------------

@dataclass
class BinderPart:
    doc: Document
    title: str
    pages: int = 0
    start: int = 0  # first page (1-based) in the binder; 0 for an attachment
    note: str = ""  # why it is an attachment
    file: IO[bytes] | None = None


def _spool(store: ObjectStore, doc: Document) -> IO[bytes]:
    f = tempfile.TemporaryFile()
    for chunk in store.open(doc.object_key, doc.version_id):
        f.write(chunk)
    f.seek(0)
    return f


def find_soffice(setting: str) -> str | None:
    """The LibreOffice program: ``setting`` ("off" disables; empty: ``soffice`` on PATH)."""
    import shutil

    if setting.lower() == "off":
        return None
    return shutil.which(setting or "soffice") or (None if setting else shutil.which("libreoffice"))


def docx_to_pdf(f: IO[bytes], soffice: str, timeout: float = 180) -> IO[bytes] | None:
    """The DOCX converted by LibreOffice (headless, its own profile so that conversions never
    share a lock), as a temporary file; None if the conversion fails."""
    import shutil
    import subprocess
    from pathlib import Path

    work = Path(tempfile.mkdtemp(prefix="binder-"))
    try:
        src = work / "document.docx"
        with open(src, "wb") as out:
            shutil.copyfileobj(f, out)
        cmd = [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{work / 'profile'}",
               "--convert-to", "pdf", "--outdir", str(work), str(src)]
        try:
            subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("LibreOffice could not convert a DOCX: %s", exc)
            return None
        pdf = work / "document.pdf"
        if not pdf.exists():
            return None
        result = tempfile.TemporaryFile()
        with open(pdf, "rb") as g:
            shutil.copyfileobj(g, result)
        result.seek(0)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pdf_pages(f: IO[bytes]) -> int | None:
    from pypdf import PdfReader

    try:
        reader = PdfReader(f, strict=False)
        if reader.is_encrypted:
            return None
        return len(reader.pages)
    except Exception:  # a damaged PDF is listed as an attachment, never breaks the binder
        return None
    finally:
        f.seek(0)


def _cover(pdf, case: Case, agency_name: str, parts: list[BinderPart]) -> None:
    pdf.add_page()
    pdf.set_font("cjk", size=26)
    pdf.ln(40)
    pdf.cell(0, 16, "行政执法案卷", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(20)
    pdf.set_font("cjk", size=13)
    kind = {"penalty": "行政处罚", "inspection": "行政检查"}.get(case.kind, case.kind)
    procedure = {"general": "普通程序", "summary": "简易程序"}.get(case.procedure, case.procedure)
    rows = [("案号", case.number), ("执法机关", agency_name), ("案件类别", f"{kind}（{procedure}）"),
            ("当事人", case.party_name or "—"), ("案由", case.summary or "—"),
            ("立案日期", case.opened_on.isoformat()), ("文书数量", str(len(parts))),
            ("组卷时间", server_now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))]
    for label, value in rows:
        pdf.set_x(30)
        pdf.cell(35, 10, label)
        value = value if len(value) <= 100 else value[:99] + "…"  # the cover stays one page
        pdf.multi_cell(115, 10, value, new_x="LMARGIN", new_y="NEXT")


def _contents(pdf, parts: list[BinderPart], offset: int, font: str = "cjk") -> None:
    """The table of contents (卷内目录); page numbers are ``offset`` + each part's start. Every
    line is a cell of fixed height, so its layout does not depend on the text: a dry run with
    a built-in font (``font`` other than "cjk", texts left out) gives the page count."""
    from forms import load_catalog

    catalog = load_catalog()
    dry = font != "cjk"

    def t(text: str) -> str:
        return "" if dry else text

    def form_name(code: str) -> str:
        return catalog[code].name if code in catalog else code

    pdf.add_page()
    pdf.set_font(font, size=18)
    pdf.cell(0, 14, t("卷内目录"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, size=10)
    widths = (12, 78, 24, 36, 20)

    def row(cells):
        for w, c in zip(widths, cells):
            pdf.cell(w, 8, t(c), border=1)
        pdf.ln(8)

    row(("序号", "文书名称", "环节", "上传时间", "页码"))
    for n, p in enumerate(parts, 1):
        title = form_name(p.doc.form_code) + "：" + p.doc.filename
        if len(title) > 26:
            title = title[:25] + "…"
        page = str(p.start + offset) if p.start else "附件"
        row((str(n), title, STAGE_NAMES.get(p.doc.stage, p.doc.stage),
             p.doc.uploaded_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"), page))
    notes = [(n, p) for n, p in enumerate(parts, 1) if not p.start]
    if notes:
        pdf.ln(4)
        pdf.cell(0, 6, t("附件：以下文书不是 PDF 或无法并入，见案卷包（bundle）"), new_x="LMARGIN", new_y="NEXT")
        for n, p in notes:
            line = f"{n}. {p.doc.filename}（{p.note}）"
            pdf.cell(0, 6, t(line if len(line) <= 60 else line[:59] + "…"), new_x="LMARGIN", new_y="NEXT")


def _front_matter(case: Case, agency_name: str, parts: list[BinderPart]) -> tuple[bytes, int]:
    """The cover and the contents in one PDF (the Chinese font is loaded once); returns it and
    the number of contents pages. Sets each PDF part's first page on the way."""
    from fpdf import FPDF

    page = 0
    for p in parts:  # first pages counted from the first document on (which parts are attachments matters)
        if p.pages:
            p.start = page + 1
            page += p.pages
    dry = FPDF(format="A4")
    dry.set_auto_page_break(True, margin=18)
    _contents(dry, parts, 0, font="helvetica")
    toc_pages = dry.page_no()
    from archive.casefile.fonts import cjk_fpdf

    pdf = cjk_fpdf()
    _cover(pdf, case, agency_name, parts)
    _contents(pdf, parts, 1 + toc_pages)
    assert pdf.page_no() == 1 + toc_pages, "the contents took another number of pages than measured"
    return bytes(pdf.output()), toc_pages


def _take(part: BinderPart, pdf: IO[bytes] | None, note: str) -> None:
    """The part's pages from ``pdf`` (a temporary file it keeps), or ``note`` when there are none."""
    pages = _pdf_pages(pdf) if pdf is not None else None
    if pdf is not None and pages:
        part.pages, part.file = pages, pdf
    else:
        if pdf is not None:
            pdf.close()
        part.note = note


IMAGE_PAGES = {"image/jpeg", "image/png", "image/tiff", "image/bmp", "image/gif", "image/webp"}
A4 = (595.28, 841.89)  # points


def image_pages(f: IO[bytes]) -> IO[bytes] | None:
    """An image (every frame of a TIFF) as A4 pages of a PDF, the image fitted within a margin:
    JPEG bytes are embedded as they are (img2pdf), other images as lossless PNG-coded pixels;
    an image Pillow refuses (a decompression bomb, a damaged file) gives None."""
    import img2pdf
    from PIL import Image, ImageSequence

    try:
        with Image.open(f) as img:
            if img.format == "JPEG" and img.mode in ("RGB", "L", "CMYK"):
                f.seek(0)
                sources = [f.read()]
            else:
                sources = []
                for frame in ImageSequence.Iterator(img):
                    buf = tempfile.SpooledTemporaryFile(8 * 1024 * 1024)
                    frame.convert("RGB" if frame.mode not in ("L", "1") else frame.mode).save(buf, "PNG")
                    buf.seek(0)
                    sources.append(buf.read())
        margin = img2pdf.mm_to_pt(10)
        layout = img2pdf.get_layout_fun(A4, None, (margin, margin), fit=img2pdf.FitMode.into)
        out = tempfile.TemporaryFile()
        out.write(img2pdf.convert(sources, layout_fun=layout))
        out.seek(0)
        return out
    except Exception as exc:  # Pillow and img2pdf raise many types for what they cannot read
        log.info("image not made into a page: %s", exc)
        return None


@dataclass
class Binder:
    file: IO[bytes]
    pages: int
    parts: list[BinderPart]


def build_binder(case: Case, agency_name: str, store: ObjectStore, soffice: str | None = None,
                 renditions: dict[str, tuple[str, str | None, str | None, str]] | None = None) -> Binder:
    """Cover, contents with page numbers, then every PDF document in filing order, with a
    bookmark per stage and per document. An editable document (DOCX …) is shown by its stored
    PDF/A rendition: ``renditions`` maps a document id to (status, key, version id, reason) of
    its current version's rendition; one without a row is 转换中, a failed one says why. Without
    ``renditions`` (None) a DOCX is converted now with LibreOffice (``soffice``) when it is there;
    other files are listed as attachments."""
    import io

    from pypdf import PdfReader

    from archive.casefile.pdfstream import Bookmark, StreamingPdf

    parts = []
    try:
        for d in filing_order(list(case.documents)):
            part = BinderPart(d, d.filename)
            if d.media_type == PDF:
                f = _spool(store, d)
                pages = _pdf_pages(f)
                if pages:
                    part.pages, part.file = pages, f
                else:
                    f.close()
                    part.note = "PDF 已加密或损坏"
            elif renditions is not None and (d.media_type in EDITABLE or d.media_type == OFD_MIME):
                status, key, version, reason = renditions.get(d.id, ("pending", None, None, ""))
                if status == "done" and key and version:
                    f = tempfile.TemporaryFile()
                    for chunk in store.open(key, version):
                        f.write(chunk)
                    f.seek(0)
                    _take(part, f, "转换件已损坏")
                elif status == "failed":
                    part.note = "转换失败：" + (reason.split(" / ")[0] if reason else "原因未记录")
                else:
                    part.note = "转换中"
            elif d.media_type.endswith("wordprocessingml.document"):
                converted = None
                if soffice:
                    with _spool(store, d) as f:
                        converted = docx_to_pdf(f, soffice)
                _take(part, converted, "DOCX，LibreOffice 转换失败" if soffice else "DOCX，未安装 LibreOffice 无法转换")
            elif d.media_type in IMAGE_PAGES:
                with _spool(store, d) as f:
                    _take(part, image_pages(f), "图像无法读取")
            else:
                part.note = d.media_type
            parts.append(part)
        front, toc_pages = _front_matter(case, agency_name, parts)
        offset = 1 + toc_pages
        page = sum(p.pages for p in parts)
        out = tempfile.TemporaryFile()
        pdf = StreamingPdf(out)
        pdf.add(PdfReader(io.BytesIO(front)))
        outline = [Bookmark("封面", 0), Bookmark("卷内目录", 1)]
        recorded = {st.stage for st in case.stages} | {p.doc.stage for p in parts}
        for stage in [s for s in STAGES if s in recorded] + sorted(recorded - set(STAGES)):
            mine = [p for p in parts if p.doc.stage == stage]
            first = next((p for p in mine if p.start), None)
            # a stage without a PDF points at the contents, where its documents are listed
            node = Bookmark(STAGE_NAMES.get(stage, stage), offset + first.start - 1 if first else 1)
            outline.append(node)
            for p in mine:
                if p.file is not None:
                    at = pdf.add(PdfReader(p.file, strict=False))  # copied and written, then let go
                    assert at == offset + p.start - 1
                    p.file.close()
                    p.file = None
                    node.children.append(Bookmark(p.doc.filename, at))
                else:
                    node.children.append(Bookmark(f"〔附件〕{p.doc.filename}", 1))
        pdf.finish(outline)
        out.seek(0)
        return Binder(out, offset + page, parts)
    finally:
        for p in parts:
            if p.file is not None:
                p.file.close()


def file_chunks(f: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    try:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk
    finally:
        f.close()
