"""The background worker: it runs the jobs of the durable queue (``archive.jobs``).

Every worker runs the general jobs (outbox effects, case manifests, text extraction, the
deadline scan and the fixity round on their schedules); the one elected index writer
(``archive.indexing.writer``) also writes the index. Several workers, on one machine or many,
share the queue: each claims different jobs. The module lives apart from ``archive.indexing``
so that the index package knows nothing of deadlines, fixity or manifests.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from archive import jobs
from archive.extraction.base import ExtractLimits
from archive.indexing.base import SearchIndex
from archive.indexing.queue import extract_job, process_index, rebuild_if_stale
from archive.models import ArchivalFile, Case, Job
from archive.clock import now as server_now
from archive.services.ingest import IngestSettings
from archive.services.examinations import ExamineSettings, settings_of as examine_settings
from archive.services.renditions import RenderSettings
from archive.storage.base import ObjectStore, StorageUnavailable

log = logging.getLogger("archive.worker")


@dataclass
class Context:
    """What the handlers need."""

    sessions: sessionmaker[Session]
    store: ObjectStore
    index: SearchIndex
    limits: ExtractLimits
    settings: IngestSettings | None = None  # None: manifest jobs are left to a worker that has it
    checks_every: float = 600.0
    fixity_period_days: int | None = None
    render: RenderSettings | None = None  # None: no LibreOffice here; renditions are left to a worker that has it
    examine: ExamineSettings = ExamineSettings()
    config: dict = field(default_factory=dict)  # the instance's settings (the keeping check's rules and scanner)

    @classmethod
    def of(cls, archive) -> "Context":
        cfg = archive.config
        return cls(archive.sessions, archive.store, archive.index, archive.extract_limits,
                   archive.ingest_settings, float(cfg.get("CHECKS_EVERY_SECONDS", 600)),
                   cfg.get("FIXITY_PERIOD_DAYS"), render_settings(cfg), examine_settings(cfg), dict(cfg))

    def slow_kinds(self) -> tuple[str, ...]:
        """Kinds that take seconds each (a LibreOffice conversion): one per round, after the index."""
        return ("render",) if self.render is not None and self.settings is not None else ()

    def kinds(self, scheduled: bool = True) -> tuple[str, ...]:
        """The general kinds this worker can run."""
        out = ["hold", "amend", "extract", "examine", "retain", "dispose", "email"]
        if self.settings is not None:
            out += ["manifest", "verify"]
        if scheduled:
            out.append("checks")
            if self.fixity_period_days:
                out.append("fixity")
        return tuple(out)


def render_settings(cfg: dict) -> RenderSettings | None:
    """LibreOffice for renditions, from the configuration; None where it is not installed (or off)."""
    from archive.casefile.bundle import find_soffice

    soffice = find_soffice(cfg.get("LIBREOFFICE", ""))
    if soffice is None:
        return None
    return RenderSettings(soffice, float(cfg.get("RENDITION_SECONDS", 180)),
                          int(cfg.get("RENDITION_MEMORY_MB", 2048)) * 1024**2)


# -- handlers: each idempotent (a job whose worker died runs again) ------------------------------

def _hold(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """A case's legal holds brought in line with its open complaints."""
    from archive.services.complaints import sync_hold

    with ctx.sessions() as s:
        sync_hold(s, ctx.store, job.subject)


