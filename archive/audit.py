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
ALGORITHMS = ("sha256", "sm3")


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, actor: str | None, role: str | None,
               action: str, target_type: str | None, target_id: str | None, detail: str,
               ip: str | None, alg: str = "sha256") -> str:
    """The digest over the previous hash and a canonical JSON of the entry's fields: SHA-256, or
    SM3 (whose body also names the algorithm, so an entry cannot be passed off as the other)."""
    fields = [prev_hash, seq, at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
              actor, role, action, target_type, target_id, detail, ip]
    if alg == "sm3":
        body = json.dumps(fields + ["sm3"], ensure_ascii=False, separators=(",", ":"))
        return hashlib.new("sm3", body.encode("utf-8")).hexdigest()
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _hash_of(e: AuditEntry, prev_hash: str) -> str:
    return entry_hash(prev_hash, e.seq, e.at, e.actor, e.role, e.action, e.target_type, e.target_id,
                      e.detail, e.ip, e.alg or "sha256")


def append(session: Session, action: str, *, actor: str | None = None, role: str | None = None,
           target_type: str | None = None, target_id: str | None = None,
           detail: dict[str, Any] | None = None, ip: str | None = None,
           clock: Callable[[], dt.datetime] = server_now) -> AuditEntry:
    """Add one entry in the caller's transaction (committed by the caller)."""
    # The UPDATE takes the head row's lock first (PostgreSQL row lock, SQLite write lock), so
    # the read of the previous hash below cannot race with another writer.
    # The digest is the current segment's (the head's), whatever this process was configured with.
    seq, prev_hash, alg = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
                                          .returning(AuditHead.seq, AuditHead.hash, AuditHead.alg)).one()
    prev_hash = prev_hash or GENESIS  # (the hash is not changed by this statement: the previous entry's)
    at = clock()
    detail_json = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)
    entry = AuditEntry(seq=seq, at=at, actor=actor, role=role, action=action, target_type=target_type,
                       target_id=target_id, detail=detail_json, ip=ip, prev_hash=prev_hash, alg=alg or "sha256")
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
    sm3_entries: int = 0  # of ``entries``, those linked with SM3 (a segment after the SHA-256 ones)


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from the start; report the first entry that does not fit."""
    prev_hash, expected_seq, count, sm3 = GENESIS, 1, 0, 0
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
            if e.alg not in ALGORITHMS or _hash_of(e, prev_hash) != e.hash:
                return ChainReport(count, e.seq, "its content does not match its hash: edited", sm3)
            sm3 += e.alg == "sm3"
            prev_hash, expected_seq, count = e.hash, e.seq + 1, count + 1
            last_seq = e.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return ChainReport(count, count + 1 if head.seq > count else head.seq,
                           f"the chain ends at entry {count} but the head records entry {head.seq}: "
                           "entries at the end were deleted or the head was changed", sm3)
    return ChainReport(count, sm3_entries=sm3)


def verify_entries(session: Session, seqs: Iterable[int]) -> list[str]:
    """The local check of some entries (a case's): each one's hash recomputed from its content and
    its link, and linked to both neighbours (the entry before has the hash it names; the entry
    after names its hash). Problems, or []. O(entries given), for the four-property check; the
    whole chain is verified by ``verify_chain`` (the daily watch)."""
    wanted = sorted(set(seqs))
    if not wanted:
        return []
    around = set(wanted) | {s - 1 for s in wanted} | {s + 1 for s in wanted}
    rows = {e.seq: e for e in session.scalars(select(AuditEntry).where(AuditEntry.seq.in_(sorted(around))))}
    problems = []
    for seq in wanted:
        e = rows.get(seq)
        if e is None:
            problems.append(f"entry {seq} is missing")
            continue
        if e.alg not in ALGORITHMS or _hash_of(e, e.prev_hash) != e.hash:
            problems.append(f"entry {seq}: its content does not match its hash")
        before, after = rows.get(seq - 1), rows.get(seq + 1)
        if (before.hash if before is not None else GENESIS if seq == 1 else None) != e.prev_hash:
            problems.append(f"entry {seq} does not follow entry {seq - 1}")
        if after is not None and after.prev_hash != e.hash:
            problems.append(f"entry {seq + 1} does not follow entry {seq}")
    return problems


def ensure_digest(session: Session, alg: str, actor: str = "serve") -> bool:
    """Move the chain to ``alg`` (ARCHIVE_AUDIT_DIGEST) if it is SM3 and the chain is not yet:
    the entry that opens the SM3 segment continues from the last SHA-256 hash, and from it on
    every process links with SM3. A chain never goes back from SM3 to SHA-256 (a weaker digest
    is not chosen by configuration). Under the head's lock: several processes starting at once
    open the segment once. True if it was opened; commits."""
    if alg not in ALGORITHMS:
        raise ValueError(f"audit digest must be one of {ALGORITHMS}")
    current = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq)
                              .returning(AuditHead.alg)).scalar()  # takes the lock
    if alg != "sm3" or current == "sm3":
        session.commit()
        return False
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(alg="sm3"))
    append(session, "audit.digest", actor=actor, target_type="audit", target_id="chain",
           detail={"from": current or "sha256", "to": "sm3"})
    session.commit()
    return True


def raise_chain_alert(sessions: sessionmaker[Session], report: ChainReport,
                      clock: Callable[[], dt.datetime] = server_now) -> bool:
    """A broken chain (``report``) raises a level-3 security alert to the audit administrator,
    once per break (the first bad entry is the fact: the unique constraint decides between
    processes), itself audited. True if raised now."""
    from archive.db import insert_once
    from archive.models import SecurityAlert

    if report.first_bad is None:
        return False
    alert = SecurityAlert(kind="audit_chain", fact_key=str(report.first_bad), level=3, raised_at=clock(),
                          message=f"审计日志链在第 {report.first_bad} 条断开：{report.reason}")

    def found(s: Session) -> SecurityAlert:
        return s.scalars(select(SecurityAlert).where(SecurityAlert.kind == "audit_chain",
                                                     SecurityAlert.fact_key == str(report.first_bad))).one()

    stored = insert_once(sessions, alert, found)
    if stored is not alert:
        return False
    try:
        record(sessions, "audit.chain_broken", actor="system", target_type="audit", target_id="chain",
               detail={"first_bad": report.first_bad, "reason": report.reason, "alert": stored.id})
    except Exception:  # noqa: BLE001 - a chain whose head was tampered with may refuse the entry; the alert stands
        import logging

        logging.getLogger(__name__).exception("the audit chain is broken and refused the entry about it")
    return True


def watch(sessions: sessionmaker[Session], clock: Callable[[], dt.datetime] = server_now) -> ChainReport:
    """Verify the whole chain (the worker does, daily); a break raises the level-3 alert."""
    with sessions() as session:
        report = verify_chain(session)
    raise_chain_alert(sessions, report, clock)
    return report
