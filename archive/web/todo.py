"""The to-do panel (待办) of the 工作台: what the caller's role has to act on, in scope, each item
linking to the page where it is acted on."""
from __future__ import annotations

import datetime as dt

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.auth import policy
from archive.auth.principal import Principal
from archive.labels import LEVEL_NAMES
from archive.models import Amendment, BasicInfoChange, Case, Complaint, Review, WarningRecord
from archive.services.basicinfo import KIND_NAMES
from archive.clock import local, now

def _in_scope(q, column, p: Principal):
    return policy.scoped(q, p, column)


def sections(session: Session, p: Principal, limit: int = 10) -> list[dict]:
    """[{title, count, items: [{text, href, meta, extra}], more}] for the caller's role."""
    out = []
    if policy.loads_calendar(p):
        from archive.deadlines.service import missing_calendar_years

        missing = missing_calendar_years(session)
        if missing:
            out.append({"title": "系统提醒", "count": len(missing), "alert": True, "items": [
                {"text": f"缺少 {y} 年节假日安排：需要这一年的期限显示为“期限待定”，预警无法计算。"
                         f"请在“节假日安排”页面导入。", "href": url_for("web.calendar_page"), "meta": ""} for y in missing]})
    if policy.secures_accounts(p):
        from archive.models import User

        locked = session.scalars(select(User).where(User.locked_until > now()).order_by(User.username)).all()
        out.append({"title": "被锁定的账号", "count": len(locked), "more": url_for("web.security_accounts"), "items": [
            {"text": f"{u.display_name or u.username}（{u.username}）连续登录失败 {u.failed_logins} 次",
             "href": url_for("web.security_accounts") + f"#u-{u.username}",
             "meta": f"锁定至 {local(u.locked_until):%m-%d %H:%M}", "urgent": True} for u in locked[:limit]]})
    if policy.reads_security_alerts(p):
        from archive.models import SecurityAlert

        alerts = session.scalars(select(SecurityAlert).where(SecurityAlert.acknowledged_at.is_(None))
                                 .order_by(SecurityAlert.raised_at.desc())).all()
        out.append({"title": "安全告警（待核查）", "count": len(alerts), "alert": bool(alerts),
                    "more": url_for("web.audit_trail") + "#alerts", "items": [
            {"text": a.message, "href": url_for("web.audit_trail") + "#alerts",
             "meta": f"{a.level} 级 · {local(a.raised_at):%Y-%m-%d %H:%M}", "urgent": True} for a in alerts[:limit]]})
    if policy.works_from_assignments(p):
        rows = session.execute(select(Review, Case.number).join(Case, Case.id == Review.case_id)
                               .where(Review.reviewer == p.username, Review.status == "assigned")
                               .order_by(Review.due_on, Review.id).limit(limit)).all()
        out.append({"title": "评查任务", "count": len(rows), "more": url_for("web.reviews"), "items": [
            {"text": number, "href": url_for("web.review", review_id=r.id), "meta": f"评查截止 {r.due_on.isoformat()}",
             "extra": {"案卷 PDF": f"/api/cases/{r.case_id}/binder.pdf", "案卷包": f"/api/cases/{r.case_id}/bundle"}}
            for r, number in rows]})
        return out
    level = policy.warning_level(p)
    if level is not None:
        base = _in_scope(select(WarningRecord, Case.number).outerjoin(Case, Case.id == WarningRecord.case_id)
                         .where(WarningRecord.status == "open", WarningRecord.level == level),
                         WarningRecord.agency_code, p)
        count_q = _in_scope(select(func.count()).select_from(WarningRecord).where(
            WarningRecord.status == "open", WarningRecord.level == level), WarningRecord.agency_code, p)
        rows = session.execute(base.order_by(WarningRecord.due_at.is_(None), WarningRecord.due_at,
                                             WarningRecord.id).limit(limit)).all()
        out.append({"title": f"{LEVEL_NAMES[level]}预警（待处理）", "count": session.scalar(count_q) or 0,
                    "more": url_for("web.warnings", level=level, status="open"), "items": [
            {"text": f"{number or '基础信息'}：{w.message}", "href": url_for("web.warning", warning_id=w.id),
             "meta": f"处理期限 {local(w.due_at):%Y-%m-%d}" if w.due_at else ("最高级，不再升级" if level == 3 else "期限待定"),
             "urgent": w.due_at is not None and w.due_at < now() + dt.timedelta(days=1)} for w, number in rows]})
    if policy.supervises(p):
        from archive.services.amendments import supervising_role

        q = _in_scope(select(Amendment).where(Amendment.status == "pending"), Amendment.agency_code, p)
        decider: dict[str, str] = {}  # agency code -> the role that decides its amendments (asked once each)
        pending = [a for a in session.scalars(q.order_by(Amendment.requested_at, Amendment.id).limit(200))
                   if decider.setdefault(a.agency_code, supervising_role(session, a.agency_code)[0]) == p.role][:limit]
        from archive.models import CaseCorrection
        from archive.services.corrections import FIELDS

        fixes = [k for k in session.scalars(_in_scope(select(CaseCorrection).where(CaseCorrection.status == "pending"),
                                                      CaseCorrection.agency_code, p)
                                            .order_by(CaseCorrection.requested_at).limit(200))
                 if decider.setdefault(k.agency_code, supervising_role(session, k.agency_code)[0]) == p.role][:limit]
        items = [{"text": f"{a.filename}：{a.reason}", "href": url_for("web.amendment", amendment_id=a.id),
                  "meta": f"{a.requested_by} · {local(a.requested_at):%Y-%m-%d}"} for a in pending]
        items += [{"text": f"案件信息更正（{FIELDS.get(k.field, k.field)}）：{k.reason}",
                   "href": url_for("web.amendments", status="pending") + "#case-corrections",
                   "meta": f"{k.requested_by} · {local(k.requested_at):%Y-%m-%d}"} for k in fixes]
        out.append({"title": "待审批的更正申请", "count": len(pending) + len(fixes),
                    "more": url_for("web.amendments", status="pending"), "items": items[:limit]})
    if policy.decides_basic_info_changes(p):
        from archive.web.layout import org_names

        base_q = _in_scope(select(BasicInfoChange).where(BasicInfoChange.status == "pending"),
                           BasicInfoChange.agency_code, p)
        changes = session.scalars(base_q.order_by(BasicInfoChange.submitted_at, BasicInfoChange.id).limit(limit)).all()
        names = org_names(c.agency_code for c in changes)
        out.append({"title": "待审批的基础信息变更", "count": session.scalar(
            select(func.count()).select_from(base_q.subquery())) or 0,
            "more": url_for("web.changes_page", status="pending"), "items": [
            {"text": f"{names.get(c.agency_code, c.agency_code)}：{KIND_NAMES[c.kind]}变更，{c.reason[:40]}",
             "href": url_for("web.change_page", change_id=c.id),
             "meta": f"{c.submitted_by} · {local(c.submitted_at):%Y-%m-%d}" + (" · 迟报" if c.late else ""),
             "urgent": c.late} for c in changes]})
    if policy.reviews_major_filings(p):
        from archive.deadlines.rules import load_rules
        from archive.services import filings

        queue = filings.queue(session, p.agencies, load_rules(), "pending")
        out.append({"title": "待审查的重大案件备案", "count": len(queue), "more": url_for("web.filings_page"),
                    "items": [{"text": e["case"].number, "href": url_for("web.filing_page", case_id=e["case"].id),
                               "meta": f"报送 {local(e['filed_at']):%Y-%m-%d}"} for e in queue[:limit]]})
    if policy.receives_tasks(p) or policy.assigning_kind(p):
        from archive.services import tasks as task_service

        inbox = task_service.listing(session, p, "mine", None, limit=200) if policy.receives_tasks(p) else []
        waiting = [t for t in inbox if t.status in task_service.OPEN]
        to_check = [t for t in task_service.listing(session, p, "assigned", "answered", limit=200)] \
            if task_service.assigning_kind(p) else []
        if waiting or policy.writes_cases(p):
            out.append({"title": "待办理的交办任务", "count": len(waiting), "more": url_for("web.tasks_page", box="mine"),
                        "items": [{"text": t.subject, "href": url_for("web.task_page", task_id=t.id),
                                   "meta": (f"期限 {local(t.due_at):%Y-%m-%d}" if t.due_at else "期限待定")
                                   + (" · 已退回" if t.status == "sent_back" else ""),
                                   "urgent": t.due_at is not None and t.due_at < now() + dt.timedelta(days=1)}
                                  for t in waiting[:limit]]})
        if to_check:
            out.append({"title": "待审核的任务答复", "count": len(to_check),
                        "more": url_for("web.tasks_page", box="assigned", status="answered"),
                        "items": [{"text": t.subject, "href": url_for("web.task_page", task_id=t.id),
                                   "meta": f"答复于 {local(t.answered_at):%Y-%m-%d}" if t.answered_at else ""}
                                  for t in to_check[:limit]]})
    if policy.requests_amendments(p):
        since = now() - dt.timedelta(days=30)
        mine = session.scalars(select(Amendment).where(Amendment.requested_by == p.username)
                               .where((Amendment.status == "pending") | (Amendment.decided_at >= since))
                               .order_by(Amendment.id.desc()).limit(limit)).all()
        out.append({"title": "我的更正申请", "count": len(mine), "items": [
            {"text": f"{a.filename}：{a.reason}", "href": url_for("web.amendment", amendment_id=a.id),
             "meta": {"pending": "待审批", "approved": f"已批准（第 {a.new_version_no or '?'} 版）",
                      "rejected": f"已驳回：{a.decision_note or ''}"}[a.status]} for a in mine]})
    if policy.reads_briefings(p) and p.scope_code:
        from archive.models import BriefingPublication, BriefingRecipient

        unread = session.scalars(select(BriefingPublication).join(
            BriefingRecipient, BriefingRecipient.publication_id == BriefingPublication.id).where(
            BriefingRecipient.org_code == p.scope_code, BriefingRecipient.read_at.is_(None))
            .order_by(BriefingPublication.published_at.desc()).limit(limit)).all()
        if unread:
            out.insert(0, {"title": "新简报（未读）", "count": len(unread), "more": url_for("web.briefings_page"),
                           "items": [{"text": b.title, "href": url_for("web.briefing_page", pub_id=b.id),
                                      "meta": f"发布于 {local(b.published_at):%Y-%m-%d}"} for b in unread]})
    if policy.appraises(p):
        from archive.services.disposal import waiting_on

        due, proposals = waiting_on(session, p, limit)
        if due or proposals:
            items = [{"text": f"审批销毁：{a.archival_no}（{a.reason[:40]}）",
                      "href": url_for("web.appraisal_disposal", appraisal_id=a.id),
                      "meta": f"{a.proposed_by} · {local(a.proposed_at):%Y-%m-%d}"} for a in proposals]
            items += [{"text": f"保管期满待鉴定：{row.archival_no}（{number}）", "href": url_for("web.appraisal_page"),
                       "meta": f"届满 {row.retain_until:%Y-%m-%d}"} for row, number in due]
            out.append({"title": "档案鉴定", "count": len(proposals) + len(due), "more": url_for("web.appraisal_page"),
                        "items": items[:limit]})
    if policy.handles_district_complaints(p):
        # the same scope as the complaints list (its district's, and those naming its agencies)
        q = policy.scoped(select(Complaint).where(Complaint.status == "open"), p, Complaint.agency_code,
                          Complaint.district_code)
        complaints = session.scalars(q.order_by(Complaint.received_at).limit(limit)).all()
        out.append({"title": "办理中的投诉举报", "count": len(complaints), "more": url_for("web.complaints", status="open"),
                    "items": [
            {"text": f"{c.complainant}：{c.text[:60]}", "href": url_for("web.complaint", complaint_id=c.id),
             "meta": f"收到 {local(c.received_at):%Y-%m-%d}"} for c in complaints]})
    return out
