"""Renditions (PDF/A-2b copies of editable documents) as the archive keeps them: made in the
background by the ``render`` job for each version of a DOCX, DOC, ODT, RTF or WPS document,
stored write-once beside the original with the original's retention, recorded with their SHA-256,
size, the PDF/A checks and whether their text equals the original's. The original never changes."""
from __future__ import annotations

import hashlib
import io
import logging
import re
import tempfile
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archive.casefile.renditions import EDITABLE, pdfa_problems, rendition_key, to_pdfa
from archive.clock import now as server_now
from archive.db import insert_once
from archive.extraction import extract, normalise
from archive.jobs import enqueue
from archive.models import Case, Document, Rendition
from archive.services.objects import IngestSettings
from archive.storage.base import ObjectStore

log = logging.getLogger(__name__)
PDF = "application/pdf"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderSettings:
    """Where LibreOffice is and how far it may go (``ARCHIVE_LIBREOFFICE``, ``ARCHIVE_RENDITION_*``)."""

    soffice: str
    timeout: float = 180
    memory_bytes: int = 2 * 1024**3


OFD = "application/ofd"


def wants_rendition(media_type: str) -> bool:
    """Editable documents (by LibreOffice) and OFD (drawn by the archive) get a PDF/A rendition."""
    return media_type in EDITABLE or media_type == OFD


def enqueue_for(session: Session, doc: Document) -> None:
    """Queue the rendition of the document's current version (in the caller's transaction)."""
    if wants_rendition(doc.media_type):
        enqueue(session, "render", doc.id)


def current(session: Session, doc: Document) -> Rendition | None:
    """The rendition of the document's current version, if one was made (or failed)."""
    return session.scalar(select(Rendition).where(Rendition.document_id == doc.id,
                                                  Rendition.source_version_id == doc.version_id))


def state(session: Session, doc: Document) -> str:
    """none (not an editable document) | pending | done | failed."""
    if not wants_rendition(doc.media_type):
        return "none"
    r = current(session, doc)
    return "pending" if r is None else r.status


def comparable(text: str) -> str:
    """Text as compared between an original and its rendition: normalised, without any spaces."""
    return _SPACE.sub("", normalise(text or ""))


def same_text(source: str, rendition: str, media_type: str) -> bool:
    """Whether the rendition carries the original's text. An OFD's text objects are placed
    anywhere on the page, so the PDF's reading order may differ from OFD's: the same characters
    (as a multiset) count as equal there."""
    a, b = comparable(source), comparable(rendition)
    return a == b or (media_type == OFD and sorted(a) == sorted(b))


def _convert(original, media_type: str, rs: RenderSettings):
    """The PDF/A (a temporary file) or why there is none."""
    from archive.casefile.renditions import Converted

    if media_type != OFD:
        return to_pdfa(original, EDITABLE[media_type], rs.soffice, timeout=rs.timeout, memory_bytes=rs.memory_bytes)
    from archive.casefile.fonts import cjk_font
    from archive.casefile.ofdrender import as_pdfa, render_ofd
    from archive.extraction.base import ExtractLimits
    from archive.extraction.docx import check_zip

    refusal = check_zip(original, ExtractLimits())
    font = cjk_font()
    if refusal is not None or font is None:
        return Converted(None, f"OFD 无法转换 / not converted: {refusal or 'no Chinese font (fonts-noto-cjk)'}")
    original.seek(0)
    try:
        body = as_pdfa(render_ofd(original.read(), font).pdf)
    except Exception as exc:  # ofdkit, fpdf2 and pikepdf raise many types for a broken package
        log.warning("OFD rendition failed: %s", exc)
        return Converted(None, f"OFD 文件无法解析 / OFD not readable: {type(exc).__name__}")
    out = tempfile.TemporaryFile()
    out.write(body)
    out.seek(0)
    return Converted(out)


