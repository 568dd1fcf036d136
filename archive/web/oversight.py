"""审计 (auditors) and 存证 (fixity) pages: the audit trail with filters and the chain's
verification; the latest fixity checks and their findings."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template, request, url_for
from sqlalchemy import func, select

from archive import audit
from archive.auth import policy
from archive.edge.auth import audit_event, audit_in, current, refuse
from archive.extension import db, get_archive
from archive.models import AuditEntry, Document
from archive.services import fixity
from archive.clock import SHANGHAI, now
from archive.web.blueprint import bp
from archive.web.layout import REVERSED_RANGE, Pager, date_arg, page_arg

PER_PAGE = 50


def _day(name: str, errors: dict[str, list[str]], end: bool = False) -> dt.datetime | None:
    day, error = date_arg(name)
    if error:
        errors[name] = [error]
    return dt.datetime.combine(day, dt.time.max if end else dt.time.min, SHANGHAI) if day else None


_TARGET_PAGES = {"case": "web.case", "document": "web.document", "warning": "web.warning",
                 "amendment": "web.amendment", "complaint": "web.complaint", "task": "web.task_page",
                 "sampling_plan": "web.plan"}
_TARGET_ARGS = {"case": "case_id", "document": "doc_id", "warning": "warning_id", "amendment": "amendment_id",
                "complaint": "complaint_id", "task": "task_id", "sampling_plan": "plan_id"}
_INT_TARGETS = {"warning", "amendment", "complaint", "task", "sampling_plan"}


def _targets(session, rows) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(type, id) of each row's object → (its Chinese label with its name, its page or None)."""
    from archive.labels import AUDIT_TARGET_NAMES
    from archive.models import Case, User

    wanted: dict[str, set[str]] = {}
    for e in rows:
        if e.target_type and e.target_id:
            wanted.setdefault(e.target_type, set()).add(e.target_id)
    names: dict[tuple[str, str], str] = {}
    if wanted.get("case"):
        for cid, number in session.execute(select(Case.id, Case.number).where(Case.id.in_(wanted["case"]))):
            names[("case", cid)] = number
    if wanted.get("document"):
        for did, filename in session.execute(select(Document.id, Document.filename)
                                             .where(Document.id.in_(wanted["document"]))):
            names[("document", did)] = f"《{filename}》"
    if wanted.get("user"):
        for username, display in session.execute(select(User.username, User.display_name)
                                                 .where(User.username.in_(wanted["user"]))):
            if display:
                names[("user", username)] = f"{display}（{username}）"
    out = {}
    for kind, ids in wanted.items():
        for tid in ids:
            label = AUDIT_TARGET_NAMES.get(kind, kind)
            name = names.get((kind, tid)) or (f"第 {tid} 号" if kind in _INT_TARGETS else tid)
            href = None
            if kind in _TARGET_PAGES and (kind not in _INT_TARGETS or tid.isdigit()) and \
                    (kind not in ("case", "document") or (kind, tid) in names):
                value: Any = int(tid) if kind in _INT_TARGETS else tid
                href = url_for(_TARGET_PAGES[kind], **{_TARGET_ARGS[kind]: value})
            out[(kind, tid)] = (f"{label} {name}", href)
    return out


def _detail_items(detail: str | None) -> list[tuple[str, str]]:
    """An entry's details as (Chinese key, value) pairs a person can read."""
    import json

    from archive.labels import AUDIT_DETAIL_NAMES, ROLE_NAMES, STAGE_NAMES

    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return [("详情", (detail or "")[:300])]
    if not isinstance(data, dict):
        return [("详情", str(data)[:300])]
    out = []
    for key, value in data.items():
        if key == "stage" and value in STAGE_NAMES:
            value = STAGE_NAMES[value]
        elif key == "role" and value in ROLE_NAMES:
            value = ROLE_NAMES[value]
        elif key == "via":
            value = {"web": "网页", "cli": "命令行"}.get(value, value)
        elif isinstance(value, bool):
            value = "是" if value else "否"
        elif isinstance(value, (dict, list)):
            value = "；".join(f"{k}：{v}" for k, v in value.items()) if isinstance(value, dict) else "、".join(map(str, value))
        out.append((AUDIT_DETAIL_NAMES.get(key) or str(key), str(value)[:200]))
    return out


