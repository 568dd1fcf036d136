"""鉴定与销毁: appraisal and disposal of filed cases whose retention period has ended.

When a filed case's 保管期限 has ended (``archival_files.retain_until`` before today; 永久 never
ends), it is on the 到期鉴定 list of its district office (and of the city office). The office
either keeps it longer — a new period with its reason, counted from the end of the old one,
the object lock extended by the ``retain`` job — or proposes its disposal. A proposal is
approved (or not) by another office role (``policy.approves_disposal``); an open complaint about
the case (a legal hold) refuses both the proposal and the approval and stops the disposal.

The ``dispose`` job carries out an approved disposal and never bypasses object lock: it first
asks the store about every stored version under ``cases/<id>/`` (documents, earlier versions,
receipts, renditions, the case manifest) and removes nothing while any of them is still
retained or held — it waits until the latest retention date (or a day, for a hold) and tries
again. Before the first removal it writes the tombstone (``archivalrecord``: the case manifest,
every document with SHA-256 and size, the appraisal); when the prefix is empty, the documents
are marked disposed (their text cleared, the content answers 410), removed from the search
index, skipped by fixity, and the 销毁清册 entry is completed — audited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock, jobs
from archive.auth import policy
from archive.errors import Conflict, NotFound, ValidationFailed
from archive.models import Appraisal, ArchivalFile, Case, DocumentVersion, Organisation
from archive.services import archivalrecord
from archive.services.archivalrules import load_rules
from archive.services.holds import case_held
from archive.services.objects import IngestSettings
from archive.storage.base import ObjectLocked, ObjectNotFound, ObjectStore

OPEN_DISPOSAL = ("proposed", "approved")
STATUS_NAMES = {"proposed": "待审批", "approved": "已批准，待销毁", "rejected": "未批准", "disposed": "已销毁",
                "done": "已延长"}
HELD = "有未办结的投诉举报（法律保全），不能销毁"


class DisposalWaits(Exception):
    """The disposal cannot go on yet (a version still retained or held); try again at ``at``."""

    def __init__(self, why: str, at: dt.datetime) -> None:
        super().__init__(why)
        self.why, self.at = why, at


def now() -> dt.datetime:
    """The server clock as appraisal reads it (tests set it here: a frozen ``archive.clock.now``
    would be bound for good by any module imported while it is frozen)."""
    return clock.now()


def today() -> dt.date:
    """Today in Beijing, by the server clock."""
    return now().astimezone(clock.SHANGHAI).date()


def _reason(text: str | None, field: str = "reason") -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("请写明鉴定意见 / a reason is required", {field: ["请写明鉴定意见"]})
    if len(text) > 2000:
        raise ValidationFailed("鉴定意见最多 2000 字 / the reason is too long", {field: ["最多 2000 字"]})
    return text


def _office(c) -> None:
    if not policy.appraises(c.principal):
        c.refuse("appraisal", "list", visible=True, why="appraisal is the district and city offices' work")


def _filed_case(c, case_id: str) -> tuple[Case, ArchivalFile]:
    """A filed case of the caller's scope (404 outside it, as any case)."""
    _office(c)
    case = c.case_for(c.session.get(Case, case_id), case_id)
    row = c.session.get(ArchivalFile, case_id)
    if row is None:
        raise Conflict("案卷尚未归档，不能鉴定 / the case is not filed", {"case": ["案卷尚未归档"]})
    return case, row


def _is_due(row: ArchivalFile, day: dt.date) -> bool:
    return row.retention != "Y" and row.retain_until is not None and row.retain_until < day


def _open_disposal(session: Session, case_id: str) -> Appraisal | None:
    return session.scalar(select(Appraisal).where(Appraisal.case_id == case_id, Appraisal.kind == "dispose",
                                                  Appraisal.status.in_(OPEN_DISPOSAL)))


# -- the lists ------------------------------------------------------------------------------------