def render(sessions: sessionmaker[Session], store: ObjectStore, settings: IngestSettings, rs: RenderSettings,
           doc_id: str) -> Rendition | None:
    """Make, check, store and record the rendition of the document's current version; once per
    version (a second run finds the row). A document LibreOffice cannot convert is recorded as
    failed, with the reason; a store that fails raises (the job is retried)."""
    with sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None or not wants_rendition(doc.media_type):
            return None
        done = current(s, doc)
        if done is not None:
            return done
        case = s.get(Case, doc.case_id)
        assert case is not None
        key_of = (doc.case_id, doc.id, doc.version_id)
        media_type, procedure = doc.media_type, case.procedure
        uploaded_at = doc.uploaded_at
        original = tempfile.TemporaryFile()
        for chunk in store.open(doc.object_key, doc.version_id):
            original.write(chunk)
        original.seek(0)
    started = time.monotonic()
    row = Rendition(document_id=doc_id, source_version_id=key_of[2], made_at=server_now(), pdfa_problems="", reason="")
    with original:
        converted = _convert(original, media_type, rs)
        row.seconds = round(time.monotonic() - started, 3)
        if converted.file is None:
            row.status, row.reason = "failed", converted.reason
        else:
            with converted.file as pdf:
                problems = pdfa_problems(pdf)
                original.seek(0)
                source_text = extract(original, media_type).text
                result = extract(pdf, PDF)
                pdf.seek(0)
                body = pdf.read()
            row.status = "done"
            row.pages = result.pages
            row.pdfa_valid, row.pdfa_problems = not problems, "\n".join(problems)
            row.text_equal = same_text(source_text, result.text, media_type)
            row.sha256, row.size = hashlib.sha256(body).hexdigest(), len(body)
            row.object_key = rendition_key(*key_of)
            put = store.put(row.object_key, io.BytesIO(body), len(body),
                            {"schema": "case-archive/1", "doc-id": doc_id, "case-id": key_of[0],
                             "source-version": key_of[2], "kind": "rendition", "sha256": row.sha256},
                            PDF, settings.until(uploaded_at, procedure))
            row.version_id = put.version_id
    # another worker may have recorded it meanwhile: its row stands
    kept = insert_once(sessions, row, lambda s: current(s, s.get(Document, doc_id)))
    log.info("rendition of %s: %s in %.1f s", doc_id, kept.status, kept.seconds or 0)
    return kept


def queue(session: Session, which: str, doc_id: str | None = None) -> int:
    """``archive renditions``: queue the rendition of one document, of those without one
    (``missing``), or of every editable document again (``all``: failed ones are tried again; a
    made rendition is never replaced)."""
    q = select(Document).where(Document.media_type.in_(sorted(EDITABLE) + [OFD]))
    if doc_id is not None:
        q = q.where(Document.id == doc_id)
    n = 0
    for doc in session.scalars(q):
        r = current(session, doc)
        if r is not None and r.status == "done":
            continue
        if r is not None and which in ("all", "document"):
            session.delete(r)  # a failed attempt is made again
        if r is None or which in ("all", "document"):
            enqueue(session, "render", doc.id)
            n += 1
    session.commit()
    return n


def summary(session: Session) -> dict[str, int]:
    """How many editable documents' current versions have a rendition: done, failed, pending."""
    from sqlalchemy import func

    total = session.scalar(select(func.count()).select_from(Document).where(
        Document.media_type.in_(sorted(EDITABLE) + [OFD]))) or 0
    rows: dict[str, int] = {status: n for status, n in session.execute(select(Rendition.status, func.count()).join(
        Document, (Document.id == Rendition.document_id) & (Document.version_id == Rendition.source_version_id))
        .group_by(Rendition.status)).all()}
    done, failed = rows.get("done", 0), rows.get("failed", 0)
    return {"done": done, "failed": failed, "pending": max(total - done - failed, 0)}


def view(session: Session, doc: Document) -> dict | None:
    """The rendition of the document's current version as the API and the page show it (None: the
    document is not editable)."""
    if not wants_rendition(doc.media_type):
        return None
    r = current(session, doc)
    if r is None:
        return {"status": "pending"}
    return {"status": r.status, "pdfa_valid": r.pdfa_valid,
            "pdfa_problems": [p for p in r.pdfa_problems.split("\n") if p], "text_equal": r.text_equal,
            "sha256": r.sha256, "size": r.size, "pages": r.pages, "reason": r.reason, "made_at": r.made_at.isoformat()}


def stored(c_session: Session, doc: Document) -> Rendition:
    """The made rendition of the document's current version (404 while pending or failed)."""
    from archive.errors import NotFound

    r = current(c_session, doc)
    if r is None or r.status != "done":
        raise NotFound("该文书没有可用的转换件（转换中或转换失败）/ no rendition of this version (pending or failed)")
    return r


def _of_case(session: Session, case: Case) -> list[tuple[str, Rendition]]:
    """(document id, rendition) of the current versions of the case's documents."""
    return [(d, r) for d, r in session.execute(select(Document.id, Rendition).join(
        Rendition, (Rendition.document_id == Document.id) & (Rendition.source_version_id == Document.version_id))
        .where(Document.case_id == case.id)).all()]


def rendition_states(session: Session, case: Case) -> dict[str, tuple[str, str | None, str | None, str]]:
    """{document id: (status, key, version id, reason)} of the case's renditions (none: pending)."""
    return {d: (r.status, r.object_key, r.version_id, r.reason) for d, r in _of_case(session, case)}


def made(session: Session, case: Case) -> dict[str, tuple[str, str, str, int]]:
    """{document id: (key, version id, SHA-256, size)} of the case's made renditions."""
    return {d: (r.object_key or "", r.version_id or "", r.sha256 or "", r.size or 0)
            for d, r in _of_case(session, case) if r.status == "done"}