@bp.route("/audit")
def audit_trail():
    p = current()
    if not policy.reads_audit(p):
        refuse("audit", "trail", visible=True, why="only auditors read the audit trail")
    session = db()
    q = select(AuditEntry)
    for name in ("actor", "action", "target_id"):
        value = request.args.get(name, "").strip()[:120]
        if value:
            q = q.where(getattr(AuditEntry, name) == value)
    errors: dict[str, list[str]] = {}
    start, end = _day("from", errors), _day("to", errors, end=True)
    if start and end and start > end:
        errors["to"] = [REVERSED_RANGE]
    if errors:
        q = q.where(AuditEntry.seq.is_(None))  # nothing listed until the filter is corrected
    if start:
        q = q.where(AuditEntry.at >= start)
    if end:
        q = q.where(AuditEntry.at <= end)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    page = page_arg()
    rows = session.scalars(q.order_by(AuditEntry.seq.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    chain, why = None, ""
    if request.args.get("verify"):
        chain = audit.verify_chain(session)
        reason = chain.reason or ""
        why = ("记录缺失（被删除或重新编号）" if "missing" in reason else
               "与前一条不衔接（有记录被插入、删除或移动）" if "does not follow" in reason else
               "内容与其哈希不符（被修改）" if "edited" in reason else reason)
        audit_event("audit.verify", ok=chain.first_bad is None, entries=chain.entries, sm3_entries=chain.sm3_entries,
                    via="web")
        audit.raise_chain_alert(get_archive().sessions, chain)  # a break: the level-3 alert, once
    audit_event("audit.view", via="web", filters={k: v for k, v in request.args.items() if v})
    from archive.labels import AUDIT_ACTION_NAMES

    from archive.models import SecurityAlert

    alerts = session.scalars(select(SecurityAlert).order_by(SecurityAlert.acknowledged_at.is_not(None),
                                                            SecurityAlert.raised_at.desc()).limit(20)).all() \
        if policy.reads_security_alerts(p) else []
    return render_template("audit.html", rows=rows, total=total, pager=Pager(total, page, PER_PAGE), args=request.args,
                           alerts=alerts,
                           chain=chain, why=why, checked_at=now(), errors=errors, section="audit",
                           targets=_targets(session, rows), details=_detail_items,
                           actions=sorted(AUDIT_ACTION_NAMES.items(), key=lambda kv: kv[1]),
                           crumbs=[("审计", None)])


@bp.route("/audit/alerts/<int:alert_id>/acknowledge", methods=["POST"])
def acknowledge_alert(alert_id: int):
    """The audit administrator notes that an alert was looked into (with what was found)."""
    from flask import flash, redirect

    from archive.db import compare_and_set
    from archive.models import SecurityAlert
    from sqlalchemy import update

    p = current()
    if not policy.reads_security_alerts(p):
        refuse("alert", str(alert_id), visible=True, why="only the audit administrator handles security alerts")
    session = db()
    if session.get(SecurityAlert, alert_id) is None:
        from archive.errors import NotFound

        raise NotFound("no such alert")
    note = request.form.get("note", "").strip()[:2000]
    if not note:
        flash("请填写核查情况。", "error")
    elif compare_and_set(session, update(SecurityAlert).where(SecurityAlert.id == alert_id,
                                                              SecurityAlert.acknowledged_at.is_(None))
                         .values(acknowledged_at=now(), acknowledged_by=p.username, note=note)):
        audit_in(session, "alert.acknowledge", "alert", str(alert_id), note=note)
        session.commit()
        flash("已记录核查情况。", "ok")
    else:
        session.rollback()
        flash("该告警已由他人处理。", "error")
    return redirect(url_for("web.audit_trail") + "#alerts", code=303)


@bp.route("/fixity")
def fixity_page():
    p = current()
    if not policy.reads_fixity(p):
        refuse("fixity", "report", visible=True, why=f"a {p.role} does not read the fixity report")
    session = db()
    report = fixity.report(session, p.agencies, get_archive().config["FIXITY_PERIOD_DAYS"], now())
    ids = [f["document_id"] for f in report["failures"]]
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))} if ids else {}
    return render_template("fixity.html", report=report, docs=docs, section="fixity",
                           crumbs=[("存证检查", None)], case_url=lambda d: url_for("web.case", case_id=d.case_id))