def _amend(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """Store the new versions of the document's approved, not yet applied amendments."""
    from sqlalchemy import select

    from archive.models import Amendment
    from archive.services.amendments import apply_approved

    with ctx.sessions() as s:
        ids = s.scalars(select(Amendment.id).where(
            Amendment.document_id == job.subject, Amendment.status == "approved",
            Amendment.new_version_no.is_(None)).order_by(Amendment.id)).all()
        for amendment_id in ids:
            apply_approved(s, ctx.store, amendment_id)


def _manifest(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """Write the case's manifest as it is now. It also ends the case's other manifest jobs that
    nobody holds and that were committed before the case was read: each was committed with its
    change, so the manifest written covers it (many changes in a row make one new version)."""
    from sqlalchemy import select

    from archive.models import Case
    from archive.services.rebuild import write_manifest

    assert ctx.settings is not None
    with ctx.sessions() as s:
        covered = s.scalars(select(Job.id).where(Job.kind == "manifest", Job.subject == job.subject,
                                                 Job.id != job.id, Job.done_at.is_(None),
                                                 Job.lease_holder.is_(None))).all()
        case = s.get(Case, job.subject)  # read after the jobs above: their changes are in it
        if case is not None:
            write_manifest(s, ctx.store, ctx.settings, case)
        if covered:
            s.execute(update(Job).where(Job.id.in_(covered), Job.done_at.is_(None), Job.lease_holder.is_(None))
                      .values(done_at=server_now()))
        jobs.finish(s, [job.id], holder)
        s.commit()


def _verify(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """Read a streamed version back, compare its SHA-256 with its row's, write its receipt."""
    from archive.services.fixity import verify_stored

    assert ctx.settings is not None
    with ctx.sessions() as s:
        verify_stored(s, ctx.store, ctx.settings, job.subject, server_now())


def _render(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """The PDF/A rendition of an editable document's current version (one conversion at a time:
    a worker runs its jobs one after another)."""
    from archive.services.renditions import render

    assert ctx.settings is not None and ctx.render is not None
    render(ctx.sessions, ctx.store, ctx.settings, ctx.render, job.subject)


def _examine(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """Format, encryption, format policy and signatures of one stored version."""
    from archive.services.examinations import examine

    examine(ctx.sessions, ctx.store, ctx.examine, job.subject, (job.payload or {}).get("version_id"))


def _extract(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    extract_job(ctx.sessions, ctx.store, ctx.limits, job, holder)


def _reschedule(ctx: Context, job: jobs.Claimed, holder: str, every: float) -> None:
    """End a scheduled job and add its next run, in one transaction."""
    with ctx.sessions() as s:
        if jobs.finish(s, [job.id], holder):
            jobs.enqueue(s, job.kind, at=server_now() + dt.timedelta(seconds=every))
        s.commit()


def _checks(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """The deadline scan and escalation (idempotent: a fact is stored once); then jobs finished
    long ago are removed."""
    from archive.services.rounds import run_checks

    run_checks(ctx.sessions, server_now())
    with ctx.sessions() as s:
        jobs.prune(s, server_now() - jobs.KEEP_DONE)
    _watch_audit_chain(ctx)
    from archive.services.timestamps import stamp_audit_head, tsa_settings

    stamp_audit_head(ctx.sessions, tsa_settings(ctx.config), server_now())  # daily; retried each round until it works
    _reschedule(ctx, job, holder, ctx.checks_every)


def notify_round(ctx: Context) -> None:
    """消息: the notices of what happened since the last look, their e-mails by each person's
    choice, and (from the digest hour) the day's digests."""
    from archive.services import notices

    with ctx.sessions() as s:
        notices.collect(s, server_now())
        notices.queue_emails(s, ctx.config, server_now())
        notices.digests(s, ctx.config, server_now())


NOTIFY_EVERY = 15.0  # seconds between two looks for new notices


def _email(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """Send one e-mail (a notice or a digest): once, whatever the retries and workers."""
    from archive.services.notices import mail_enabled, send

    if not mail_enabled(ctx.config):  # a worker without the SMTP settings leaves it to one with them
        raise RuntimeError("ARCHIVE_SMTP_HOST is not set for this worker")
    send(ctx.sessions, ctx.config, int(job.subject), server_now())


AUDIT_WATCH_EVERY = dt.timedelta(days=1)
_audit_watched: dict[int, dt.datetime] = {}  # by sessionmaker: when this process last verified the chain


def _watch_audit_chain(ctx: Context) -> None:
    """Once a day (and at a worker's first round), the whole audit chain is verified; a break is
    a level-3 alert to the audit administrator (``audit.watch``)."""
    from archive import audit

    last = _audit_watched.get(id(ctx.sessions))
    if last is not None and server_now() - last < AUDIT_WATCH_EVERY:
        return
    _audit_watched[id(ctx.sessions)] = server_now()
    audit.watch(ctx.sessions)


def _fixity(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """A rolling fixity round: the least recently checked documents, every object within the period."""
    from archive.services.fixity import rolling_round

    if ctx.fixity_period_days:
        rolling_round(ctx.sessions, ctx.store, server_now(), ctx.checks_every, ctx.fixity_period_days)
        from archive.services.archival import keeping_round

        keeping_round(ctx.sessions, ctx.store, ctx.config, server_now())  # 长期保存: one filed case a round
    _reschedule(ctx, job, holder, ctx.checks_every)


def _retain(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """A filed case's stored versions retained to the end of its 保管期限 (retried until done)."""
    from archive.services.archival import extend_case_retention

    from archive.services import archivalrecord
    from archive.services.rebuild import case_manifest

    with ctx.sessions() as s:
        extend_case_retention(s, ctx.store, job.subject)
        case = s.get(Case, job.subject)
        row = s.get(ArchivalFile, job.subject)
        if case is not None and row is not None:  # the record rebuild restores the archival state from
            manifest = case_manifest(s, case) if row.status in ("disposing", "disposed") else None
            archivalrecord.write(s, ctx.store, ingest_settings(ctx), job.subject, manifest, server_now())


def ingest_settings(ctx: Context) -> IngestSettings:
    """The worker's ingest settings, or those of its configuration."""
    return ctx.settings if ctx.settings is not None else IngestSettings.from_config(ctx.config)


def _dispose(ctx: Context, job: jobs.Claimed, holder: str) -> None:
    """An approved disposal (销毁): waits, without spending an attempt, until every stored
    version of the case is out of retention and hold; never bypasses object lock."""
    from archive.services.disposal import DisposalWaits, dispose_case

    try:
        dispose_case(ctx.sessions, ctx.store, ingest_settings(ctx), job.subject)
    except DisposalWaits as wait:
        log.info("disposal of %s waits: %s", job.subject, wait.why)
        with ctx.sessions() as s:
            jobs.fail(s, job.id, holder, wait, spend=False, delay=max(dt.timedelta(seconds=1), wait.at - server_now()))


HANDLERS: dict[str, Callable[[Context, jobs.Claimed, str], None]] = {
    "hold": _hold, "amend": _amend, "manifest": _manifest, "verify": _verify, "extract": _extract,
    "checks": _checks, "fixity": _fixity, "render": _render,
    "examine": _examine, "retain": _retain, "dispose": _dispose, "email": _email,
}


def run_jobs(ctx: Context, holder: str, kinds: tuple[str, ...] | None = None, batch: int = 20) -> int:
    """Claim and run due general jobs one at a time, up to ``batch``; returns how many were done.
    A failure is recorded on the job, which waits its back-off; a store that does not answer
    stops the round without spending an attempt."""
    kinds = kinds if kinds is not None else ctx.kinds()
    done = 0
    while done < batch:
        with ctx.sessions() as s:
            got = jobs.claim(s, kinds, holder)
        if not got:
            break
        job = got[0]
        try:
            HANDLERS[job.kind](ctx, job, holder)
        except StorageUnavailable as exc:
            log.warning("job %s (%s %s) waits for the object store: %s", job.id, job.kind, job.subject, exc)
            with ctx.sessions() as s:
                jobs.fail(s, job.id, holder, exc, spend=False, delay=dt.timedelta(seconds=jobs.UNAVAILABLE_DELAY))
            break
        except Exception as exc:  # one bad job must not stop the others
            log.warning("job %s (%s %s) failed: %s", job.id, job.kind, job.subject, exc)
            with ctx.sessions() as s:
                jobs.fail(s, job.id, holder, exc)
            continue
        with ctx.sessions() as s:  # (a handler that finished its job in its own transaction: a no-op)
            jobs.finish(s, [job.id], holder)
            s.commit()
        done += 1
    return done


def run_round(ctx: Context, holder: str, writer: bool = True, kinds: tuple[str, ...] | None = None) -> int:
    """One round of a worker: due general jobs, then (the index writer) a batch of index jobs;
    returns how many jobs were done."""
    done = run_jobs(ctx, holder, kinds)
    if writer:
        done += process_index(ctx.sessions, ctx.store, ctx.index, ctx.limits, holder=holder)
    if kinds is None and ctx.slow_kinds():
        done += run_jobs(ctx, holder, ctx.slow_kinds(), batch=1)
    return done


def drain(sessions: sessionmaker[Session], store: ObjectStore, index: SearchIndex,
          limits: ExtractLimits | None = None, settings: IngestSettings | None = None,
          render: RenderSettings | None = None, examine: ExamineSettings | None = None) -> int:
    """Run every due job except the scheduled ones and OCR (and renditions unless ``render``),
    this process acting as the index writer, until none is left (tests, ``archive worker
    --once``, the end of a demo load); returns how many index jobs were completed."""
    ctx = Context(sessions, store, index, limits or ExtractLimits(), settings, render=render,
                  examine=examine or ExamineSettings())
    holder = jobs.holder_name("drain")
    indexed = 0
    while True:
        n = run_jobs(ctx, holder, ctx.kinds(scheduled=False) + ctx.slow_kinds(), batch=200)
        m = process_index(sessions, store, index, ctx.limits, holder=holder)
        indexed += m
        if n == 0 and m == 0:
            return indexed


class Worker(threading.Thread):
    """Background thread running the queue every ``poll`` seconds (``archive serve``,
    ``archive worker``). Of several workers, the elected index writer also writes the index."""

    def __init__(self, sessions, store, index, limits: ExtractLimits, poll: float = 1.0,
                 checks_every: float = 600.0, fixity_period_days: int | None = None,
                 settings: IngestSettings | None = None, render: RenderSettings | None = None,
                 examine: ExamineSettings | None = None, config: dict | None = None) -> None:
        from archive.indexing.writer import IndexWriterLease

        super().__init__(name="archive-worker", daemon=True)
        self.ctx = Context(sessions, store, index, limits, settings, checks_every, fixity_period_days, render,
                           examine or ExamineSettings(), dict(config or {}))
        self.poll = poll
        self.stopping = threading.Event()
        self.lease = IndexWriterLease(sessions.kw["bind"], index.root)
        self.holder = jobs.holder_name(f"worker-{id(self) % 10000}")
        self.jobs_done = 0  # index jobs this worker completed
        self.other_done = 0  # general jobs this worker completed

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.lease.release()

    def _schedule(self) -> None:
        """The deadline scan (and fixity round) exist as jobs: the first worker adds them."""
        with self.ctx.sessions() as s:
            jobs.ensure_scheduled(s, "checks", server_now())
            if self.ctx.fixity_period_days:
                jobs.ensure_scheduled(s, "fixity", server_now())

    def _loop(self) -> None:
        was_writer = False
        rebuilt = False
        next_schedule = next_notify = 0.0
        while not self.stopping.is_set():
            try:
                writer = self.lease.acquire()
            except Exception as exc:  # the database is down: try again later
                log.warning("worker: %s", exc)
                self.stopping.wait(max(self.poll, 5))
                continue
            try:
                if writer and not was_writer:
                    # the lock says no one else writes: the last writer's index jobs are free now
                    with self.ctx.sessions() as s:
                        jobs.release_kinds(s, jobs.INDEX_KINDS)
                    was_writer = True
                elif not writer:
                    was_writer = False
                if writer and not rebuilt:
                    # An index missing or built by an older analysis is rebuilt beside the live
                    # one (which answers meanwhile) before index jobs are run.
                    rebuild_if_stale(self.ctx.sessions, self.ctx.store, self.ctx.index, self.ctx.limits)
                    rebuilt = True
                if time.monotonic() >= next_schedule:
                    self._schedule()
                    next_schedule = time.monotonic() + 60
                if time.monotonic() >= next_notify:
                    notify_round(self.ctx)  # (idempotent: two workers make each notice once)
                    next_notify = time.monotonic() + NOTIFY_EVERY
                done = run_jobs(self.ctx, self.holder)
                self.other_done += done
                if writer:
                    n = process_index(self.ctx.sessions, self.ctx.store, self.ctx.index, self.ctx.limits,
                                      holder=self.holder)
                    self.jobs_done += n
                    done += n
                if self.ctx.slow_kinds():  # one conversion, then the index and the others again
                    done += run_jobs(self.ctx, self.holder, self.ctx.slow_kinds(), batch=1)
                if done == 0:
                    self.stopping.wait(self.poll)
            except Exception as exc:  # storage, index or database down: keep the jobs, try later
                log.warning("worker: %s", exc)
                self.stopping.wait(max(self.poll, 5))

    def stop(self) -> None:
        self.stopping.set()
