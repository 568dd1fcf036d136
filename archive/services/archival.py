"""归档: a closed case becomes an archival file (GB/T 18894-2016, DA/T 13, DA/T 70).

A case whose 结案 stage is recorded and whose required documents are present is filed by its
agency after the four-property check (``fourchecks``) passes at the 归档 phase: it gets a 档号
from the agency's pattern, a 保管期限 from the rules (``forms/archival.json``), the object-lock
retention of every stored version of it extended to cover that period (never shortened), and
the GB/T 18894 metadata of each document, kept with the file. 件号 are continuous within an
agency, year and retention period: the counter row is incremented under its lock in the same
transaction as the filing, so a number is never reused (the unique constraints) and never
skipped (a filing that fails takes its number back with its rollback).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.clock import SHANGHAI
from archive.errors import Conflict, ValidationFailed
from archive.models import ArchivalCounter, ArchivalFile, Case
from archive.services.archivalrules import ArchivalRules, closed_on, load_rules, retain_until, retention_for

def file_case(session: Session, case: Case, *, by: str, now: dt.datetime, rules: ArchivalRules,
              permanent_years: int, metadata: dict[str, dict[str, Any]]) -> ArchivalFile:
    """File ``case`` (the check has passed): 件号, 档号, the archival file row. The caller commits
    (with the audit entry) and then extends the retention of the stored versions."""
    if session.get(ArchivalFile, case.id) is not None:
        raise Conflict("该案件已归档 / the case is already filed", {"case": ["该案件已归档"]})
    closed = closed_on(case)
    if closed is None:
        raise ValidationFailed("结案环节尚未登记 / the case is not closed", {"stage": ["请先登记结案环节"]})
    retention, _ = retention_for(case, rules)
    piece = next_piece(session, case.agency_code, closed.year, retention)
    number = rules.number(case.agency_code, closed.year, retention, piece)
    row = ArchivalFile(case_id=case.id, agency_code=case.agency_code, year=closed.year, retention=retention,
                       piece=piece, archival_no=number,
                       retain_until=retain_until(closed, retention, rules, permanent_years),
                       status="filed", filed_at=now, filed_by=by,
                       metadata_json=json.dumps({d: {**m, "档号": number} for d, m in metadata.items()},
                                                ensure_ascii=False, sort_keys=True))
    session.add(row)
    session.flush()
    return row


def next_piece(session: Session, agency_code: str, year: int, retention: str) -> int:
    """The next 件号 within (agency, year, retention), taken by incrementing the counter row
    under its lock (``UPDATE … RETURNING``; the row is created first if missing, concurrent
    creators colliding harmlessly): two filings at once get consecutive numbers; a filing rolled
    back gives its number back with its transaction."""
    dialect = session.get_bind().dialect.name
    values = {"agency_code": agency_code, "year": year, "retention": retention, "last": 0}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(ArchivalCounter).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(ArchivalCounter).values(**values).on_conflict_do_nothing())
    return int(session.execute(update(ArchivalCounter).where(
        ArchivalCounter.agency_code == agency_code, ArchivalCounter.year == year,
        ArchivalCounter.retention == retention).values(last=ArchivalCounter.last + 1)
        .returning(ArchivalCounter.last)).scalar_one())


def filed(session: Session, case_id: str) -> ArchivalFile | None:
    return session.get(ArchivalFile, case_id)


def pieces(session: Session, agency_code: str, year: int, retention: str) -> list[int]:
    return list(session.scalars(select(ArchivalFile.piece).where(
        ArchivalFile.agency_code == agency_code, ArchivalFile.year == year,
        ArchivalFile.retention == retention).order_by(ArchivalFile.piece)))


# -- the use cases --------------------------------------------------------------------------------

def _checker(c, phase: str, now: dt.datetime):
    from archive.services.fourchecks import Checker, scan_settings

    return Checker(c.session, c.store, load_rules(c.config.get("ARCHIVAL_RULES") or None), scan_settings(c.config),
                   phase, now, int(c.config.get("RETENTION_PERMANENT_YEARS", 100)))


def _keep(session: Session, case_id: str, report, by: str, now: dt.datetime):
    """Store one check's report, write-once."""
    from archive.models import ArchivalCheck
    from archive.services.fourchecks import report_sha256

    body = report.as_dict()
    row = ArchivalCheck(case_id=case_id, phase=report.phase, at=now, by=by, passed=report.passed,
                        report=json.dumps(body, ensure_ascii=False, sort_keys=True), report_sha256=report_sha256(body))
    session.add(row)
    session.flush()
    return row


