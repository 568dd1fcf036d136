"""The index writer: one worker at a time writes the index, elected rather than assumed.

On PostgreSQL the writer holds a session advisory lock on a connection of its own, so every
worker of the database competes for it, on any machine; when the holder dies its connection
closes and another worker takes over at its next poll. On SQLite (one machine) it holds an
exclusive ``flock`` on a file beside the index. Workers that are not the writer leave index jobs
alone (they still run the deadline checks, which are idempotent).
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x61726368_696E6478  # "archindx": the same key in every process


class IndexWriterLease:
    def __init__(self, engine, index_root: str | Path) -> None:
        self.engine = engine
        self.path = Path(index_root).parent / "writer.lock"
        self._conn = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None

    def acquire(self) -> bool:
        """Become the writer if nobody is (never waits); True while held."""
        if self.held:
            return self._still_held()
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                got = conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).scalar()
                conn.commit()
            except Exception:
                conn.close()
                raise
            if got:
                self._conn = conn
                log.info("this worker writes the index (advisory lock %x)", ADVISORY_KEY)
            else:
                conn.close()
            return bool(got)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def _still_held(self) -> bool:
        if self._conn is None:
            return True
        try:  # the lock lives as long as its connection: a lost connection lost it
            self._conn.exec_driver_sql("SELECT 1").scalar()
            self._conn.commit()
            return True
        except Exception:
            log.warning("the index writer's database connection was lost: standing down")
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))
                self._conn.commit()
            except Exception:  # the connection is gone, and the lock with it
                pass
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
