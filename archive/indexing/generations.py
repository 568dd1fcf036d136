"""Index generations on disk, the same for every engine.

An engine's root holds generations ``gen-<stamp>/`` and a file ``CURRENT`` naming the live one.
``archive reindex`` fills a new generation beside the live one and swaps ``CURRENT`` atomically
(a rename), so search never stops; a build that fails or is interrupted is removed and the live
generation is untouched. Each generation records the analysis it was built with (``ANALYSIS``):
one built by an older release is still served, and reported stale so that it gets rebuilt.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
import threading
from typing import Any, Callable, Generic, TypeVar

from archive.indexing.analysis import ANALYSIS_VERSION
from archive.indexing.base import IndexStats

MARKER = "ANALYSIS"
LEFTOVER_SECONDS = 3600  # a generation directory untouched this long is a dead build


def _remove(d: Path) -> None:
    """Remove a generation; a reader still opening it may recreate a lock file inside while it
    goes, so the removal is tried again (what remains is collected by a later swap)."""
    for _ in range(20):
        shutil.rmtree(d, ignore_errors=True)
        if not d.exists():
            return
        time.sleep(0.01)


class Generations:
    """The generations of one engine under ``root``; ``create(path)`` makes an empty index."""

    def __init__(self, root: str | Path, create: Callable[[Path], Any]) -> None:
        self.root = Path(root)
        self._create = create

    def current_dir(self) -> Path:
        """The live generation, created empty on first use.

        A reader that finds the pointer naming a generation just swapped out reads the pointer
        again; only a root without a pointer gets a new generation, and of two processes
        creating one at once the first pointer wins.
        """
        for _ in range(50):
            live = self.live_dir()
            if live is not None:
                return live
            if (self.root / "CURRENT").exists():
                time.sleep(0.01)  # a swap is under way, or the pointer names a lost generation
                continue
            d = self.new_generation()
            tmp = self.root / f"CURRENT.{os.getpid()}.{time.monotonic_ns()}.tmp"
            tmp.write_text(d.name)
            try:
                os.link(tmp, self.root / "CURRENT")  # fails if another writer made one first
            except FileExistsError:
                shutil.rmtree(d, ignore_errors=True)
            finally:
                tmp.unlink(missing_ok=True)
        # The pointer names a generation that is gone for good: start an empty one (a rebuild
        # is reported due by is_stale until ``archive reindex`` or the worker fills it).
        d = self.new_generation()
        self.swap_to(d)
        (d / MARKER).write_text("lost")
        return d

    def live_dir(self) -> Path | None:
        """The live generation, or None before the first (or while the pointer is dangling)."""
        pointer = self.root / "CURRENT"
        try:
            name = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        d = self.root / name
        return d if name and d.is_dir() else None

    def new_generation(self) -> Path:
        """An empty index in a fresh directory (not yet live)."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        d = self.root / f"gen-{stamp}"
        d.mkdir()
        self._create(d)
        (d / MARKER).write_text(ANALYSIS_VERSION)
        return d

    def swap_to(self, d: Path) -> None:
        """Make generation ``d`` live (atomic rename of the pointer), then drop the one it
        replaced and leftovers of builds that died (untouched for an hour); a build under way
        beside it is left alone."""
        previous = self.live_dir()
        tmp = self.root / f"CURRENT.{os.getpid()}.{time.monotonic_ns()}.tmp"
        tmp.write_text(d.name)
        os.replace(tmp, self.root / "CURRENT")
        if previous is not None and previous != d:
            _remove(previous)
        cutoff = time.time() - LEFTOVER_SECONDS
        for old in self.root.glob("gen-*"):
            try:
                if old != d and old.is_dir() and old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
            except FileNotFoundError:
                continue

    def discard(self, d: Path) -> None:
        """Remove a generation that never went live (a failed or interrupted build)."""
        if d != self.live_dir():
            shutil.rmtree(d, ignore_errors=True)

    def is_stale(self) -> bool:
        """True when there is no live generation or it was built with another analysis."""
        live = self.live_dir()
        if live is None:
            return True
        try:
            return (live / MARKER).read_text().strip() != ANALYSIS_VERSION
        except FileNotFoundError:
            return True

    def size_bytes(self) -> int:
        """Bytes on disk of the live generation."""
        live = self.live_dir()
        if live is None:
            return 0
        return sum(f.stat().st_size for f in live.rglob("*") if f.is_file())


IX = TypeVar("IX")


class GenerationEngine(Generic[IX]):
    """What every engine does with its generations, and the opened live index (``IX``) kept
    until the generation is swapped. Engines give ``engine``, ``_create`` and ``_open``."""

    engine = ""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.generations = Generations(self.root, self._create)
        self._lock = threading.Lock()
        self._ix: IX | None = None
        self._ix_dir: Path | None = None
        # A web process (gunicorn) reads the index and never writes it, not even an empty first
        # generation: before the worker made one, it searches an empty index in memory.
        self.read_only = False

    def _create(self, d: Path) -> None:
        raise NotImplementedError

    def _empty(self) -> IX:
        """An empty index in memory (what a read-only process searches before the first build)."""
        raise NotImplementedError

    def writable_dir(self) -> Path:
        """The live generation, for writing; refused in a read-only (web) process."""
        if self.read_only:
            raise RuntimeError("this process only reads the index: the elected worker writes it")
        return self.current_dir()

    def _open(self, d: Path) -> IX:
        raise NotImplementedError

    def doc_count(self) -> int:
        raise NotImplementedError

    def current_dir(self) -> Path:
        return self.generations.current_dir()

    def new_generation(self) -> Path:
        if self.read_only:
            raise RuntimeError("this process only reads the index: the elected worker writes it")
        return self.generations.new_generation()

    def swap_to(self, d: Path) -> None:
        self.generations.swap_to(d)

    def discard(self, d: Path) -> None:
        self.generations.discard(d)

    def is_stale(self) -> bool:
        return self.generations.is_stale()

    def stats(self) -> IndexStats:
        return IndexStats(self.engine, self.doc_count(), self.generations.size_bytes(), self.is_stale())

    def _index(self) -> IX:
        """The live generation, opened once and reopened when it was swapped; one removed
        between reading the pointer and opening it is looked up again."""
        for attempt in range(3):
            if self.read_only and self.generations.live_dir() is None:
                with self._lock:
                    self._ix, self._ix_dir = self._empty(), None
                    return self._ix
            d = self.current_dir()
            with self._lock:
                if self._ix is not None and self._ix_dir == d:
                    return self._ix
                try:
                    self._ix = self._open(d)
                except Exception:
                    if attempt == 2:
                        raise
                    continue
                self._ix_dir = d
                return self._ix
        raise AssertionError("unreachable")

    def _forget(self) -> None:
        with self._lock:
            self._ix = None
            self._ix_dir = None

    def close(self) -> None:
        """Release the opened index (it is opened again on the next use)."""
        self._forget()