def due_list(c, day: dt.date | None = None) -> list[dict[str, Any]]:
    """到期鉴定: the caller's filed cases whose retention period ended before ``day`` (today),
    oldest first, each with whether it is held and its open disposal."""
    _office(c)
    day = day or today()
    q = (select(ArchivalFile, Case).join(Case, Case.id == ArchivalFile.case_id)
         .where(ArchivalFile.status.in_(("filed", "disposing")), ArchivalFile.retention != "Y",
                ArchivalFile.retain_until.is_not(None), ArchivalFile.retain_until < day)
         .order_by(ArchivalFile.retain_until, ArchivalFile.archival_no))
    q = policy.scoped(q, c.principal, ArchivalFile.agency_code)
    rules = load_rules(c.config.get("ARCHIVAL_RULES") or None)
    names = dict(c.session.execute(select(Organisation.code, Organisation.name)).all())
    out = []
    for row, case in c.session.execute(q).all():
        proposal = _open_disposal(c.session, row.case_id)
        out.append({"case_id": row.case_id, "case_number": case.number, "party_name": case.party_name,
                    "agency_code": row.agency_code, "agency_name": names.get(row.agency_code, row.agency_code),
                    "archival_no": row.archival_no, "retention": row.retention,
                    "retention_name": rules.period_name(row.retention), "retain_until": row.retain_until,
                    "held": case_held(c.session, row.case_id), "status": row.status,
                    "proposal": view(proposal) if proposal is not None else None,
                    "may_decide": proposal is not None and proposal.status == "proposed" and policy.approves_disposal(
                        c.principal, proposal.proposed_role, row.agency_code)})
    return out


def history(c, case_id: str) -> list[Appraisal]:
    """A case's appraisals (whoever reads the case)."""
    c.case_for(c.session.get(Case, case_id), case_id)
    return list(c.session.scalars(select(Appraisal).where(Appraisal.case_id == case_id).order_by(Appraisal.id)))


def disposals(c, status: str | None = None) -> list[Appraisal]:
    """The disposals of the caller's scope, newest first (``status``: proposed, approved,
    rejected, disposed); the disposed ones are the 销毁清册."""
    _office(c)
    q = (select(Appraisal).join(ArchivalFile, ArchivalFile.case_id == Appraisal.case_id)
         .where(Appraisal.kind == "dispose").order_by(Appraisal.id.desc()))
    if status:
        q = q.where(Appraisal.status == status)
    q = policy.scoped(q, c.principal, ArchivalFile.agency_code)
    return list(c.session.scalars(q))


def disposal(c, appraisal_id: int) -> Appraisal:
    _office(c)
    a = c.session.get(Appraisal, appraisal_id)
    row = c.session.get(ArchivalFile, a.case_id) if a is not None else None
    if a is None or a.kind != "dispose" or row is None or not c.principal.sees_agency(row.agency_code):
        raise NotFound("no such disposal")
    return a


def view(a: Appraisal) -> dict[str, Any]:
    body = archivalrecord.appraisal_view(a)
    body["status_name"] = STATUS_NAMES.get(a.status, a.status)
    body["case_id"] = a.case_id
    body["waiting"] = a.waiting
    body["register"] = json.loads(a.register or "{}")
    return body


# -- the decisions --------------------------------------------------------------------------------

