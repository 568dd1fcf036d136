"""Correcting a case's facts (a wrong 立案日期, party name or ID, summary): the agency asks with a
reason, its supervising office approves or rejects, exactly once (a compare-and-set on the
pending status); one pending request per case and fact (a partial unique index). The case keeps
every request (old and new value, who, why) and the audit trail records each step."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import audit
from archive.auth import policy
from archive.auth.principal import Principal
from archive.db import compare_and_set, get_or_404
from archive.errors import Conflict, Forbidden, NotFound, ValidationFailed
from archive.models import Case, CaseCorrection
from archive.services.amendments import supervising_role
from archive.clock import SHANGHAI

FIELDS = {"opened_on": "立案/检查日期", "party_name": "当事人", "party_id": "统一社会信用代码/身份证号",
          "summary": "案情摘要"}


def current_value(case: Case, field: str) -> str:
    value = getattr(case, field)
    return value.isoformat() if isinstance(value, dt.date) else (value or "")


def _checked(session: Session, case: Case, field: str, raw: str, now: dt.datetime) -> str:
    """The new value as stored, or ValidationFailed naming ``new_value`` in Chinese."""
    from archive.services.cases import PARTY_ID

    def refuse(why: str):
        raise ValidationFailed(why, {"new_value": [why]})

    value = (raw or "").strip()
    if field not in FIELDS:
        raise ValidationFailed("请选择要更正的项目", {"field": ["请选择要更正的项目"]})
    if field == "opened_on":
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            refuse("日期格式应为 年-月-日")
        if day > now.astimezone(SHANGHAI).date():
            refuse("立案日期不能晚于今天")
        first = min((s.completed_at.astimezone(SHANGHAI).date() for s in case.stages), default=None)
        if first is not None and day > first:
            refuse(f"立案日期不能晚于已登记环节的完成日期（{first:%Y-%m-%d}）")
        value = day.isoformat()
    elif field == "party_id":
        value = value.upper()
        if value and not PARTY_ID.match(value):
            refuse("不是有效的统一社会信用代码或身份证号码")
    elif field == "party_name":
        if not value:
            refuse("请填写当事人名称")
        if len(value) > 200:
            refuse("当事人名称最多 200 个字")
    elif len(value) > 5000:
        refuse("案情摘要最多 5000 个字")
    if value == current_value(case, field):
        refuse("与现在的内容相同，无需更正")
    return value


def request(session: Session, p: Principal, case: Case, *, field: str, new_value: str, reason: str,
            now: dt.datetime) -> CaseCorrection:
    """The agency asks to correct one fact of its case; committed and audited."""
    if not policy.writes_agency(p, case.agency_code):
        raise Forbidden("只有本案执法机关可以申请更正 / only the case's agency asks", {"role": ["只有本案执法机关可以申请更正"]})
    errors: dict[str, list[str]] = {}
    if not (reason or "").strip():
        errors["reason"] = ["请写明更正理由"]
    try:
        value = _checked(session, case, field, new_value, now)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed("更正申请有误 / the correction is not valid", errors)
    c = CaseCorrection(case_id=case.id, agency_code=case.agency_code, field=field, old_value=current_value(case, field),
                       new_value=value, reason=reason.strip()[:5000], requested_by=p.username, requested_at=now,
                       status="pending")
    session.add(c)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("这一项已有待审批的更正申请 / a correction of it is pending",
                       {"field": ["这一项已有待审批的更正申请"]}) from None
    audit.append(session, "case.correction_request", actor=p.username, role=p.role, target_type="case",
                 target_id=case.id, detail={"field": field, "old": c.old_value, "new": value, "reason": c.reason})
    session.commit()
    return c


def decide(session: Session, p: Principal, c: CaseCorrection, *, approve: bool, note: str,
           now: dt.datetime) -> CaseCorrection:
    """Approve (the case takes the new value) or reject with a reason, exactly once."""
    role, _ = supervising_role(session, c.agency_code)
    if not policy.decides_amendment(p, role, c.agency_code, c.requested_by):
        raise Forbidden("由上级法制部门审批 / decided by the supervising office", {"role": ["由上级法制部门审批"]})
    note = (note or "").strip()
    if not approve and not note:
        raise ValidationFailed("驳回时请写明理由", {"note": ["驳回时请写明理由"]})
    if c.status != "pending":
        raise Conflict("这份更正申请已审批 / decided already")
    case = session.get(Case, c.case_id)
    assert case is not None
    if approve and current_value(case, c.field) != c.old_value:
        raise Conflict("案件的这一项在申请后已被更改，请重新申请 / the case changed since the request")
    if not compare_and_set(session, update(CaseCorrection).where(
            CaseCorrection.id == c.id, CaseCorrection.status == "pending").values(
            status="approved" if approve else "rejected", decided_by=p.username, decided_at=now,
            decision_note=note or None)):
        session.rollback()
        raise Conflict("这份更正申请已审批 / decided already")
    if approve:
        setattr(case, c.field, dt.date.fromisoformat(c.new_value) if c.field == "opened_on" else c.new_value)
        case.changed_at = now  # deadlines and warnings are looked at again
        from archive.services.cases import manifest_changed

        manifest_changed(session, case)
    audit.append(session, "case.correction_decide", actor=p.username, role=p.role, target_type="case",
                 target_id=c.case_id, detail={"correction": c.id, "field": c.field, "old": c.old_value,
                                              "new": c.new_value, "approve": approve, "note": note})
    session.commit()
    session.refresh(c)
    return c


def get(session: Session, p: Principal, correction_id: int) -> CaseCorrection:
    c = get_or_404(session, CaseCorrection, correction_id, "case correction")
    if not policy.reads_agency(p, c.agency_code):
        exc = NotFound("no such case correction")
        exc.audit = ("case_correction", str(correction_id), "outside your scope")
        raise exc
    return c


def history(session: Session, case_id: str) -> list[CaseCorrection]:
    return list(session.scalars(select(CaseCorrection).where(CaseCorrection.case_id == case_id)
                                .order_by(CaseCorrection.requested_at, CaseCorrection.id)))


def pending_for(session: Session, agencies: frozenset[str] | None) -> list[CaseCorrection]:
    q = select(CaseCorrection).where(CaseCorrection.status == "pending")
    if agencies is not None:
        q = q.where(CaseCorrection.agency_code.in_(sorted(agencies)))
    return list(session.scalars(q.order_by(CaseCorrection.requested_at)))
