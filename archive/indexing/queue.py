"""The durable index queue and the one worker that drains it (Whoosh takes one writer).

An upload adds a row to ``index_jobs`` in the same transaction as its document row, so a job
exists for every stored document and survives a crash of the worker. Processing a job extracts
the text (once) and upserts the document by id: running it twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.extraction import extract, normalise
from archive.extraction.base import ExtractLimits
from archive.indexing.base import IndexedDocument, SearchIndex
from archive.models import Case, Document, IndexJob, Stage
from archive.ocr.jobs import ACTION as OCR_ACTION, enqueue_ocr, wants_ocr
from archive.services.clock import now as server_now
from archive.services.orgs import ancestry
from archive.storage.base import ObjectStore, StorageUnavailable
from forms import load_catalog

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # failures after which a job counts as failed (it is still retried)
BASE_DELAY = 5  # seconds before the second try; doubles after each failure
MAX_DELAY = 3600  # the longest wait between tries
UNAVAILABLE_DELAY = 5  # seconds: a store that does not answer is asked again soon


def enqueue(session: Session, doc_ids: Iterable[str], action: str = "upsert") -> None:
    """Add index jobs (committed by the caller)."""
    for doc_id in doc_ids:
        session.add(IndexJob(document_id=doc_id, action=action, created_at=server_now()))


def queue_depth(session: Session) -> dict[str, int]:
    """Jobs waiting, jobs that failed MAX_ATTEMPTS times or more (still retried, at the longest
    back-off, until their cause is gone), and of the open jobs those waiting for OCR."""
    pending = session.scalar(select(func.count()).select_from(IndexJob).where(
        IndexJob.done_at.is_(None), IndexJob.attempts < MAX_ATTEMPTS)) or 0
    failed = session.scalar(select(func.count()).select_from(IndexJob).where(
        IndexJob.done_at.is_(None), IndexJob.attempts >= MAX_ATTEMPTS)) or 0
    ocr = session.scalar(select(func.count()).select_from(IndexJob).where(
        IndexJob.done_at.is_(None), IndexJob.action == OCR_ACTION)) or 0
    return {"pending": pending, "failed": failed, "ocr_pending": ocr}


def job_status(session: Session, limit: int = 50) -> dict:
    """Queue depth and the jobs that have failed at least once (``archive worker --status``)."""
    failing = session.scalars(select(IndexJob).where(IndexJob.done_at.is_(None), IndexJob.last_error.is_not(None))
                              .order_by(IndexJob.attempts.desc(), IndexJob.id).limit(limit)).all()
    return queue_depth(session) | {"jobs": [
        {"id": j.id, "action": j.action, "subject": j.document_id, "attempts": j.attempts,
         "next_attempt_at": j.next_attempt_at.isoformat() if j.next_attempt_at else None,
         "last_error": (j.last_error or "")[:200]} for j in failing]}


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failures: doubling from BASE_DELAY, capped."""
    return dt.timedelta(seconds=min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)))


def due_jobs(now: dt.datetime):
    """The select of jobs that may run at ``now``."""
    return select(IndexJob).where(IndexJob.done_at.is_(None), or_(
        IndexJob.next_attempt_at.is_(None), IndexJob.next_attempt_at <= now))


def _extract_object(store: ObjectStore, key: str, version_id: str, media_type: str, limits: ExtractLimits):
    """Text of one stored version, read through a temporary file."""
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as tmp:
        for chunk in store.open(key, version_id):
            tmp.write(chunk)
        tmp.seek(0)
        return extract(tmp, media_type, limits)


def extract_document(store: ObjectStore, doc: Document, limits: ExtractLimits):
    """Read the stored version (streamed to a temporary file) and record its text on ``doc``;
    returns the extraction result. Text that OCR recognised is kept (``archive ocr`` redoes it)."""
    result = _extract_object(store, doc.object_key, doc.version_id, doc.media_type, limits)
    if doc.text_status == "ocr" and wants_ocr(doc.media_type, result):
        return result
    doc.text_status = result.status
    doc.text_reason = result.reason[:500] if result.reason else None
    doc.text_content = result.text or None
    doc.page_count = result.pages
    return result


def extract_and_queue_ocr(session: Session, store: ObjectStore, doc: Document, limits: ExtractLimits) -> None:
    """Extract the text; a document that needs OCR is indexed now with what it has and gets an
    OCR job (its own queue, never run here: one slow scan must not hold up the index)."""
    result = extract_document(store, doc, limits)
    if limits.ocr and doc.text_status != "ocr" and wants_ocr(doc.media_type, result):
        if result.status != "extracted":
            doc.text_status, doc.text_reason = "ocr_pending", "等待文字识别（OCR）"
        enqueue_ocr(session, [doc.id])


