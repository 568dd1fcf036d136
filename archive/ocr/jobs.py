"""OCR jobs: their own kind in the durable queue, drained by their own worker thread.

The index worker never runs OCR. When it finds a document without text (an image, a PDF page
without a text layer) it indexes what it has (file name, case, party) and queues an ``ocr``
job in the same transaction. The OCR worker claims that job with a lease (``archive.jobs``), so
two workers never read the same document at once; it writes the recognised text on the
document (the original object is never touched) and queues the index update. The recognised
text is derived: ``archive ocr --all`` makes it again from the stored originals.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
import time
from typing import Callable, Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from archive import jobs
from archive.extraction.base import ExtractionResult
from archive.extraction.image import IMAGE_TYPES
from archive.models import Document, Job
from archive.ocr.pages import PDF
from archive.ocr.runner import OcrOutcome, OcrRunner, RunnerClosed
from archive.storage.base import ObjectStore, StorageUnavailable

log = logging.getLogger(__name__)
ACTION = "ocr"
LEASE = jobs.LEASE[ACTION]  # a claimed job whose worker died is taken again after this
OCR_TYPES = (PDF, *IMAGE_TYPES)


def wants_ocr(media_type: str, result: ExtractionResult) -> bool:
    """Whether extraction left text to OCR: an image, a scan, or a PDF with blank pages."""
    if media_type in IMAGE_TYPES:
        return result.status == "not_extracted"
    if media_type == PDF:
        return result.status == "no_text_layer" or (result.status == "extracted" and result.blank_pages > 0)
    return False


def enqueue_ocr(session: Session, doc_ids: Iterable[str]) -> int:
    """Queue an OCR job per document unless one is open already (a partial unique index keeps
    at most one open OCR job per document, also under concurrent requests); returns how many
    were queued. Committed by the caller."""
    n = 0
    for doc_id in doc_ids:
        open_job = session.scalar(select(Job.id).where(
            Job.subject == doc_id, Job.kind == ACTION, Job.done_at.is_(None)))
        if open_job is not None:
            continue
        try:
            with session.begin_nested():
                jobs.enqueue(session, ACTION, doc_id)
            n += 1
        except IntegrityError:  # another transaction queued it first
            pass
    return n


def claim(sessions: sessionmaker[Session], holder: str,
          job_ids: Iterable[int] | None = None) -> jobs.Claimed | None:
    """Lease one due OCR job to ``holder``."""
    with sessions() as session:
        got = jobs.claim(session, (ACTION,), holder, job_ids=job_ids, lease=LEASE)
    return got[0] if got else None


def apply_outcome(doc: Document, outcome: OcrOutcome) -> None:
    """Record what OCR found on the document row (the stored object is never changed)."""
    reason = outcome.describe()[:500] or None
    doc.ocr_engine = outcome.engine[:64] or None
    if outcome.status == "ocr":
        doc.text_status, doc.text_content = "ocr", outcome.text
        doc.ocr_confidence = round(outcome.confidence, 4) if outcome.confidence is not None else None
        doc.page_count = outcome.pages
    elif outcome.status == "empty":
        doc.ocr_confidence = None
        if outcome.skipped and not (doc.text_content or "").strip():
            # no page could be read (each too slow, too large or undecodable): the reasons
            doc.text_status = "failed"
            reason = "；".join(outcome.skipped)[:500]
        elif doc.text_status in ("ocr_pending", "ocr"):
            # nothing readable: a PDF keeps the text its text layer had (if any)
            doc.text_status = "extracted" if (doc.text_content or "").strip() else (
                "no_text_layer" if doc.media_type == PDF else "not_extracted")
    else:  # refused, failed: the document is kept; the reason says why it was not read
        doc.text_status = outcome.status if not (doc.text_content or "").strip() else doc.text_status
        doc.ocr_confidence = None
    doc.text_reason = reason


def ocr_document(sessions: sessionmaker[Session], store: ObjectStore, runner: OcrRunner, doc_id: str,
                 renew: Callable[[], None] = lambda: None) -> OcrOutcome | None:
    """OCR the stored version of one document and record the result; None if the document is
    gone or not a type OCR reads. ``renew()`` is called after each page (to keep the job's
    lease). Raises StorageUnavailable when the store does not answer."""
    with sessions() as session:
        doc = session.get(Document, doc_id)
        if doc is None or doc.media_type not in OCR_TYPES:
            return None
        key, version_id, media_type = doc.object_key, doc.version_id, doc.media_type
    fd, path = tempfile.mkstemp(prefix="archive-ocr-")
    try:
        with os.fdopen(fd, "wb") as tmp:
            for chunk in store.open(key, version_id):
                tmp.write(chunk)
        outcome = runner.read_document(path, media_type, on_page=renew)
    finally:
        os.unlink(path)
    with sessions() as session:
        doc = session.get(Document, doc_id)
        if doc is None or doc.version_id != version_id:
            return outcome  # an amendment replaced it meanwhile: its own job reads the new version
        if doc.text_status == "pending":
            return outcome  # extraction has not run (re-extract): the index worker queues OCR again
        apply_outcome(doc, outcome)
        jobs.enqueue(session, "upsert", doc_id)
        session.commit()
    return outcome


def run_one(sessions: sessionmaker[Session], store: ObjectStore, runner: OcrRunner,
            job_ids: Iterable[int] | None = None, holder: str | None = None) -> OcrOutcome | bool | None:
    """Claim and run one OCR job; None when none is due, else the outcome (False if the job
    failed and waits for a retry)."""
    holder = holder or jobs.holder_name("ocr")
    claimed = claim(sessions, holder, job_ids)
    if claimed is None:
        return None
    job_id, doc_id = claimed.id, claimed.subject
    try:
        outcome = ocr_document(sessions, store, runner, doc_id, Lease(sessions, job_id, holder))
    except RunnerClosed:  # the worker is stopping: the job waits for the next one, no attempt spent
        with sessions() as session:
            jobs.fail(session, job_id, holder, None, spend=False)
        return False
    except StorageUnavailable as exc:
        with sessions() as session:
            jobs.fail(session, job_id, holder, exc, spend=False, delay=dt.timedelta(seconds=jobs.UNAVAILABLE_DELAY))
        return False
    except Exception as exc:  # the engine cannot start, the database went away: retried
        log.warning("OCR job %s for %s failed: %s", job_id, doc_id, exc)
        with sessions() as session:
            jobs.fail(session, job_id, holder, exc)
        return False
    with sessions() as session:
        jobs.finish(session, [job_id], holder)
        session.commit()
    return outcome if outcome is not None else OcrOutcome("skipped")


class Lease:
    """Renews an OCR job's lease while its document is read (a long document outlives LEASE;
    a worker that died stops renewing, and the job is taken again LEASE after the last page)."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, holder: str, every: float = 60.0) -> None:
        self.sessions, self.job_id, self.holder, self.every = sessions, job_id, holder, every
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        with self.sessions() as session:
            jobs.renew(session, self.job_id, self.holder, LEASE)


