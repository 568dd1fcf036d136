"""The audit trail: append-only, hash-chained, verifiable.

Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting,
inserting or reordering entries breaks the chain at the first entry touched, which
``verify_chain`` names. Appending locks the single ``audit_head`` row, so concurrent writers
never fork the chain.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.models import AuditEntry, AuditHead
from archive.clock import now as server_now

GENESIS = "0" * 64


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, actor: str | None, role: str | None,
               action: str, target_type: str | None, target_id: str | None, detail: str,
               ip: str | None) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the entry's fields."""
    body = json.dumps([prev_hash, seq, at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
                       actor, role, action, target_type, target_id, detail, ip],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _hash_of(e: AuditEntry, prev_hash: str) -> str:
    return entry_hash(prev_hash, e.seq, e.at, e.actor, e.role, e.action, e.target_type, e.target_id,
                      e.detail, e.ip)


def append(session: Session, action: str, *, actor: str | None = None, role: str | None = None,
           target_type: str | None = None, target_id: str | None = None,
           detail: dict[str, Any] | None = None, ip: str | None = None,
           clock: Callable[[], dt.datetime] = server_now) -> AuditEntry:
    """Add one entry in the caller's transaction (committed by the caller)."""
    # The UPDATE takes the head row's lock first (PostgreSQL row lock, SQLite write lock), so
    # the read of the previous hash below cannot race with another writer.
    seq, prev_hash = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
                                     .returning(AuditHead.seq, AuditHead.hash)).one()
    prev_hash = prev_hash or GENESIS  # (the hash is not changed by this statement: the previous entry's)
    at = clock()
    detail_json = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)
    entry = AuditEntry(seq=seq, at=at, actor=actor, role=role, action=action, target_type=target_type,
                       target_id=target_id, detail=detail_json, ip=ip, prev_hash=prev_hash)
    entry.hash = _hash_of(entry, prev_hash)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


def record(sessions: sessionmaker[Session], action: str, **fields: Any) -> AuditEntry:
    """Append one entry in its own transaction."""
    with sessions() as session:
        entry = append(session, action, **fields)
        session.commit()
        return entry


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: ``first_bad`` is None when the chain is intact."""

    entries: int
    first_bad: int | None = None
    reason: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from the start; report the first entry that does not fit."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows: Iterable[AuditEntry] = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)).all()
        rows = list(rows)
        if not rows:
            break
        for e in rows:
            if e.seq != expected_seq:
                return ChainReport(count, expected_seq if e.seq > expected_seq else e.seq,
                                   f"entry {expected_seq} is missing (next is {e.seq}): deleted or renumbered")
            if e.prev_hash != prev_hash:
                return ChainReport(count, e.seq, f"does not follow entry {e.seq - 1}: an entry was inserted, "
                                                 "deleted or moved just before it")
            if _hash_of(e, prev_hash) != e.hash:
                return ChainReport(count, e.seq, "its content does not match its hash: edited")
            prev_hash, expected_seq, count = e.hash, e.seq + 1, count + 1
            last_seq = e.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return ChainReport(count, count + 1 if head.seq > count else head.seq,
                           f"the chain ends at entry {count} but the head records entry {head.seq}: "
                           "entries at the end were deleted or the head was changed")
    return ChainReport(count)
