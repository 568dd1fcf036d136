"""The to-do panel (待办) on the home page: what the caller's role has to act on, in scope."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.auth.principal import Principal
from archive.models import Amendment, Case, Complaint, Review, WarningRecord
from archive.services.clock import local

LEVEL_OF_ROLE = {"agency_legal": 1, "agency_clerk": 1, "district_office": 2, "city_office": 3}


def _in_scope(q, column, p: Principal):
    return q if p.agencies is None else q.where(column.in_(sorted(p.agencies)))


def sections(session: Session, p: Principal, limit: int = 10) -> list[dict]:
    """[{title, count, items: [{text, href, meta}]}] for the caller's role."""
    out = []
    if p.role == "reviewer":
        rows = session.execute(select(Review, Case.number).join(Case, Case.id == Review.case_id)
                               .where(Review.reviewer == p.username, Review.status == "assigned")
                               .order_by(Review.due_on, Review.id).limit(limit)).all()
        out.append({"title": "评查任务", "count": len(rows), "items": [
            {"text": number, "href": f"/api/cases/{r.case_id}/binder.pdf", "meta": f"评查截止 {r.due_on.isoformat()}",
             "extra": {"案卷包": f"/api/cases/{r.case_id}/bundle"}} for r, number in rows]})
        return out
    level = LEVEL_OF_ROLE.get(p.role)
    if level is not None:
        q = _in_scope(select(WarningRecord, Case.number).join(Case, Case.id == WarningRecord.case_id)
                      .where(WarningRecord.status == "open", WarningRecord.level == level), WarningRecord.agency_code, p)
        count_q = _in_scope(select(func.count()).select_from(WarningRecord).where(
            WarningRecord.status == "open", WarningRecord.level == level), WarningRecord.agency_code, p)
        rows = session.execute(q.order_by(WarningRecord.due_at.is_(None), WarningRecord.due_at).limit(limit)).all()
        out.append({"title": f"{level} 级预警", "count": session.scalar(count_q) or 0, "items": [
            {"text": f"{number}：{w.message}", "href": f"/api/cases/{w.case_id}",
             "meta": f"处理期限 {local(w.due_at):%Y-%m-%d}" if w.due_at else "期限待定"} for w, number in rows]})
    if p.role in ("district_office", "city_office"):
        q = _in_scope(select(Amendment).where(Amendment.status == "pending"), Amendment.agency_code, p)
        pending = session.scalars(q.order_by(Amendment.id).limit(limit)).all()
        out.append({"title": "待审批的更正申请", "count": len(pending), "items": [
            {"text": f"{a.filename}：{a.reason}", "href": f"/api/documents/{a.document_id}/versions",
             "meta": f"{a.requested_by} · {local(a.requested_at):%Y-%m-%d}"} for a in pending]})
    if p.role in ("complaint_handler", "district_office"):
        q = select(Complaint).where(Complaint.status == "open")
        if p.agencies is not None:
            q = q.where(Complaint.district_code == p.scope_code)
        complaints = session.scalars(q.order_by(Complaint.received_at).limit(limit)).all()
        out.append({"title": "办理中的投诉举报", "count": len(complaints), "items": [
            {"text": f"{c.complainant}：{c.text[:60]}", "href": f"/api/complaints/{c.id}",
             "meta": f"收到 {local(c.received_at):%Y-%m-%d}"} for c in complaints]})
    return out
