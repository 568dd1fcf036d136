"""The background worker: the index queue (when this worker is the elected index writer), the
deadline checks and escalation on a schedule, and the rolling fixity round. It lives apart from
``archive.indexing`` so that the index package knows nothing of deadlines or fixity."""
from __future__ import annotations

import logging
import threading
import time

from archive.extraction.base import ExtractLimits
from archive.indexing.queue import process_queue, rebuild_if_stale
from archive.services.clock import now as server_now

log = logging.getLogger("archive.worker")


class Worker(threading.Thread):
    """Background thread draining the queue every ``poll`` seconds (``archive serve``,
    ``archive worker``). Of several workers, the elected index writer drains the index queue;
    the others run the deadline checks and wait to take over."""

    def __init__(self, sessions, store, index, limits: ExtractLimits, poll: float = 1.0,
                 checks_every: float = 600.0, fixity_period_days: int | None = None) -> None:
        from archive.indexing.writer import IndexWriterLease

        super().__init__(name="index-worker", daemon=True)
        self.args = (sessions, store, index, limits)
        self.poll = poll
        self.checks_every = checks_every
        self.fixity_period_days = fixity_period_days
        self.stopping = threading.Event()
        self.lease = IndexWriterLease(sessions.kw["bind"], index.root)
        self.jobs_done = 0  # index jobs this worker completed

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.lease.release()

    def _loop(self) -> None:
        next_checks = 0.0
        rebuilt = False
        while not self.stopping.is_set():
            try:
                writer = self.lease.acquire()
            except Exception as exc:  # the database is down: try again later
                log.warning("index worker: %s", exc)
                self.stopping.wait(max(self.poll, 5))
                continue
            if not writer:  # another worker writes the index: checks only, then wait
                try:
                    if time.monotonic() >= next_checks:
                        from archive.deadlines.warnings import run_checks

                        next_checks = time.monotonic() + self.checks_every
                        run_checks(self.args[0], server_now())
                except Exception as exc:
                    log.warning("deadline checks: %s", exc)
                self.stopping.wait(self.poll)
                continue
            if not rebuilt:
                # An index missing or built by an older analysis is rebuilt beside the live one
                # (which answers meanwhile) before the queue is drained.
                try:
                    rebuild_if_stale(*self.args)
                    rebuilt = True
                except Exception as exc:
                    log.warning("rebuilding the stale index failed, retried: %s", exc)
                    self.stopping.wait(max(self.poll, 5))
                    continue
            try:
                if time.monotonic() >= next_checks:
                    # Deadline warnings: scan and escalate on a schedule.
                    from archive.deadlines.warnings import run_checks

                    next_checks = time.monotonic() + self.checks_every
                    run_checks(self.args[0], server_now())
                    if self.fixity_period_days:
                        # a rolling fixity check: every object within the period
                        from archive.services.fixity import rolling_round

                        rolling_round(self.args[0], self.args[1], server_now(), self.checks_every,
                                      self.fixity_period_days)
                done = process_queue(*self.args)
                self.jobs_done += done
                if done == 0:
                    self.stopping.wait(self.poll)
            except Exception as exc:  # storage or index down: keep the jobs, try again later
                log.warning("index worker: %s", exc)
                self.stopping.wait(max(self.poll, 5))

    def stop(self) -> None:
        self.stopping.set()
