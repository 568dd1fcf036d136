"""审计 (auditors) and 存证 (fixity) pages: the audit trail with filters and the chain's
verification; the latest fixity checks and their findings."""
from __future__ import annotations

import datetime as dt

from flask import render_template, request, url_for
from sqlalchemy import func, select

from archive import audit
from archive.auth import policy
from archive.auth.web import audit_event, current, refuse
from archive.extension import db, get_archive
from archive.models import AuditEntry, Document
from archive.services import fixity
from archive.services.clock import SHANGHAI, now
from archive.web import bp
from archive.web.layout import REVERSED_RANGE, Pager, date_arg, page_arg

PER_PAGE = 50


def _day(name: str, errors: dict[str, list[str]], end: bool = False) -> dt.datetime | None:
    day, error = date_arg(name)
    if error:
        errors[name] = [error]
    return dt.datetime.combine(day, dt.time.max if end else dt.time.min, SHANGHAI) if day else None


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
        audit_event("audit.verify", ok=chain.first_bad is None, entries=chain.entries, via="web")
    audit_event("audit.view", via="web", filters={k: v for k, v in request.args.items() if v})
    return render_template("audit.html", rows=rows, total=total, pager=Pager(total, page, PER_PAGE), args=request.args,
                           chain=chain, why=why, checked_at=now(), errors=errors, section="audit",
                           crumbs=[("审计", None)])


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