def keep_longer(c, case_id: str, period: str, reason: str) -> Appraisal:
    """Keep a due case longer: ``period`` (a retention code of the rules) counted from the end
    of the old one, with the reason (鉴定意见). The 档号 and its period code stay as filed; the
    new end is the file's ``retain_until`` and the object lock follows (the ``retain`` job)."""
    case, row = _filed_case(c, case_id)
    rules = load_rules(c.config.get("ARCHIVAL_RULES") or None)
    if period not in rules.periods:
        raise ValidationFailed("保管期限不对 / unknown retention period",
                               {"period": [f"应为：{'、'.join(rules.period_name(p) for p in rules.periods)}"]})
    reason = _reason(reason)
    day = today()
    if row.status != "filed" or not _is_due(row, day):
        raise Conflict("该案卷保管期限未满，无需鉴定 / the retention period has not ended",
                       {"case": ["保管期限未满或案卷不在保管中"]})
    if _open_disposal(c.session, case_id) is not None:
        raise Conflict("该案卷已提出销毁，待审批 / a disposal is proposed", {"case": ["已提出销毁，请先审批"]})
    years = rules.periods[period][1]
    old = row.retain_until
    assert old is not None
    if years is None:
        new = dt.date(day.year + 1 + int(c.config.get("RETENTION_PERMANENT_YEARS", 100)), 1, 1) - dt.timedelta(days=1)
    else:
        new = _add_years(old, years)
    at = now()
    with c.transaction():
        done = c.session.execute(update(ArchivalFile).where(
            ArchivalFile.case_id == case_id, ArchivalFile.status == "filed", ArchivalFile.retain_until == old)
            .values(retain_until=new).execution_options(synchronize_session=False)).rowcount
        if done != 1:  # decided at the same moment by someone else
            raise Conflict("该案卷刚被他人鉴定，请刷新 / appraised at the same moment", {"case": ["刚被他人鉴定"]})
        a = Appraisal(case_id=case_id, kind="keep", status="done", archival_no=row.archival_no,
                      retention_before=row.retention, until_before=old, retention_after=period, until_after=new,
                      reason=reason, proposed_by=c.username, proposed_role=c.principal.role, proposed_at=at)
        c.session.add(a)
        c.session.flush()
        jobs.enqueue(c.session, "retain", case_id)
        c.audit_in(c.session, "archive.keep", "case", case_id, appraisal=a.id, archival_no=row.archival_no,
                   period=period, until_before=str(old), until_after=str(new), reason=reason)
    c.session.refresh(row)
    return a


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def propose(c, case_id: str, reason: str) -> Appraisal:
    """Propose the disposal of a due case (鉴定意见); refused while the case is held (an open
    complaint) and when a disposal of it is already open (the partial unique index decides
    between two proposals at once)."""
    case, row = _filed_case(c, case_id)
    reason = _reason(reason)
    if row.status != "filed" or not _is_due(row, today()):
        raise Conflict("该案卷保管期限未满，不能销毁 / the retention period has not ended",
                       {"case": ["保管期限未满或案卷不在保管中，不能销毁"]})
    if case_held(c.session, case_id):
        raise Conflict(HELD + " / an open complaint holds the case", {"case": [HELD]})
    a = Appraisal(case_id=case_id, kind="dispose", status="proposed", archival_no=row.archival_no,
                  retention_before=row.retention, until_before=row.retain_until, reason=reason,
                  proposed_by=c.username, proposed_role=c.principal.role, proposed_at=now())
    try:
        with c.transaction():
            c.session.add(a)
            c.session.flush()
            c.audit_in(c.session, "archive.dispose_propose", "case", case_id, appraisal=a.id,
                       archival_no=row.archival_no, reason=reason)
    except IntegrityError:
        raise Conflict("该案卷已提出销毁 / a disposal of the case is already open",
                       {"case": ["已提出销毁，待审批"]}) from None
    return a


def decide(c, appraisal_id: int, approve: bool, note: str = "") -> Appraisal:
    """Approve or refuse a proposed disposal (another office role than the proposer's; each
    proposal is decided once: compare-and-set on its status). An approval makes the register
    (销毁清册 entry) and queues the ``dispose`` job; an open complaint refuses it."""
    a = disposal(c, appraisal_id)
    row = c.session.get(ArchivalFile, a.case_id)
    assert row is not None
    if not policy.approves_disposal(c.principal, a.proposed_role, row.agency_code):
        c.refuse("appraisal", str(appraisal_id), visible=True,
                 why="a disposal is approved by another office role than the one that proposed it")
    note = (note or "").strip()[:2000]
    if not approve and not note:
        raise ValidationFailed("请写明不批准的理由 / a reason is required", {"note": ["请写明不批准的理由"]})
    if a.status != "proposed":
        raise Conflict("该销毁申请已处理 / already decided", {"appraisal": ["已处理"]})
    if approve and case_held(c.session, a.case_id):
        raise Conflict(HELD + " / an open complaint holds the case", {"case": [HELD]})
    at = now()
    with c.transaction():
        done = c.session.execute(update(Appraisal).where(Appraisal.id == a.id, Appraisal.status == "proposed").values(
            status="approved" if approve else "rejected", decided_by=c.username, decided_role=c.principal.role,
            decided_at=at, decision_note=note).execution_options(synchronize_session=False)).rowcount
        if done != 1:
            raise Conflict("该销毁申请已处理 / already decided", {"appraisal": ["已处理"]})
        if approve:
            moved = c.session.execute(update(ArchivalFile).where(
                ArchivalFile.case_id == a.case_id, ArchivalFile.status == "filed").values(status="disposing")
                .execution_options(synchronize_session=False)).rowcount
            if moved != 1:
                raise Conflict("案卷不在保管中（已移交或已销毁）/ the file is not kept here", {"case": ["案卷不在保管中"]})
            c.session.expire_all()
            body = register(c.session, c.config, a.case_id, c.session.get(Appraisal, a.id))
            c.session.execute(update(Appraisal).where(Appraisal.id == a.id).values(
                register=_dump(body), register_sha256=_sha(body)).execution_options(synchronize_session=False))
            jobs.enqueue(c.session, "dispose", a.case_id)
        c.audit_in(c.session, "archive.dispose_approve" if approve else "archive.dispose_reject", "case", a.case_id,
                   appraisal=a.id, archival_no=a.archival_no, note=note)
    c.session.expire_all()
    out = c.session.get(Appraisal, a.id)
    assert out is not None
    return out


