"""Fixity: re-read stored objects, recompute SHA-256, compare with the catalog and with the
object's own metadata, and record every check. A damaged, missing or altered object becomes a
level-2 warning (the district office's)."""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.deadlines.calendar import CalendarMissing, WorkCalendar
from archive.deadlines.rules import Rules
from archive.digests import Digests
from archive.models import Case, Document, DocumentVersion, FixityEvent, Rendition
from archive.services import amendments
from archive.services.objects import METADATA_SCHEMA, IngestSettings, receipt_key
from archive.storage.base import ObjectNotFound, ObjectStore, StorageUnavailable

log = logging.getLogger(__name__)


@dataclass
class FixityReport:
    checked: int = 0  # object versions read
    ok: int = 0
    failures: list[dict] = field(default_factory=list)


def check_version(store: ObjectStore, key: str, version_id: str, sha256: str,
                  sm3: str | None = None) -> tuple[str, str]:
    """(result, detail) for one object version: ok, missing or damaged — by its SHA-256 and, when
    the catalog has it, its SM3, both computed in one read. StorageUnavailable propagates: an
    unreachable store says nothing about the objects."""
    try:
        info = store.stat(key, version_id)
    except ObjectNotFound:
        return "missing", "the version is not in the store"
    digest, size = Digests(), 0
    try:
        for chunk in store.open(key, version_id):
            digest.update(chunk)
            size += len(chunk)
    except StorageUnavailable as exc:
        store.ping()  # the store itself down: raises, and nothing is concluded about the object
        return "damaged", f"the store answers but cannot read this version: {exc}"[:500]
    except ObjectNotFound:
        return "missing", "the version disappeared while it was read"
    except Exception as exc:  # the store could not give the bytes back: damage
        return "damaged", f"unreadable: {type(exc).__name__}: {exc}"[:500]
    if digest.sha256 != sha256:
        return "damaged", f"SHA-256 of the stored bytes is {digest.sha256}, the catalog says {sha256}"
    if sm3 and digest.sm3 != sm3:
        return "damaged", f"SM3 of the stored bytes is {digest.sm3}, the catalog says {sm3}"
    meta = info.metadata.get("sha256")
    if meta and meta != sha256:
        return "damaged", f"the object's metadata says SHA-256 {meta}, the catalog says {sha256}"
    meta_sm3 = info.metadata.get("sm3")
    if meta_sm3 and sm3 and meta_sm3 != sm3:
        return "damaged", f"the object's metadata says SM3 {meta_sm3}, the catalog says {sm3}"
    return "ok", f"{size} bytes" + (", SHA-256 and SM3" if sm3 else "")


def stored_versions(session: Session, doc: Document) -> list[tuple[str, str, str, str | None]]:
    """(object key, version id, SHA-256, SM3) of every version the catalog knows of a document,
    the current one first (fixity, the four-property check, retention)."""
    out = [(doc.object_key, doc.version_id, doc.sha256, doc.sm3)]
    out += [(v.object_key, v.version_id, v.sha256, v.sm3) for v in session.scalars(
        select(DocumentVersion).where(DocumentVersion.document_id == doc.id))]
    return out


def _versions(session: Session, doc: Document) -> list[tuple[str, str, str | None]]:
    """(version id, SHA-256, SM3) of every version the catalog knows for the document's key."""
    return [(version_id, sha, sm3) for _, version_id, sha, sm3 in stored_versions(session, doc)]


def check_document(session: Session, store: ObjectStore, doc: Document, now: dt.datetime) -> list[FixityEvent]:
    events = []
    known = _versions(session, doc)
    for version_id, sha, sm3 in known:
        result, detail = check_version(store, doc.object_key, version_id, sha, sm3)
        events.append(FixityEvent(document_id=doc.id, object_key=doc.object_key, version_id=version_id,
                                  checked_at=now, result=result, detail=detail))
    # the PDF/A renditions made of it: derived, but kept and served like the original
    for r in session.scalars(select(Rendition).where(Rendition.document_id == doc.id, Rendition.status == "done")):
        if r.object_key and r.version_id and r.sha256:
            result, detail = check_version(store, r.object_key, r.version_id, r.sha256)
            events.append(FixityEvent(document_id=doc.id, object_key=r.object_key, version_id=r.version_id,
                                      checked_at=now, result=result, detail=detail))
    # a version of the key that the catalog does not know was written behind the archive's back
    for key, version_id in store.keys(doc.object_key):
        if key == doc.object_key and version_id not in {v for v, _, _ in known} and \
                not amendments.pending_application(session, doc.id, store.stat(key, version_id).metadata):
            events.append(FixityEvent(document_id=doc.id, object_key=key, version_id=version_id, checked_at=now,
                                      result="altered", detail="a version written outside the archive"))
    doc.fixity_checked_at = now
    return events