def indexed_document(session: Session, doc: Document, org_cache: dict | None = None) -> IndexedDocument:
    """The index's view of a document (normalised text, organisation codes, form name)."""
    case: Case = doc.case
    cache = org_cache if org_cache is not None else {}
    if case.agency_code not in cache:
        cache[case.agency_code] = ancestry(session, case.agency_code)
    orgs = cache[case.agency_code]
    completed = session.scalar(select(Stage.completed_at).where(
        Stage.case_id == case.id, Stage.stage == doc.stage))
    form = load_catalog().get(doc.form_code)
    return IndexedDocument(
        doc_id=doc.id, case_id=case.id, case_number=case.number,
        content=normalise(doc.text_content or ""), filename=normalise(doc.filename),
        party_name=case.party_name, party_id=case.party_id, agency=case.agency_code,
        district=orgs.get("district", ""), city=orgs.get("city", ""), kind=case.kind,
        stage=doc.stage, form=doc.form_code, form_name=form.name if form else "",
        completed_at=completed, uploaded_at=doc.uploaded_at,
    )


def version_documents(session: Session, doc: Document, cache: dict | None = None, store: ObjectStore | None = None,
                      limits: ExtractLimits | None = None) -> list[IndexedDocument]:
    """The index entries of a document's earlier versions (ids ``doc@vN``, marked superseded);
    a version superseded before its text was extracted is extracted from its own object now."""
    from dataclasses import replace

    from archive.models import DocumentVersion

    versions = session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc.id)).all()
    if not versions:
        return []
    for v in versions:
        if v.text_content is None and store is not None:
            v.text_content = _extract_object(store, v.object_key, v.version_id, v.media_type,
                                             limits or ExtractLimits()).text or ""
    current = indexed_document(session, doc, cache)
    return [replace(current, doc_id=f"{doc.id}@v{v.version_no}", content=normalise(v.text_content or ""),
                    filename=normalise(v.filename), uploaded_at=v.uploaded_at, superseded=True)
            for v in versions]


def process_queue(sessions: sessionmaker[Session], store: ObjectStore, index: SearchIndex,
                  limits: ExtractLimits | None = None, batch: int = 50) -> int:
    """Drain up to ``batch`` jobs; returns how many were completed. Safe to re-run."""
    limits = limits or ExtractLimits()
    effects = _run_effects(sessions, store, batch)
    with sessions() as session:
        now = server_now()
        jobs = session.scalars(due_jobs(now).where(IndexJob.action.not_in((*EFFECTS, OCR_ACTION)))
                               .order_by(IndexJob.id).limit(batch)).all()
        if not jobs:
            return effects
        upserts: dict[str, IndexedDocument] = {}
        deletes: set[str] = set()
        ok: list[IndexJob] = []
        cache: dict = {}
        store_down = False
        for job in jobs:
            if store_down:  # the rest wait for the store, without spending an attempt
                job.next_attempt_at = now + dt.timedelta(seconds=UNAVAILABLE_DELAY)
                continue
            try:
                doc = session.get(Document, job.document_id)
                if job.action == "delete" or doc is None:
                    deletes.add(job.document_id)
                else:
                    if doc.text_status == "pending":
                        extract_and_queue_ocr(session, store, doc, limits)
                    upserts[doc.id] = indexed_document(session, doc, cache)
                    if job.action == "versions":  # an amendment was approved: index the old ones too
                        for old in version_documents(session, doc, cache, store, limits):
                            upserts[old.doc_id] = old
                ok.append(job)
            except StorageUnavailable as exc:  # not the job's fault: retried soon, no attempt spent
                log.warning("index job %s waits for the object store: %s", job.id, exc)
                job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                job.next_attempt_at = now + dt.timedelta(seconds=UNAVAILABLE_DELAY)
                store_down = True
            except Exception as exc:  # one bad job must not stop the queue
                log.warning("index job %s for %s failed: %s", job.id, job.document_id, exc)
                job.attempts += 1
                job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                job.next_attempt_at = now + backoff(job.attempts)
        # Text is committed before the index write: a crash between them only repeats work.
        session.commit()
        if upserts:
            index.upsert(upserts.values())
        if deletes:
            index.delete(deletes)
        done = server_now()
        if ok:
            session.execute(update(IndexJob).where(IndexJob.id.in_([j.id for j in ok]))
                            .values(done_at=done, attempts=IndexJob.attempts + 1))
        session.commit()
        return effects + len(ok)


# Jobs that change the store or the catalog after a commit (the outbox): each runs in its own
# transaction, never inside the index batch's (whose row locks it would wait for).
EFFECTS = ("amend", "hold")


def _run_effect(sessions: sessionmaker[Session], store: ObjectStore, job: IndexJob) -> None:
    if job.action == "amend":  # an approved amendment's new version
        _apply_amendments(sessions, store, job.document_id)
    elif job.action == "hold":  # a case's legal hold brought in line with its complaints
        from archive.services.complaints import sync_hold

        with sessions() as s:
            sync_hold(s, store, job.document_id)


