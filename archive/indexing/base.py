"""The search-index port: what the archive needs from a full-text engine."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

from archive.indexing.query import SearchQuery


@dataclass(frozen=True)
class IndexedDocument:
    """Everything the index holds about one document (text already normalised)."""

    doc_id: str
    case_id: str
    case_number: str
    content: str
    filename: str
    party_name: str
    party_id: str
    agency: str
    district: str
    city: str
    kind: str
    stage: str
    form: str
    form_name: str
    completed_at: dt.datetime | None
    uploaded_at: dt.datetime
    superseded: bool = False  # an earlier version replaced by an approved amendment (id "doc@vN")


@dataclass(frozen=True)
class Hit:
    """One matching document id with its score."""

    doc_id: str
    score: float


@dataclass(frozen=True)
class HitPage:
    """A page of hits and the total number of matching documents."""

    total: int
    hits: list[Hit]


@dataclass(frozen=True)
class IndexStats:
    """What ``/api/health`` reports about the live index."""

    engine: str
    documents: int
    size_bytes: int
    stale: bool  # built with an older analysis, or missing: a rebuild is due


class SearchIndex(Protocol):
    """A derived, rebuildable full-text index.

    Contract: ``upsert`` MUST be idempotent and keyed by ``doc_id`` (indexing a document twice
    leaves one entry); the scope in a query MUST be applied inside the engine's query so that
    counts and hits never include documents outside it; only one writer at a time.
    """

    def upsert(self, docs: Iterable[IndexedDocument]) -> int:
        """Add or replace documents; returns how many were written."""

    def delete(self, doc_ids: Iterable[str]) -> None:
        """Remove documents by id (missing ids are ignored)."""

    def search(self, query: SearchQuery) -> HitPage:
        """Run a parsed query with its filters, scope, sort and page."""

    def doc_count(self) -> int:
        """Number of documents in the index."""


class SearchEngine(SearchIndex, Protocol):
    """A ``SearchIndex`` kept in generations: rebuilt beside the live one and swapped in."""

    engine: str
    read_only: bool  # a web process: searches, never writes (not even an empty first generation)

    def current_dir(self) -> Path:
        """The live generation's directory (created empty on first use)."""

    def new_generation(self) -> Path:
        """An empty generation, not yet live."""

    def bulk_load(self, docs: Iterable[IndexedDocument], into: Path, procs: int = 1) -> int:
        """Fill a generation that is not live yet; returns how many documents were written."""

    def swap_to(self, d: Path) -> None:
        """Make generation ``d`` live and drop the others."""

    def discard(self, d: Path) -> None:
        """Remove a generation that never went live."""

    def is_stale(self) -> bool:
        """True when the live generation is missing or was built with another analysis."""

    def stats(self) -> IndexStats:
        """Engine, document count, bytes on disk, staleness."""

    def close(self) -> None:
        """Release files and threads held by the engine."""