def archive_case(c, case_id: str):
    """归档 (the agency): the four-property check at the 归档 phase; when every item passes, the
    case is filed with its 档号 and 保管期限 in one transaction with the kept report and the
    audit entry, and the retention of its stored versions is extended (a job, retried until done).
    A failing check is kept too and answered with what to fix (422); nothing is filed."""
    from archive import jobs
    from archive.clock import now as server_now
    from archive.services.cases import scoped_case
    from archive.services.fourchecks import FAIL

    case = scoped_case(c, case_id, write=True)
    if filed(c.session, case_id) is not None:
        raise Conflict("该案件已归档 / the case is already filed", {"case": ["该案件已归档"]})
    if closed_on(case) is None:
        raise ValidationFailed("请先登记结案环节 / record the closing stage first", {"stage": ["请先登记结案环节"]})
    now = server_now()
    checker = _checker(c, "filing", now)
    report = checker.run(case, None)
    if not report.passed:
        with c.transaction():
            check = _keep(c.session, case_id, report, c.username, now)
            c.audit_in(c.session, "archive.check", "case", case_id, phase="filing", passed=False, check=check.id,
                       failed=[i.id for i in report.failures])
        err = ValidationFailed("四性检测未通过，未归档 / the four-property check failed; nothing was filed",
                               {"check": [f"{i.id} {i.name}：{i.reason}" + (f"（{i.document}）" if i.document else "")
                                          for i in report.failures]})
        err.check_id = check.id  # type: ignore[attr-defined]
        raise err
    rules = checker.rules
    with c.transaction():
        row = file_case(c.session, case, by=c.username, now=now, rules=rules,
                        permanent_years=int(c.config.get("RETENTION_PERMANENT_YEARS", 100)),
                        metadata=checker.metadata)
        # the items that need the number, now that it is taken (in this transaction)
        numbered = checker.numbered_items(row)
        report.archival_no = row.archival_no
        report.items = [i for i in report.items if i.id not in {n.id for n in numbered}] + numbered
        report.sort()
        if any(i.result == FAIL for i in numbered):
            raise ValidationFailed("档号或件号检测未通过 / the archival number failed its check",
                                   {"check": [f"{i.id} {i.name}：{i.reason}" for i in numbered if i.result == FAIL]})
        check = _keep(c.session, case_id, report, c.username, now)
        jobs.enqueue(c.session, "retain", case_id)
        c.audit_in(c.session, "case.archive", "case", case_id, archival_no=row.archival_no, retention=row.retention,
                   retain_until=str(row.retain_until), check=check.id)
    return row, check


def extend_case_retention(session: Session, store, case_id: str) -> int:
    """The ``retain`` job: every stored version of a filed case (originals, earlier versions,
    renditions) retained at least until the end of its 保管期限. Returns the versions touched."""
    from archive.models import Rendition
    from archive.services.fixity import stored_versions

    row = filed(session, case_id)
    if row is None:
        return 0
    until_day = row.retain_until or dt.date(9999, 12, 30)
    until = dt.datetime.combine(until_day + dt.timedelta(days=1), dt.time(), SHANGHAI)
    case = session.get(Case, case_id)
    assert case is not None
    n = 0
    for doc in case.documents:
        targets = [(key, version_id) for key, version_id, _, _ in stored_versions(session, doc)]
        targets += [(r.object_key, r.version_id) for r in session.scalars(
            select(Rendition).where(Rendition.document_id == doc.id, Rendition.status == "done"))
            if r.object_key and r.version_id]
        for key, version_id in targets:
            store.extend_retention(key, version_id, until)
            n += 1
    return n


def checks_of(c, case_id: str) -> list:
    """The kept checks of a case the caller reads, newest first."""
    from archive.models import ArchivalCheck
    from archive.services.cases import scoped_case

    scoped_case(c, case_id)
    return list(c.session.scalars(select(ArchivalCheck).where(ArchivalCheck.case_id == case_id)
                                  .order_by(ArchivalCheck.id.desc())))