def _run_effects(sessions: sessionmaker[Session], store: ObjectStore, batch: int) -> int:
    """Run the due after-commit jobs; idempotent handlers, so a retry after a crash is safe."""
    with sessions() as session:
        jobs = session.scalars(due_jobs(server_now()).where(IndexJob.action.in_(EFFECTS))
                               .order_by(IndexJob.id).limit(batch)).all()
        session.commit()
        done = 0
        for job in jobs:
            now = server_now()
            try:
                _run_effect(sessions, store, job)
            except StorageUnavailable as exc:
                job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                job.next_attempt_at = now + dt.timedelta(seconds=UNAVAILABLE_DELAY)
                session.commit()
                break  # the store is down: the others wait too
            except Exception as exc:
                log.warning("job %s (%s %s) failed: %s", job.id, job.action, job.document_id, exc)
                job.attempts += 1
                job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                job.next_attempt_at = now + backoff(job.attempts)
            else:
                job.done_at, job.attempts = now, job.attempts + 1
                done += 1
            session.commit()
        return done


def _apply_amendments(sessions: sessionmaker[Session], store: ObjectStore, doc_id: str) -> None:
    """Write the new versions of the document's approved, not yet applied amendments."""
    from archive.models import Amendment
    from archive.services.amendments import apply_approved

    with sessions() as s:
        ids = s.scalars(select(Amendment.id).where(Amendment.document_id == doc_id, Amendment.status == "approved",
                                                   Amendment.new_version_no.is_(None)).order_by(Amendment.id)).all()
        for amendment_id in ids:
            apply_approved(s, store, amendment_id)


def drain(sessions: sessionmaker[Session], store: ObjectStore, index: SearchIndex,
          limits: ExtractLimits | None = None) -> int:
    """Process jobs until none are left (tests, the CLI, the end of a demo load)."""
    total = 0
    while True:
        n = process_queue(sessions, store, index, limits)
        if n == 0:
            return total
        total += n


def reindex(sessions: sessionmaker[Session], store: ObjectStore, index, *, re_extract: bool = False,
            limits: ExtractLimits | None = None, batch: int = 500, procs: int = 1,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole index into a new generation and swap it in; search stays up meanwhile.

    ``progress(done, total)`` is called after each batch. A build that fails or is interrupted
    is removed and the live generation keeps answering. Documents indexed by the worker while
    the rebuild runs are queued again after the swap.
    """
    limits = limits or ExtractLimits()
    started = server_now()
    target = index.new_generation()
    try:
        with sessions() as session:
            ids = session.scalars(select(Document.id).order_by(Document.uploaded_at)).all()
            cache: dict = {}
            done = 0
            if progress:
                progress(0, len(ids))

            def items():
                nonlocal done
                for i in range(0, len(ids), batch):
                    docs = session.scalars(select(Document).where(Document.id.in_(ids[i:i + batch]))).all()
                    for doc in docs:
                        if re_extract or doc.text_status == "pending":
                            try:
                                extract_and_queue_ocr(session, store, doc, limits)
                            except Exception as exc:
                                log.warning("re-extracting %s failed: %s", doc.id, exc)
                        yield indexed_document(session, doc, cache)
                        if doc.version_no > 1:
                            yield from version_documents(session, doc, cache, store, limits)
                    session.commit()
                    done += len(docs)
                    if progress:
                        progress(done, len(ids))

            n = index.bulk_load(items(), target, procs=procs)
            index.swap_to(target)
            late = session.scalars(select(IndexJob.document_id).where(IndexJob.done_at >= started)).all()
            enqueue(session, set(late))
            session.commit()
    except BaseException:
        index.discard(target)
        raise
    return n


class Progress:
    """``reindex`` progress as a line: documents done of total, rate, time left."""

    def __init__(self, write: Callable[[str], None], every: float = 1.0) -> None:
        self.write = write
        self.every = every
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (total - done) / rate if rate > 0 else 0.0
        self.write(f"{done}/{total} documents, {rate:.0f}/s, "
                   f"{int(left // 60)} min {int(left % 60)} s left" if done < total else
                   f"{done}/{total} documents, {rate:.0f}/s, done in {elapsed:.1f} s")


def rebuild_if_stale(sessions: sessionmaker[Session], store: ObjectStore, index, limits: ExtractLimits | None = None,
                     procs: int = 1) -> int | None:
    """Rebuild the index when its live generation is missing, was built with an older
    analysis, or is empty while the catalog is not (a search made it before the first build,
    e.g. after switching engines); returns the documents indexed, or None when it was current."""
    stale = index.is_stale()
    if not stale and index.doc_count() == 0:
        with sessions() as session:
            stale = bool(session.scalar(select(Document.id).limit(1)))
    if not stale:
        return None
    log.warning("the %s index is missing or was built by an older release: rebuilding it", index.engine)
    n = reindex(sessions, store, index, limits=limits, procs=procs,
                progress=Progress(lambda line: log.warning("reindex: %s", line), every=10.0))
    from archive.indexing.engines import remove_legacy_layout

    remove_legacy_layout(Path(index.root).parent)
    return n