def run(session: Session, store: ObjectStore, rules: Rules, calendar: WorkCalendar, now: dt.datetime, *,
        doc_ids: list[str] | None = None, sample: int | None = None, limit: int | None = None,
        rng: random.Random | None = None) -> FixityReport:
    """Check ``doc_ids``, or a random ``sample``, or the ``limit`` least recently checked (all
    when nothing is given). Events are committed per document."""
    if doc_ids is None:
        if sample is not None:
            ids = session.scalars(select(Document.id).where(Document.disposed_at.is_(None)).order_by(Document.id)).all()
            doc_ids = sorted((rng or random.SystemRandom()).sample(list(ids), min(sample, len(ids))))
        else:
            q = select(Document.id).where(Document.disposed_at.is_(None)).order_by(
                Document.fixity_checked_at.is_not(None), Document.fixity_checked_at, Document.id)
            doc_ids = list(session.scalars(q.limit(limit) if limit else q).all())
    report = FixityReport()
    for doc_id in doc_ids:
        doc = session.get(Document, doc_id)
        if doc is None or doc.disposed_at is not None:  # 销毁: its bytes are gone on purpose
            continue
        events = check_document(session, store, doc, now)
        session.add_all(events)
        for e in events:
            report.checked += e.result != "altered"
            if e.result == "ok":
                report.ok += 1
            else:
                report.failures.append({"document_id": doc.id, "case_id": doc.case_id, "key": e.object_key,
                                        "version_id": e.version_id, "result": e.result, "detail": e.detail})
                warn(session, doc, e, rules, calendar, now)
        session.commit()
    return report


def warn(session: Session, doc: Document, e: FixityEvent, rules: Rules, calendar: WorkCalendar,
          now: dt.datetime) -> None:
    from archive.deadlines.warnings import handling_due, insert_warnings

    case = session.get(Case, doc.case_id)
    try:
        due = handling_due(calendar, rules, 2, now)
    except CalendarMissing:
        due = None
    words = {"damaged": "已损坏", "missing": "已丢失", "altered": "被绕过档案系统改写"}
    insert_warnings(session, [dict(
        rule=f"fixity_{e.result}", fact_key=f"{e.result}:{doc.id}:{e.version_id}"[:120], case_id=doc.case_id,
        agency_code=case.agency_code if case else "", stage=doc.stage,
        message=f"存储对象{words.get(e.result, e.result)}：{doc.filename}（{e.detail}）"[:2000],
        fact_due_at=None, level=2, status="open", opened_at=now, due_at=due)])


def rolling_batch(total: int, every_seconds: float, period_days: int) -> int:
    """How many documents one scheduled round checks so that all are checked within the period."""
    rounds = max(1.0, period_days * 86400 / max(every_seconds, 1.0))
    return max(1, math.ceil(total / rounds)) if total else 0


def rolling_round(sessions, store: ObjectStore, now: dt.datetime, every_seconds: float, period_days: int) -> FixityReport:
    """What the worker runs on its schedule: the least recently checked documents."""
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar

    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(Document).where(Document.disposed_at.is_(None))) or 0
        n = rolling_batch(total, every_seconds, period_days)
        if not n:
            return FixityReport()
        return run(session, store, load_rules(), load_calendar(session), now, limit=n)


