"""One durable queue for all background work, in the database.

A job is a row of ``jobs``: its kind, its subject (a document or case id), an optional JSON
payload, a priority, the attempts made, when it may next run (back-off), and who holds it until
when (its lease). A job is added in the same transaction as the row it concerns, so committed
work always has its job and a rolled-back change never has one.

Workers claim due jobs whose lease is free or expired: with ``SELECT … FOR UPDATE SKIP LOCKED``
on PostgreSQL, so workers on any machine take different jobs without waiting for each other, and
by a compare-and-set on the lease on SQLite (one writer at a time). A worker that dies leaves its
lease to expire, and the job is claimed again; every handler is idempotent, so an effect that
happened before the crash happens once. Finishing a job is a compare-and-set on its lease holder.

Kinds (the handlers live in ``archive.worker``, the index kinds in ``archive.indexing.queue``):

==========  =====================================================  ====================
kind        what it does                                            who runs it
==========  =====================================================  ====================
hold        bring a case's legal holds in line with its complaints  any worker
amend       store the new version of an approved amendment          any worker
manifest    write the case manifest object (``cases/<id>/case.json``) any worker
extract     read a new document's text, then queue ``upsert``       any worker
verify      read a streamed version back, check it, write receipt   any worker
upsert      (re)index a document; ``versions``: and its old ones    the elected writer
delete      remove a document from the index                        the elected writer
checks      the deadline scan and escalation (rescheduled)          any worker, one at once
fixity      a rolling fixity round (rescheduled)                    any worker, one at once
ocr         recognise the text of a scan                            an OCR worker
render      make, check and store the PDF/A rendition of an         a worker with LibreOffice,
            editable document's version                             one conversion at a time
retain      extend a filed case's object lock to its 保管期限;       any worker
            write its archival record (``archival/<id>.json``)
dispose     an approved 销毁: when no version is retained or held,  any worker
            tombstone, remove every version of the case, register
email       send one notice or digest by SMTP (once: a claim by     a worker with the SMTP
            compare-and-set on the e-mail's status)                  settings
==========  =====================================================  ====================
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.db import compare_and_set
from archive.models import Job
from archive.clock import now as server_now

log = logging.getLogger(__name__)

INDEX_KINDS = ("upsert", "versions", "delete")
SCHEDULED = ("checks", "fixity")  # at most one open job of each (a partial unique index)
PRIORITY = {"hold": 10, "amend": 10, "manifest": 20, "extract": 30, "verify": 35, "upsert": 40, "versions": 40,
            "delete": 40, "checks": 50, "fixity": 60, "ocr": 70, "render": 45, "examine": 42, "retain": 15,
            "dispose": 65, "email": 25}  # lower runs first
LEASE = {"ocr": dt.timedelta(minutes=30), "fixity": dt.timedelta(minutes=30), "checks": dt.timedelta(minutes=30),
         "verify": dt.timedelta(minutes=30), "render": dt.timedelta(minutes=15),
         "dispose": dt.timedelta(minutes=30)}  # (verify reads a file of up to MAX_UPLOAD_BYTES back)
DEFAULT_LEASE = dt.timedelta(minutes=2)  # a job of a worker that died runs again after this
MAX_ATTEMPTS = 5  # failures after which a job counts as failed (it is still retried)
BASE_DELAY = 5  # seconds before the second try; doubles after each failure
MAX_DELAY = 3600  # the longest wait between tries
UNAVAILABLE_DELAY = 5  # seconds: a store that does not answer is asked again soon
KEEP_DONE = dt.timedelta(days=30)  # finished jobs are kept this long (``archive worker --status``), then removed


def holder_name(role: str = "worker") -> str:
    """A lease holder's name: host, process and role (shown by ``archive worker --status``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"[:64]


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds: what its handler needs, detached from any session."""

    id: int
    kind: str
    subject: str
    payload: dict
    attempts: int


def enqueue(session: Session, kind: str, subject: str = "", payload: dict | None = None, *,
            at: dt.datetime | None = None, priority: int | None = None) -> Job:
    """Add a job to the caller's transaction (committed with the change it follows)."""
    job = Job(kind=kind, subject=subject, payload=json.dumps(payload, ensure_ascii=False) if payload else None,
              priority=PRIORITY.get(kind, 50) if priority is None else priority,
              created_at=server_now(), next_attempt_at=at)
    session.add(job)
    return job