def _dump(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)


def _sha(body: dict) -> str:
    return hashlib.sha256(_dump(body).encode("utf-8")).hexdigest()


def register(session: Session, config: dict, case_id: str, a: Appraisal | None) -> dict[str, Any]:
    """The 销毁清册 entry of a case: the case, its 档号 and period, every document with its
    题名, SHA-256 and size (earlier versions too), who proposed and approved, when."""
    row = session.get(ArchivalFile, case_id)
    case = session.get(Case, case_id)
    assert row is not None and case is not None
    rules = load_rules(config.get("ARCHIVAL_RULES") or None)
    meta = json.loads(row.metadata_json or "{}")
    agency = session.get(Organisation, row.agency_code)
    docs = []
    for seq, d in enumerate(sorted(case.documents, key=lambda d: (d.uploaded_at, d.id)), 1):
        versions = session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == d.id)
                                   .order_by(DocumentVersion.version_no)).all()
        docs.append({"seq": seq, "document_id": d.id, "题名": meta.get(d.id, {}).get("题名") or d.filename,
                     "filename": d.filename, "stage": d.stage, "form": d.form_code, "size": d.size,
                     "sha256": d.sha256, "version_no": d.version_no,
                     "earlier_versions": [{"version_no": v.version_no, "size": v.size, "sha256": v.sha256}
                                          for v in versions]})
    return {"case_id": case_id, "case_number": case.number, "party_name": case.party_name,
            "agency_code": row.agency_code, "agency_name": agency.name if agency else row.agency_code,
            "archival_no": row.archival_no, "year": row.year, "retention": row.retention,
            "retention_name": rules.period_name(row.retention), "retain_until": str(row.retain_until),
            "filed_at": row.filed_at.isoformat(), "documents": docs, "files": len(docs),
            "bytes": sum(d["size"] for d in docs),
            "reason": a.reason if a else "", "proposed_by": a.proposed_by if a else "",
            "proposed_at": a.proposed_at.isoformat() if a else "",
            "approved_by": a.decided_by if a else "", "approved_role": a.decided_role if a else "",
            "approved_at": a.decided_at.isoformat() if a and a.decided_at else "",
            "note": a.decision_note if a else "", "disposed_at": a.disposed_at.isoformat() if a and a.disposed_at else ""}


# -- the job --------------------------------------------------------------------------------------

def _store_now() -> dt.datetime:
    """The time as the object store counts retention (its wall clock, not the archive's)."""
    return dt.datetime.now(dt.timezone.utc)