def report(session: Session, agencies: frozenset[str] | None, period_days: int, now: dt.datetime) -> dict:
    """Counts of the latest result per object version, documents never checked or overdue, and
    the failures, within the caller's scope."""
    docs = select(Document.id).join(Case, Case.id == Document.case_id).where(Document.disposed_at.is_(None))
    if agencies is not None:
        docs = docs.where(Case.agency_code.in_(sorted(agencies)))
    doc_ids = docs.subquery()
    latest = (select(FixityEvent.object_key, FixityEvent.version_id, func.max(FixityEvent.id).label("last"))
              .where(FixityEvent.document_id.in_(select(doc_ids.c.id)))
              .group_by(FixityEvent.object_key, FixityEvent.version_id).subquery())
    events = session.scalars(select(FixityEvent).join(latest, FixityEvent.id == latest.c.last)).all()
    counts: dict[str, int] = {"ok": 0, "damaged": 0, "missing": 0, "altered": 0}
    for e in events:
        counts[e.result] = counts.get(e.result, 0) + 1
    base = select(func.count()).select_from(Document).join(Case, Case.id == Document.case_id).where(
        Document.disposed_at.is_(None))
    if agencies is not None:
        base = base.where(Case.agency_code.in_(sorted(agencies)))
    total = session.scalar(base) or 0
    never = session.scalar(base.where(Document.fixity_checked_at.is_(None))) or 0
    overdue = session.scalar(base.where(Document.fixity_checked_at < now - dt.timedelta(days=period_days))) or 0
    last = max((e.checked_at for e in events), default=None)
    return {"documents": total, "never_checked": never, "overdue": overdue, "period_days": period_days,
            "last_check_at": last, "latest_results": counts,
            "failures": [{"document_id": e.document_id, "key": e.object_key, "version_id": e.version_id,
                          "result": e.result, "detail": e.detail, "checked_at": e.checked_at}
                         for e in events if e.result != "ok"]}


def latest_finding(session: Session, key: str, version_id: str) -> FixityEvent | None:
    """The most recent fixity result of one object version if it found damage or loss."""
    e = session.scalars(select(FixityEvent).where(FixityEvent.object_key == key, FixityEvent.version_id == version_id)
                        .order_by(FixityEvent.id.desc()).limit(1)).first()
    return e if e is not None and e.result in ("damaged", "missing") else None


def record_finding(sessions, doc_id: str, key: str, version_id: str, result: str, detail: str,
                   now: dt.datetime) -> None:
    """A read that found a version damaged or missing: a fixity event and a level-2 warning, as
    a scheduled check would record them (its own transaction)."""
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar

    with sessions() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            return
        e = FixityEvent(document_id=doc_id, object_key=key, version_id=version_id, checked_at=now, result=result,
                        detail=detail[:500])
        session.add(e)
        warn(session, doc, e, load_rules(), load_calendar(session), now)
        session.commit()


def verify_stored(session: Session, store: ObjectStore, settings: IngestSettings, doc_id: str,
                  now: dt.datetime) -> bool:
    """The ``verify`` job of a version sent before its SHA-256 was known: read it back and
    compare (a fixity check of that version, recorded; a mismatch warns the district office as
    any damage does), then write its receipt unless one is there. False when it did not match."""
    import io


    doc = session.get(Document, doc_id)
    if doc is None:
        return True
    result, detail = check_version(store, doc.object_key, doc.version_id, doc.sha256, doc.sm3)
    event = FixityEvent(document_id=doc.id, object_key=doc.object_key, version_id=doc.version_id,
                        checked_at=now, result=result, detail=detail)
    session.add(event)
    if result != "ok":
        from archive.deadlines.rules import load_rules
        from archive.deadlines.store import load_calendar

        warn(session, doc, event, load_rules(), load_calendar(session), now)
        session.commit()
        return False
    doc.fixity_checked_at = now
    case_id, version, sha256, size, uploaded_at = doc.case_id, doc.version_id, doc.sha256, doc.size, doc.uploaded_at
    sm3 = doc.sm3
    case = session.get(Case, case_id)
    until = settings.until(uploaded_at, case.procedure if case else "general")
    session.commit()
    key = receipt_key(case_id, doc_id, version)
    try:
        store.stat(key)
        return True  # written by an earlier run of this job
    except ObjectNotFound:
        pass
    body = json.dumps({"doc-id": doc_id, "version-id": version, "sha256": sha256, "sm3": sm3, "size": size}).encode()
    store.put(key, io.BytesIO(body), len(body), {"schema": METADATA_SCHEMA, "doc-id": doc_id},
              "application/json", until)
    return True