def enqueue_index(session: Session, doc_ids: Iterable[str], kind: str = "upsert") -> None:
    """Index jobs for documents (committed by the caller)."""
    for doc_id in doc_ids:
        enqueue(session, kind, doc_id)


def ensure_scheduled(session: Session, kind: str, at: dt.datetime) -> bool:
    """Make sure one open job of a scheduled kind exists (the first worker to start adds it,
    a unique index refuses a second); True if this call added it. Commits."""
    if session.scalar(select(Job.id).where(Job.kind == kind, Job.done_at.is_(None))) is not None:
        session.rollback()
        return False
    try:
        enqueue(session, kind, at=at)
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def due(now: dt.datetime, kinds: Iterable[str]):
    """Jobs of ``kinds`` that may run at ``now``: not done, not waiting, not held."""
    return select(Job).where(
        Job.kind.in_(list(kinds)), Job.done_at.is_(None),
        or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= now),
        or_(Job.lease_expires_at.is_(None), Job.lease_expires_at <= now))


def claim(session: Session, kinds: Iterable[str], holder: str, *, limit: int = 1,
          job_ids: Iterable[int] | None = None, lease: dt.timedelta | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due jobs of ``kinds`` (lowest priority number first, then oldest)
    to ``holder``; commits. Two workers never hold one job at once."""
    kinds = list(kinds)
    now = server_now()
    q = due(now, kinds).order_by(Job.priority, Job.id)
    if job_ids is not None:
        q = q.where(Job.id.in_(list(job_ids)))
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # rows another worker is claiming are skipped, not waited for
        q = q.with_for_update(skip_locked=True)
    rows = session.scalars(q.limit(limit if postgres else limit * 4)).all()
    got: list[Claimed] = []
    for job in rows:
        if len(got) >= limit:
            break
        expires = now + (lease or LEASE.get(job.kind, DEFAULT_LEASE))
        seen = job.lease_expires_at
        guard = Job.lease_expires_at.is_(None) if seen is None else Job.lease_expires_at == seen
        if compare_and_set(session, update(Job).where(Job.id == job.id, Job.done_at.is_(None), guard)
                           .values(lease_holder=holder, lease_expires_at=expires)
                           .execution_options(synchronize_session=False)):
            got.append(Claimed(job.id, job.kind, job.subject,
                               json.loads(job.payload) if job.payload else {}, job.attempts))
    session.commit()
    return got


def renew(session: Session, job_id: int, holder: str, lease: dt.timedelta) -> bool:
    """Extend a held lease (a long job); False if the lease was lost to another worker."""
    ok = compare_and_set(session, update(Job).where(Job.id == job_id, Job.lease_holder == holder,
                                                    Job.done_at.is_(None))
                         .values(lease_expires_at=server_now() + lease))
    session.commit()
    return ok


def finish(session: Session, job_ids: Iterable[int], holder: str) -> int:
    """Mark held jobs done in the caller's transaction (not committed); returns how many this
    holder still held. A job whose lease expired and was claimed again is left to its new holder."""
    ids = list(job_ids)
    if not ids:
        return 0
    res = session.execute(update(Job).where(Job.id.in_(ids), Job.lease_holder == holder, Job.done_at.is_(None))
                          .values(done_at=server_now(), attempts=Job.attempts + 1, lease_expires_at=None)
                          .execution_options(synchronize_session=False))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failures: doubling from BASE_DELAY, capped."""
    return dt.timedelta(seconds=min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)))