def dispose_case(sessions, store: ObjectStore, settings: IngestSettings, case_id: str) -> str:
    """The ``dispose`` job. Returns what it did: ``disposed``, ``nothing`` (no approved
    disposal) — or raises ``DisposalWaits`` when a version is still retained or held."""
    from archive import audit
    from archive.models import Document
    from archive.services.rebuild import case_manifest

    prefix = f"cases/{case_id}/"
    with sessions() as session:
        a = session.scalar(select(Appraisal).where(Appraisal.case_id == case_id, Appraisal.kind == "dispose",
                                                   Appraisal.status.in_(("approved", "disposed"))))
        if a is None:
            return "nothing"
        case = session.get(Case, case_id)
        assert case is not None
        if a.status == "disposed":  # done; the record's last version may not have been written
            archivalrecord.write(session, store, settings, case_id, case_manifest(session, case), now())
            return "disposed"
        if case_held(session, case_id):
            _waiting(session, a, HELD)
            raise DisposalWaits(HELD, _store_now() + dt.timedelta(days=1))
        versions = list(store.keys(prefix))
        later: dt.datetime | None = None
        held = False
        for key, version in versions:
            try:
                info = store.stat(key, version)
            except ObjectNotFound:
                continue
            if info.legal_hold:
                held = True
            if info.retain_until is not None and info.retain_until > _store_now():
                later = max(later or info.retain_until, info.retain_until)
        if held:
            _waiting(session, a, "存储中有文件处于法律保全，暂不能销毁")
            raise DisposalWaits("legal hold", _store_now() + dt.timedelta(days=1))
        if later is not None:
            why = f"存储保留期至 {later.astimezone(clock.SHANGHAI):%Y-%m-%d %H:%M}，届满后自动销毁"
            _waiting(session, a, why)
            raise DisposalWaits(why, later + dt.timedelta(seconds=1))
        manifest = case_manifest(session, case)
        # the tombstone first: a crash after any removal leaves what rebuild needs
        archivalrecord.write(session, store, settings, case_id, manifest, now())
        for key, version in versions:
            try:
                store.remove_version(key, version)
            except ObjectNotFound:
                pass
            except ObjectLocked:  # the store disagrees (its clock): nothing bypassed, try later
                _waiting(session, a, "存储拒绝删除（保留期未满），稍后重试")
                raise DisposalWaits("object locked", _store_now() + dt.timedelta(hours=1)) from None
        left = [k for k, _ in store.keys(prefix)]
        if left:
            raise DisposalWaits(f"{len(left)} versions still stored", _store_now() + dt.timedelta(minutes=5))
        at = now()
        docs = list(session.scalars(select(Document).where(Document.case_id == case_id)))
        index_ids = []
        for d in docs:
            d.disposed_at, d.text_content, d.text_status = at, None, "disposed"
            index_ids.append(d.id)
            for v in session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == d.id)):
                v.text_content = None
                index_ids.append(f"{d.id}@v{v.version_no}")
        row = session.get(ArchivalFile, case_id)
        assert row is not None
        row.status = "disposed"
        a.status, a.disposed_at, a.waiting = "disposed", at, ""
        body = json.loads(a.register or "{}")
        body["disposed_at"] = at.isoformat()
        a.register, a.register_sha256 = _dump(body), _sha(body)
        jobs.enqueue_index(session, index_ids, kind="delete")
        audit.append(session, "archive.dispose", actor="worker", target_type="case", target_id=case_id,
                     detail={"appraisal": a.id, "archival_no": a.archival_no, "versions": len(versions),
                             "documents": len(docs), "register_sha256": a.register_sha256})
        session.commit()
        archivalrecord.write(session, store, settings, case_id, manifest, at)
        return "disposed"


def _waiting(session: Session, a: Appraisal, why: str) -> None:
    a.waiting = why
    session.commit()


def disposed_document(session: Session, doc_id: str) -> bool:
    from archive.models import Document

    return bool(session.scalar(select(exists().where(Document.id == doc_id, Document.disposed_at.is_not(None)))))


def waiting_on(session: Session, p, limit: int = 10) -> tuple[list[tuple[ArchivalFile, str]], list[Appraisal]]:
    """The 工作台's 待办 of an office: due cases nobody has appraised yet (with their case
    numbers) and the proposals it may approve."""
    if not policy.appraises(p):
        return [], []
    proposed = (select(Appraisal.case_id).where(Appraisal.kind == "dispose", Appraisal.status.in_(OPEN_DISPOSAL)))
    due_q = (select(ArchivalFile, Case.number).join(Case, Case.id == ArchivalFile.case_id)
             .where(ArchivalFile.status == "filed", ArchivalFile.retention != "Y",
                    ArchivalFile.retain_until.is_not(None), ArchivalFile.retain_until < today(),
                    ArchivalFile.case_id.not_in(proposed))
             .order_by(ArchivalFile.retain_until, ArchivalFile.archival_no))
    due = [(row, number) for row, number in session.execute(policy.scoped(due_q, p, ArchivalFile.agency_code)
                                                            .limit(limit))]
    props_q = (select(Appraisal, ArchivalFile.agency_code).join(ArchivalFile, ArchivalFile.case_id == Appraisal.case_id)
               .where(Appraisal.kind == "dispose", Appraisal.status == "proposed").order_by(Appraisal.id))
    props = [a for a, agency in session.execute(policy.scoped(props_q, p, ArchivalFile.agency_code))
             if policy.approves_disposal(p, a.proposed_role, agency)][:limit]
    return due, props
