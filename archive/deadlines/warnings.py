"""Warnings stored once per fact, handled by the responsible level, escalated 1 → 2 → 3."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.deadlines.calendar import CalendarMissing, WorkCalendar, deadline
from archive.deadlines.evaluate import CaseFacts, DocFact, OfficerFact, WarningFact, evaluate_case, period_changes
from archive.deadlines.rules import Rules
from archive.db import compare_and_set, get_or_404
from archive.errors import Conflict, REQUIRED, ValidationFailed
from archive.models import Case, CasePeriod, Document, Officer, Stage, StageOfficer, WarningEscalation, WarningRecord
from archive.clock import SHANGHAI, now as server_now

# Which role handles a warning at each level (seed: agency legal unit, district, city).


def handling_due(calendar: WorkCalendar, rules: Rules, level: int, since: dt.datetime) -> dt.datetime | None:
    """When a warning opened (or escalated) at ``since`` climbs from ``level``; None at the top."""
    period = rules.at(since.astimezone(SHANGHAI).date()).escalation(level)
    if period is None:
        return None
    return deadline(calendar, since, period.days, period.unit)


SYSTEM = "系统"
RESOLVED_BY_UPLOAD = "所缺文书已上传，预警自动解除（resolved by upload）"


@dataclass
class ScanReport:
    cases: int = 0
    new: int = 0
    resolved: int = 0  # open warnings whose fact no longer holds, closed as resolved


def scan(session: Session, rules: Rules, calendar: WorkCalendar, now: dt.datetime,
         case_ids: Iterable[str] | None = None, batch: int = 1000, incremental: bool = False,
         id_range: tuple[str, str] | None = None, commit: bool = True) -> ScanReport:
    """Evaluate cases and store new warning facts. Idempotent. Each batch is committed, unless
    ``commit`` is False (the caller's transaction; ``check_case_in``).

    ``incremental``: only the cases that changed since they were last checked, were never
    checked, or whose earliest pending deadline has passed. ``id_range``: only case ids in
    [low, high] (how ``parallel_scan`` splits a full scan).
    """
    report = ScanReport()
    q = select(Case.id).order_by(Case.id)
    if id_range is not None:
        q = q.where(Case.id.between(*id_range))
    if incremental:
        q = q.where(or_(Case.checked_at.is_(None), Case.changed_at > Case.checked_at, Case.next_check_at <= now))
    ids = list(case_ids) if case_ids is not None else session.scalars(q).all()
    # A full scan takes every case in id order, so a chunk is a key range (an index range scan
    # instead of a long IN list); rows of cases created meanwhile are ignored.
    span = case_ids is None and not incremental
    checked = min(now, server_now())  # a replay "in the future" must not hide later changes
    due_cache: dict[dt.date, dt.datetime | None] = {}
    for i in range(0, len(ids), batch):
        chunk = list(ids[i:i + batch])
        # Plain rows, not ORM objects: the scan reads every case, and objects cost 5× more.
        facts_by_case = _load_facts(session, chunk, span)
        known: set[tuple[str, str, str]] = set()
        still_open: set[tuple[str, str, str]] = set()
        open_late: dict[tuple[str, str, str], str] = {}  # open late-upload warnings: their file lists
        for c, r, k, status, message in session.connection().execute(
                select(WarningRecord.case_id, WarningRecord.rule, WarningRecord.fact_key, WarningRecord.status,
                       case((and_(WarningRecord.rule == "late_upload", WarningRecord.status == "open"),
                             WarningRecord.message), else_=None))
                .where(_in_chunk(WarningRecord.case_id, chunk, span))):
            known.add((c, r, k))
            if status == "open":
                still_open.add((c, r, k))
                if message is not None:
                    open_late[(c, r, k)] = message
        rows = []
        resolved: list[tuple[str, str, str]] = []
        marks: dict[dt.datetime | None, list[str]] = {}
        for facts in facts_by_case:
            report.cases += 1
            ev = evaluate_case(facts, rules, calendar, now)
            for f in ev.found:
                if (facts.case_id, f.rule, f.key) in known:
                    stored = open_late.get((facts.case_id, f.rule, f.key))
                    if stored is not None and stored != f.message:  # another late file the same day
                        session.connection().execute(update(WarningRecord).where(
                            WarningRecord.case_id == facts.case_id, WarningRecord.rule == f.rule,
                            WarningRecord.fact_key == f.key, WarningRecord.status == "open").values(message=f.message))
                    continue
                if f.covers and all((facts.case_id, f.rule, k) in known for k in f.covers):
                    continue  # stored under its older keys
                known.add((facts.case_id, f.rule, f.key))
                rows.append(_row(facts, f, calendar, rules, due_cache, now))
            resolved.extend(k for k in ((facts.case_id, r, key) for r, key in ev.cleared) if k in still_open)
            marks.setdefault(ev.next_check, []).append(facts.case_id)
        if rows:
            report.new += insert_warnings(session, rows)
        for case_id, rule, key in resolved:  # only real transitions cost a statement
            report.resolved += session.connection().execute(update(WarningRecord).where(
                WarningRecord.case_id == case_id, WarningRecord.rule == rule, WarningRecord.fact_key == key,
                WarningRecord.status == "open").values(
                status="resolved", handled_at=checked, handled_by=SYSTEM,
                handled_note=RESOLVED_BY_UPLOAD)).rowcount
        # Cases sharing their next check time (most often none) are marked in one statement.
        for next_check, cids in marks.items():
            session.connection().execute(update(Case).where(Case.id.in_(cids))
                                         .values(checked_at=checked, next_check_at=next_check))
        if commit:
            session.commit()
    return report


def parallel_scan(url: str, rules: Rules, calendar: WorkCalendar, now: dt.datetime, workers: int = 2,
                  incremental: bool = False) -> ScanReport:
    """A scan split by case-id range over ``workers`` processes, each with its own connection.

    Safe because a scan is idempotent per case and storing a fact ignores one already stored.
    """
    import concurrent.futures as cf
    import multiprocessing

    from archive.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    finally:
        engine.dispose()
    if not ids:
        return ScanReport()
    workers = max(1, min(workers, len(ids)))
    step = -(-len(ids) // workers)
    ranges = [(ids[i], ids[min(i + step, len(ids)) - 1]) for i in range(0, len(ids), step)]
    # spawn, not fork: the caller may have threads (the worker) and open connections
    with cf.ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_scan_range, [(url, rules, calendar, now, r, incremental) for r in ranges]))
    return ScanReport(cases=sum(p.cases for p in parts), new=sum(p.new for p in parts),
                      resolved=sum(p.resolved for p in parts))


def _scan_range(args) -> ScanReport:
    from archive.db import make_engine, make_sessionmaker

    url, rules, calendar, now, id_range, incremental = args
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return scan(session, rules, calendar, now, id_range=id_range, incremental=incremental)
    finally:
        engine.dispose()


def _in_chunk(column, chunk: list[str], span: bool):
    return column.between(chunk[0], chunk[-1]) if span else column.in_(chunk)


def _load_facts(session: Session, chunk: list[str], span: bool = False) -> list[CaseFacts]:
    """The evaluator's view of the cases in ``chunk``, read as rows in three queries."""
    import json

    conn = session.connection()  # Core rows: the ORM's row handling costs more than the query
    stages: dict[str, dict[str, dt.datetime]] = {cid: {} for cid in chunk}
    for cid, stage, completed in conn.execute(
            select(Stage.case_id, Stage.stage, Stage.completed_at).where(_in_chunk(Stage.case_id, chunk, span))):
        if cid in stages:
            stages[cid][stage] = completed
    periods: dict[str, list[tuple]] = {}
    for cid, kind, days, start, end in conn.execute(
            select(CasePeriod.case_id, CasePeriod.kind, CasePeriod.days, CasePeriod.start_on, CasePeriod.end_on)
            .where(_in_chunk(CasePeriod.case_id, chunk, span))):
        periods.setdefault(cid, []).append((kind, days, start, end))
    docs: dict[str, list[DocFact]] = {cid: [] for cid in chunk}
    for did, cid, stage, form, uploaded in conn.execute(
            select(Document.id, Document.case_id, Document.stage, Document.form_code, Document.uploaded_at)
            .where(_in_chunk(Document.case_id, chunk, span))):
        if cid in docs:
            docs[cid].append(DocFact(did, stage, form, uploaded))
    named: dict[str, list[tuple]] = {}
    for row in conn.execute(
            select(StageOfficer.case_id, Stage.stage, StageOfficer.certificate_no, StageOfficer.name,
                   Officer.agency_code, Officer.valid_from, Officer.valid_until, Officer.suspended_from,
                   Officer.suspended_until)
            .join(Stage, Stage.id == StageOfficer.stage_id)
            .outerjoin(Officer, Officer.certificate_no == StageOfficer.certificate_no)
            .where(_in_chunk(StageOfficer.case_id, chunk, span)).order_by(StageOfficer.id)):
        named.setdefault(row[0], []).append(tuple(row[1:]))
    return [CaseFacts(cid, agency, kind, stages[cid], docs[cid], party_type=party_type, sector=sector,
                      penalty_types=tuple(json.loads(penalties or "[]")), fine=fine,
                      officers=_officers(named.get(cid), agency), **_period_fields(periods.get(cid)))
            for cid, agency, kind, party_type, sector, penalties, fine in conn.execute(
                select(Case.id, Case.agency_code, Case.kind, Case.party_type, Case.sector, Case.penalty_types,
                       Case.fine_amount).where(_in_chunk(Case.id, chunk, span)))
            if cid in stages]


def _officers(rows: list[tuple] | None, agency: str) -> dict[str, tuple[OfficerFact, ...]]:
    """The officers named on each stage, with their certificates as the agency's registry has
    them (a certificate registered with another agency, or no longer, counts as unknown)."""
    out: dict[str, list[OfficerFact]] = {}
    for stage, cert, name, holder, valid_from, valid_until, susp_from, susp_until in rows or ():
        known = holder == agency
        out.setdefault(stage, []).append(OfficerFact(cert, name, known, valid_from if known else None,
                                                     valid_until if known else None,
                                                     susp_from if known else None, susp_until if known else None))
    return {k: tuple(v) for k, v in out.items()}


def _period_fields(rows: list[tuple] | None) -> dict:
    if not rows:
        return {}
    ext, susp, ongoing = period_changes(rows)
    return {"extension_days": ext, "suspended_days": susp, "suspended": ongoing}


def _row(case: CaseFacts, f: WarningFact, calendar: WorkCalendar, rules: Rules,
         cache: dict[dt.date, dt.datetime | None], now: dt.datetime) -> dict:
    # The handling period runs from when the warning is raised, not from the fact it is about:
    # a missing document found today about a deadline weeks ago is not born overdue.
    raised = max(f.opened_at, now)
    day = raised.astimezone(SHANGHAI).date()
    if day not in cache:  # the handling time depends only on the day the warning was raised
        try:
            cache[day] = handling_due(calendar, rules, 1, raised)
        except CalendarMissing:
            cache[day] = None
    return dict(rule=f.rule, fact_key=f.key, case_id=case.case_id, agency_code=case.agency, stage=f.stage,
                message=f.message, fact_due_at=f.due, level=1, status="open", opened_at=f.opened_at,
                due_at=cache[day])


_COLUMNS = ("rule", "fact_key", "case_id", "agency_code", "stage", "message", "fact_due_at", "level", "status",
            "opened_at", "due_at")


def insert_warnings(session: Session, rows: list[dict]) -> int:
    """Store new warning facts; a fact already stored (by this or another scanner) is skipped.
    Returns how many rows were new."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _insert_warnings_pg(session, rows)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        # executemany without RETURNING: sqlite3's rowcount sums the rows really inserted
        return session.connection().execute(sqlite_insert(WarningRecord).on_conflict_do_nothing(), rows).rowcount
    new = 0  # pragma: no cover - other databases: one at a time with savepoints
    for row in rows:  # pragma: no cover
        try:
            with session.begin_nested():
                session.add(WarningRecord(**row))
            new += 1
        except IntegrityError:
            pass
    return new


def _insert_warnings_pg(session: Session, rows: list[dict]) -> int:
    """COPY into a session-local staging table, then one INSERT … ON CONFLICT DO NOTHING:
    parameter-bound multi-row inserts cost more in building the SQL than in running it."""
    cols = ", ".join(_COLUMNS)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS scan_warnings ON COMMIT DELETE ROWS AS "
                    f"SELECT {cols} FROM warnings WITH NO DATA")
        with cur.copy(f"COPY scan_warnings ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r[c] for c in _COLUMNS))
        cur.execute(f"INSERT INTO warnings ({cols}) SELECT {cols} FROM scan_warnings "
                    f"ON CONFLICT (case_id, rule, fact_key) DO NOTHING")
        new = cur.rowcount
        cur.execute("DELETE FROM scan_warnings")
    return new


def escalate(session: Session, rules: Rules, calendar: WorkCalendar, now: dt.datetime) -> int:
    """Move every open warning whose handling time has passed one level up (at most to 3).

    Compare-and-set on the level plus a unique (warning, level) record: two workers running at
    once give each warning exactly one record per level.
    """
    moved = 0
    while True:
        due = session.scalars(select(WarningRecord).where(
            WarningRecord.status == "open", WarningRecord.level < 3, WarningRecord.due_at.is_not(None),
            WarningRecord.due_at < now).order_by(WarningRecord.id).limit(500)).all()
        if not due:
            return moved
        progressed = False
        for w in due:
            # The step happens when the time ran out, so a replay later gives the same times.
            at = w.due_at
            assert at is not None  # selected on due_at < now
            level = w.level + 1
            try:
                next_due = handling_due(calendar, rules, level, at)
            except CalendarMissing:
                next_due = None
            try:
                with session.begin_nested():
                    result = session.execute(update(WarningRecord).where(
                        WarningRecord.id == w.id, WarningRecord.level == w.level, WarningRecord.status == "open")
                        .values(level=level, due_at=next_due).execution_options(synchronize_session=False))
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        continue  # someone else moved it
                    session.add(WarningEscalation(warning_id=w.id, level=level, at=at))
            except IntegrityError:
                continue
            moved += 1
            progressed = True
        session.commit()
        session.expire_all()
        if not progressed:
            return moved


def check_case_now(sessions, case_id: str) -> None:
    """Evaluate one case right after it changed (a late upload is known at upload time). A
    secondary step: its failure is logged and never undoes the change that triggered it."""
    import logging

    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar

    try:
        with sessions() as session:
            scan(session, load_rules(), load_calendar(session), server_now(), case_ids=[case_id])
    except Exception as exc:  # the scheduled scan will pick the case up again
        logging.getLogger(__name__).warning("warning check of case %s failed: %s", case_id, exc)


def check_case_in(session: Session, case_id: str) -> None:
    """``check_case_now`` in the caller's transaction (an upload's: its late-upload warning is
    committed with the document), inside a savepoint: a failure undoes the check alone, is
    logged, and the scheduled scan picks the case up again."""
    import logging

    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar

    try:
        session.flush()  # the scan reads rows with plain statements: the new ones first
        with session.begin_nested():
            scan(session, load_rules(), load_calendar(session), server_now(), case_ids=[case_id], commit=False)
    except Exception as exc:
        logging.getLogger(__name__).warning("warning check of case %s failed: %s", case_id, exc)


def handle(session: Session, warning: WarningRecord, *, by: str, note: str, now: dt.datetime) -> WarningRecord:
    """Record who handled the warning, when and how (who may: ``policy.handles_warning``)."""
    if warning.status != "open":
        raise Conflict("warning handled already" if warning.status == "handled" else "warning resolved already")
    if not note.strip():
        raise ValidationFailed("say what was done", {"note": [REQUIRED]})
    # compare-and-set on status and level: of concurrent handlings one wins, and a warning that
    # climbed a level meanwhile belongs to the next level's handler
    if not compare_and_set(session, update(WarningRecord).where(
        WarningRecord.id == warning.id, WarningRecord.status == "open", WarningRecord.level == warning.level)
        .values(status="handled", handled_at=now, handled_by=by, handled_note=note.strip())):
        session.rollback()
        raise Conflict("warning handled already, or it climbed a level meanwhile")
    session.refresh(warning)
    return warning


MAX_TOGETHER = 200  # warnings handled with one note at once


def handle_together(session: Session, p, ids: Iterable[int], *, note: str,
                    now: dt.datetime) -> tuple[list[WarningRecord], dict[int, str]]:
    """Handle several warnings of one agency with one note (each a compare-and-set, as
    ``handle``): (the warnings handled, {id: why not} for those handled or resolved meanwhile).
    Refuses the whole batch (nothing handled) when one is outside the caller's scope (NotFound),
    one is at a level the caller's role does not handle (Forbidden), or they span agencies."""
    from archive.auth import policy
    from archive.errors import Forbidden, NotFound
    from archive.labels import HANDLER_NAMES

    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationFailed("请选择要处理的预警 / choose the warnings to handle", {"ids": ["请至少选择一条预警"]})
    if len(wanted) > MAX_TOGETHER:
        raise ValidationFailed(f"一次最多处理 {MAX_TOGETHER} 条预警", {"ids": [f"一次最多处理 {MAX_TOGETHER} 条"]})
    if not note.strip():
        raise ValidationFailed("请写明处理情况 / say what was done", {"note": ["请写明处理情况"]})
    found = {w.id: w for w in session.scalars(select(WarningRecord).where(WarningRecord.id.in_(wanted)))}
    for wid in wanted:
        w = found.get(wid)
        if w is None or not policy.reads_agency(p, w.agency_code):
            missing = NotFound("no such warning", {"ids": [f"找不到预警 {wid}"]})
            missing.audit = ("warning", str(wid), "no such warning" if w is None else "outside your scope")
            raise missing
    if len({w.agency_code for w in found.values()}) > 1:
        raise ValidationFailed("一次只能处理同一机关的预警", {"ids": ["所选预警属于不同的执法机关"]})
    for w in found.values():
        if w.status == "open" and not policy.handles_warning(p, w.level, w.agency_code):
            raise Forbidden("无此操作权限 / not permitted for your role",
                            {"ids": [f"预警 {w.id} 为{w.level}级，由{HANDLER_NAMES.get(w.level, '')}处理"]})
    handled: list[WarningRecord] = []
    skipped: dict[int, str] = {}
    for wid in wanted:
        w = found[wid]
        if w.status != "open" or not compare_and_set(session, update(WarningRecord).where(
                WarningRecord.id == w.id, WarningRecord.status == "open", WarningRecord.level == w.level)
                .values(status="handled", handled_at=now, handled_by=p.username, handled_note=note.strip(),
                        first_seen_at=func.coalesce(WarningRecord.first_seen_at, now),
                        first_seen_by=func.coalesce(WarningRecord.first_seen_by, p.username))):
            skipped[wid] = "已处理或已自动解除" if w.status != "open" else "已被他人处理，或已升级到上一级"
            continue
        handled.append(w)
    session.commit()
    for w in handled:
        session.refresh(w)
    return handled, skipped


def get_warning(session: Session, warning_id: int) -> WarningRecord:
    return get_or_404(session, WarningRecord, warning_id, "warning")


def summary(session: Session, agencies: frozenset[str] | None) -> list[dict]:
    """Open warnings counted by agency and level."""
    q = select(WarningRecord.agency_code, WarningRecord.level, func.count()).where(
        WarningRecord.status == "open").group_by(WarningRecord.agency_code, WarningRecord.level)
    if agencies is not None:
        q = q.where(WarningRecord.agency_code.in_(sorted(agencies)))
    out: dict[str, dict] = {}
    for agency, level, n in session.execute(q):
        row = out.setdefault(agency, {"agency": agency, "level_1": 0, "level_2": 0, "level_3": 0})
        row[f"level_{level}"] = n
    return sorted(out.values(), key=lambda r: r["agency"])