def fail(session: Session, job_id: int, holder: str, exc: BaseException | None, *,
         spend: bool = True, delay: dt.timedelta | None = None) -> None:
    """Give a held job back after a failure (commits): the attempt is counted (``spend``) and
    the job waits ``delay`` or the back-off for its attempts. ``exc`` None: given back unharmed."""
    job = session.get(Job, job_id)
    if job is None or job.lease_holder != holder or job.done_at is not None:
        session.rollback()
        return
    if spend:
        job.attempts += 1
    if exc is not None:
        job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    job.lease_holder, job.lease_expires_at = None, None
    job.next_attempt_at = None if exc is None else server_now() + (delay if delay is not None else backoff(job.attempts))
    session.commit()


def release_kinds(session: Session, kinds: Iterable[str]) -> None:
    """Free every lease of ``kinds`` (the new index writer takes over its dead predecessor's
    jobs at once: the writer's lock says no one else holds them). Commits."""
    session.execute(update(Job).where(Job.kind.in_(list(kinds)), Job.done_at.is_(None),
                                      Job.lease_holder.is_not(None))
                    .values(lease_holder=None, lease_expires_at=None))
    session.commit()


def prune(session: Session, before: dt.datetime, limit: int = 10_000) -> int:
    """Remove up to ``limit`` jobs finished before ``before`` (a city adds millions a year);
    commits. Returns how many were removed."""
    ids = select(Job.id).where(Job.done_at.is_not(None), Job.done_at < before).order_by(Job.id).limit(limit)
    res = session.execute(delete(Job).where(Job.id.in_(ids.scalar_subquery())).execution_options(
        synchronize_session=False))
    session.commit()
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def queue_depth(session: Session) -> dict[str, int]:
    """Jobs waiting, jobs that failed MAX_ATTEMPTS times or more (still retried, at the longest
    back-off, until their cause is gone), and of the open jobs those waiting for OCR."""
    open_ = Job.done_at.is_(None)
    pending = session.scalar(select(func.count()).select_from(Job).where(
        open_, Job.attempts < MAX_ATTEMPTS, Job.kind.not_in(SCHEDULED))) or 0
    failed = session.scalar(select(func.count()).select_from(Job).where(open_, Job.attempts >= MAX_ATTEMPTS)) or 0
    ocr = session.scalar(select(func.count()).select_from(Job).where(open_, Job.kind == "ocr")) or 0
    return {"pending": pending, "failed": failed, "ocr_pending": ocr}


def job_status(session: Session, limit: int = 50) -> dict[str, Any]:
    """Queue depth, the jobs held now, and the jobs that have failed at least once
    (``archive worker --status``)."""
    failing = session.scalars(select(Job).where(Job.done_at.is_(None), Job.last_error.is_not(None))
                              .order_by(Job.attempts.desc(), Job.id).limit(limit)).all()
    held = session.scalars(select(Job).where(Job.done_at.is_(None), Job.lease_holder.is_not(None),
                                             Job.lease_expires_at > server_now()).order_by(Job.id).limit(limit)).all()
    by_kind = session.execute(select(Job.kind, func.count()).where(Job.done_at.is_(None)).group_by(Job.kind)).all()
    return queue_depth(session) | {
        "by_kind": {str(k): int(v) for k, v in by_kind},
        "held": [{"id": j.id, "kind": j.kind, "subject": j.subject, "holder": j.lease_holder,
                  "until": j.lease_expires_at.isoformat() if j.lease_expires_at else None} for j in held],
        "jobs": [{"id": j.id, "action": j.kind, "subject": j.subject, "attempts": j.attempts,
                  "next_attempt_at": j.next_attempt_at.isoformat() if j.next_attempt_at else None,
                  "last_error": (j.last_error or "")[:200]} for j in failing]}