def select_documents(session: Session, *, missing: bool = False, every: bool = False,
                     doc_id: str | None = None) -> list[str]:
    """Documents for ``archive ocr``: ``missing`` — images and PDFs that have no text and no
    OCR result yet; ``every`` — every image and PDF that OCR read or could read (after a model
    change); or one document."""
    if doc_id is not None:
        return [doc_id] if session.get(Document, doc_id) is not None else []
    q = select(Document.id).where(Document.media_type.in_(OCR_TYPES)).order_by(Document.uploaded_at)
    if missing:
        q = q.where(or_(Document.text_status.in_(("no_text_layer", "ocr_pending")),
                        and_(Document.media_type.in_(IMAGE_TYPES), Document.text_status == "not_extracted")))
    elif every:  # (a PDF marked failed was refused by extraction: encrypted or corrupt)
        q = q.where(or_(Document.text_status.in_(("no_text_layer", "ocr_pending", "ocr", "refused")),
                        and_(Document.media_type.in_(IMAGE_TYPES), Document.text_status.in_(("not_extracted", "failed")))))
    return list(session.scalars(q).all())


class OcrWorker(threading.Thread):
    """Background thread draining OCR jobs, one document at a time, beside the index worker."""

    def __init__(self, sessions, store, runner: OcrRunner, poll: float = 1.0) -> None:
        super().__init__(name="ocr-worker", daemon=True)
        self.sessions, self.store, self.runner = sessions, store, runner
        self.poll = poll
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if run_one(self.sessions, self.store, self.runner) is None:
                    self.stopping.wait(self.poll)
            except Exception as exc:  # the database is down: keep the jobs, try again later
                log.warning("OCR worker: %s", exc)
                self.stopping.wait(max(self.poll, 5))

    def stop(self) -> None:
        self.stopping.set()
        self.runner.close()


def drain_ocr(sessions, store, runner: OcrRunner, job_ids: Iterable[int] | None = None,
              progress: Callable[[int, OcrOutcome | bool], None] | None = None) -> int:
    """Run due OCR jobs (all, or those of ``job_ids``) until none is left; returns how many ran."""
    ids = list(job_ids) if job_ids is not None else None
    n = 0
    while True:
        got = run_one(sessions, store, runner, ids)
        if got is None:
            return n
        n += 1
        if progress:
            progress(n, got)
