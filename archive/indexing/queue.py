"""Index jobs of the durable queue (``archive.jobs``): extraction and the index writer's batch.

An upload adds an ``extract`` job in the same transaction as its document row. Any worker runs
it: the text is read once from the stored object and written on the document, and an ``upsert``
job is added in the same transaction. Only the elected index writer (``archive.indexing.writer``)
claims ``upsert``/``versions``/``delete`` jobs, in batches, and writes the index; an upsert is
by document id, so running a job twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archive import jobs
from archive.extraction import extract, normalise
from archive.extraction.base import ExtractLimits
from archive.indexing.base import IndexedDocument, SearchIndex
from archive.models import Case, Document, Job, Organisation, Stage
from archive.ocr.jobs import enqueue_ocr, wants_ocr
from archive.clock import now as server_now
from archive.storage.base import ObjectStore, StorageUnavailable
from forms import load_catalog

log = logging.getLogger(__name__)


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


def extract_job(sessions: sessionmaker[Session], store: ObjectStore, limits: ExtractLimits, job: jobs.Claimed,
                holder: str) -> None:
    """Read a new document's text and hand it to the index writer: the text, the ``upsert``
    job and the end of this job are one transaction. A document already read is handed over
    again without reading it (a retry after a crash)."""
    with sessions() as session:
        doc = session.get(Document, job.subject)
        if doc is not None:
            if doc.text_status == "pending":
                extract_and_queue_ocr(session, store, doc, limits)
            jobs.enqueue(session, "upsert", doc.id)
        jobs.finish(session, [job.id], holder)
        session.commit()


def process_index(sessions: sessionmaker[Session], store: ObjectStore, index: SearchIndex,
                  limits: ExtractLimits | None, batch: int = 50, *, holder: str) -> int:
    """The index writer's batch: claim up to ``batch`` index jobs, write them to the index in
    one commit, finish them; returns how many were completed. Only the elected writer calls it."""
    limits = limits or ExtractLimits()
    with sessions() as session:
        claimed = jobs.claim(session, jobs.INDEX_KINDS, holder, limit=batch)
        if not claimed:
            return 0
        upserts: dict[str, IndexedDocument] = {}
        deletes: set[str] = set()
        ok: list[int] = []
        cache: dict = {}
        for n, job in enumerate(claimed):
            try:
                doc = session.get(Document, job.subject)
                if job.kind == "delete" or doc is None or doc.disposed_at is not None:
                    deletes.add(job.subject)
                else:
                    if doc.text_status == "pending":  # queued without extraction (reconcile, rebuild)
                        extract_and_queue_ocr(session, store, doc, limits)
                    upserts[doc.id] = indexed_document(session, doc, cache)
                    if job.kind == "versions":  # an amendment was approved: index the old ones too
                        for old in version_documents(session, doc, cache, store, limits):
                            upserts[old.doc_id] = old
                ok.append(job.id)
            except StorageUnavailable as exc:  # not the job's fault: retried soon, no attempt spent
                log.warning("index job %s waits for the object store: %s", job.id, exc)
                session.commit()
                for rest in claimed[n:]:  # the rest wait for the store too
                    jobs.fail(session, rest.id, holder, exc, spend=False,
                              delay=dt.timedelta(seconds=jobs.UNAVAILABLE_DELAY))
                break
            except Exception as exc:  # one bad job must not stop the queue
                log.warning("index job %s for %s failed: %s", job.id, job.subject, exc)
                session.commit()
                jobs.fail(session, job.id, holder, exc)
        # Text is committed before the index write: a crash between them only repeats work.
        session.commit()
        try:
            if upserts:
                index.upsert(upserts.values())
            if deletes:
                index.delete(deletes)
        except Exception as exc:
            for job_id in ok:  # the index refused the batch (disk full): not the jobs' fault
                jobs.fail(session, job_id, holder, exc, spend=False, delay=dt.timedelta(0))
            raise
        jobs.finish(session, ok, holder)
        session.commit()
        return len(ok)


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
            ids = session.scalars(select(Document.id).where(Document.disposed_at.is_(None))  # 销毁: not searchable
                                  .order_by(Document.uploaded_at)).all()
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
            late = session.scalars(select(Job.subject).where(Job.kind.in_(jobs.INDEX_KINDS),
                                                             Job.done_at >= started)).all()
            jobs.enqueue_index(session, set(late))
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


def ancestry(session: Session, code: str) -> dict[str, str]:
    """{"agency": …, "district": …, "city": …} codes above and including ``code``."""
    out: dict[str, str] = {}
    seen = set()
    current = session.get(Organisation, code)
    while current is not None and current.code not in seen:
        seen.add(current.code)
        out.setdefault(current.level, current.code)
        current = session.get(Organisation, current.parent_code) if current.parent_code else None
    return out
