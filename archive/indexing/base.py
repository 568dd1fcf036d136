"""The search-index port: what the archive needs from a full-text engine."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