def keeping_round(sessions, store, config: dict, now: dt.datetime, limit: int = 1) -> list[tuple[str, bool]]:
    """长期保存: the four-property check of the filed cases checked longest ago (or never since
    filing), ``limit`` of them, each kept with an audit entry. Run with the fixity round."""
    from sqlalchemy import func

    from archive import audit
    from archive.models import ArchivalCheck
    from archive.services.fourchecks import Checker, scan_settings

    out = []
    with sessions() as session:
        last = (select(ArchivalCheck.case_id, func.max(ArchivalCheck.at).label("at"))
                .group_by(ArchivalCheck.case_id).subquery())
        ids = session.scalars(select(ArchivalFile.case_id).outerjoin(last, last.c.case_id == ArchivalFile.case_id)
                              .where(ArchivalFile.status == "filed")
                              .order_by(last.c.at.is_not(None), last.c.at, ArchivalFile.case_id).limit(limit)).all()
        for case_id in ids:
            case = session.get(Case, case_id)
            row = session.get(ArchivalFile, case_id)
            assert case is not None and row is not None
            checker = Checker(session, store, load_rules(config.get("ARCHIVAL_RULES") or None), scan_settings(config),
                              "keeping", now, int(config.get("RETENTION_PERMANENT_YEARS", 100)))
            report = checker.run(case, row)
            check = _keep(session, case_id, report, "worker", now)
            audit.append(session, "archive.check", actor="worker", target_type="case", target_id=case_id,
                         detail={"phase": "keeping", "passed": report.passed, "check": check.id,
                                 "failed": [i.id for i in report.failures]})
            session.commit()
            out.append((case_id, report.passed))
    return out


def metadata_of(c, doc_id: str) -> dict[str, Any]:
    """A document's archival metadata as it stands: as filed, or as it would be filed now."""
    from archive.models import ArchivalMetadata, Examination, Organisation
    from archive.services.documents import scoped_document

    doc = scoped_document(c, doc_id)
    case = doc.case
    row = filed(c.session, case.id)
    if row is not None:
        return {"filed": True, "editable": [], "metadata": json.loads(row.metadata_json).get(doc.id, {})}
    rules = load_rules(c.config.get("ARCHIVAL_RULES") or None)
    docs = sorted(case.documents, key=lambda d: (d.uploaded_at, d.id))
    exam = c.session.scalar(select(Examination).where(Examination.document_id == doc.id,
                                                      Examination.version_id == doc.version_id))
    agency = c.session.get(Organisation, case.agency_code)
    edited = {m.name: m.value for m in c.session.scalars(select(ArchivalMetadata).where(
        ArchivalMetadata.document_id == doc.id))}
    retention, _ = retention_for(case, rules)
    from archive.services.archivalrules import EDITABLE, document_metadata

    meta = document_metadata(case, doc, exam, "（归档时分配）", docs.index(doc) + 1, rules.period_name(retention),
                             agency.name if agency else case.agency_code, None, edited)
    return {"filed": False, "editable": list(EDITABLE), "metadata": meta}


def set_metadata(c, doc_id: str, values: dict[str, str]) -> dict[str, Any]:
    """The agency sets 题名, 文件编号, 责任者 or 密级 of a document before filing (audited); an
    empty value returns an element to what the archive fills in."""
    from archive.services.archivalrules import CLASSIFICATIONS, EDITABLE
    from archive.services.cases import scoped_case
    from archive.services.documents import scoped_document

    doc = scoped_document(c, doc_id)
    scoped_case(c, doc.case_id, write=True)  # the agency's own, and not filed (409)
    errors = {}
    for name, value in values.items():
        if name not in EDITABLE:
            errors[name] = [f"只能修改：{'、'.join(EDITABLE)}"]
        elif len(value or "") > 500:
            errors[name] = ["最多 500 个字"]
        elif name == "密级" and value and value not in CLASSIFICATIONS:
            errors[name] = [f"密级应为：{'、'.join(CLASSIFICATIONS)}"]
    if errors:
        raise ValidationFailed("元数据有误 / the metadata is not valid", errors)
    from sqlalchemy.exc import IntegrityError

    try:
        _store_metadata(c, doc_id, values)
    except IntegrityError:  # set at the same moment by someone else: the unique constraint decided; again, as an update
        c.session.rollback()
        _store_metadata(c, doc_id, values)
    return metadata_of(c, doc_id)


def _store_metadata(c, doc_id: str, values: dict[str, str]) -> None:
    from archive.clock import now as server_now
    from archive.models import ArchivalMetadata

    with c.transaction():
        for name, value in values.items():
            row = c.session.scalar(select(ArchivalMetadata).where(ArchivalMetadata.document_id == doc_id,
                                                                  ArchivalMetadata.name == name))
            value = (value or "").strip()
            if not value:
                if row is not None:
                    c.session.delete(row)
            elif row is None:
                c.session.add(ArchivalMetadata(document_id=doc_id, name=name, value=value, set_by=c.username,
                                               set_at=server_now()))
            else:
                row.value, row.set_by, row.set_at = value, c.username, server_now()
        c.audit_in(c.session, "archive.metadata", "document", doc_id, **{k: v for k, v in values.items()})
