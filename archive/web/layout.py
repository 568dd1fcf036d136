"""The base layout's context: the caller by Chinese names, a navigation showing only what the
role may do, and helpers the pages share (pagination, form errors in Chinese)."""
from __future__ import annotations

import datetime as dt
import math
import re

from flask import g, request, url_for

from archive.auth import policy
from archive.auth.principal import Principal
from archive.extension import db
from archive.labels import ROLE_NAMES
from archive.models import Organisation, User


def nav_items(p: Principal) -> list[tuple[str, str, str]]:
    """(label, endpoint, section) of the pages this role works in (the manual's chapters follow them)."""
    items = [("工作台", "web.home", "home")]
    if policy.reads_cases(p):
        if not policy.works_from_assignments(p):
            items.append(("案件", "web.cases", "cases"))
        items.append(("检索", "web.search", "search"))
    if policy.reads_warnings(p):
        items.append(("预警", "web.warnings", "warnings"))
    if policy.reads_amendments(p):
        items.append(("更正", "web.amendments", "amendments"))
    if policy.works_from_assignments(p):
        items.append(("评查任务", "web.reviews", "reviews"))
    if policy.handles_complaints(p):
        items.append(("投诉举报", "web.complaints", "complaints"))
    if policy.reads_plans(p):
        items.append(("抽查", "web.plans", "sampling"))
    if policy.works_tasks(p):
        items.append(("交办转办", "web.tasks_page", "tasks"))
    if policy.lists_filings(p):
        items.append(("备案审查", "web.filings_page", "filings"))
    if policy.reads_stats(p):
        items.append(("统计", "web.performance_page", "stats"))
    if policy.appraises(p):  # 到期鉴定, 销毁清册 and (the district office) 移交
        items.append(("档案", "web.appraisal_page", "archives"))
    if policy.reads_fixity(p) and p.role != "agency_legal":
        items.append(("存证检查", "web.fixity_page", "fixity"))
    if policy.reads_audit(p):
        items.append(("审计", "web.audit_trail", "audit"))
    if policy.manages_accounts(p):
        items.append(("账号", "web.accounts_page", "accounts"))
    if policy.secures_accounts(p):
        items.append(("安全管理", "web.security_accounts", "security_admin"))
    if policy.loads_calendar(p):
        items.append(("节假日安排", "web.calendar_page", "calendar"))
    if policy.creates_cases(p):
        items.append(("新建案件", "web.case_new", "case_new"))
    return items


def navigation(p: Principal) -> list[tuple[str, str, str]]:
    """(label, url, section) of the pages this role works in."""
    return [(label, url_for(endpoint), key) for label, endpoint, key in nav_items(p)]


def layout_context(p: Principal | None) -> dict:
    if p is None:
        return {"p": None, "me": None, "nav": []}
    if "me" not in g:
        session = db()
        user = session.get(User, p.user_id)
        org = session.get(Organisation, p.scope_code) if p.scope_code else None
        g.me = {"name": (user.display_name if user and user.display_name else p.username),
                "username": p.username, "role_name": ROLE_NAMES.get(p.role, "用户"),
                "org_name": org.name if org else ""}
    from flask import current_app

    cfg = current_app.config
    idle = float(cfg.get("SESSION_IDLE_MINUTES") or 0) * 60 if p.via == "session" else 0
    if "unread" not in g:
        from archive.services.notices import unread

        g.unread = unread(db(), p.username)
    return {"p": p, "me": g.me, "nav": navigation(p), "verify_bytes": cfg["VERIFY_BEFORE_SEND_BYTES"],
            "unread": g.unread,
            "session_idle_seconds": int(idle), "session_warn_seconds": min(int(cfg.get("SESSION_WARN_SECONDS") or 60),
                                                                          max(1, int(idle) // 2))}


def org_names(codes) -> dict[str, str]:
    """{code: Chinese name} of organisations (one query)."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    from sqlalchemy import select

    return {code: name for code, name in db().execute(
        select(Organisation.code, Organisation.name).where(Organisation.code.in_(codes)))}


def visible_orgs(p: Principal) -> list[Organisation]:
    """Organisations the caller may filter by: its own and those below, or all for city roles."""
    from sqlalchemy import select

    orgs = db().scalars(select(Organisation).order_by(Organisation.level, Organisation.code)).all()
    if p.agencies is None:
        return list(orgs)
    return [o for o in orgs if o.code in p.agencies or o.code == p.scope_code]


class Pager:
    """Page links that keep the other query parameters."""

    def __init__(self, total: int, page: int, per_page: int) -> None:
        self.total, self.page, self.per_page = total, page, per_page
        self.pages = max(1, math.ceil(total / per_page))

    def url(self, page: int) -> str:
        args: dict = {**request.args.to_dict(), **(request.view_args or {}), "page": str(page)}
        return url_for(request.endpoint or "web.home", **args)

    def window(self) -> list[int]:
        return [n for n in range(max(1, self.page - 3), min(self.pages, self.page + 3) + 1)]


def date_arg(name: str) -> tuple[dt.date | None, str | None]:
    """The query parameter ``name`` as a date (年-月-日, years 1900–2200): (date, None), (None,
    None) when absent, or (None, the Chinese message) when it is not such a date."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None, None
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        return None, "日期格式应为 年-月-日。"
    if not 1900 <= value.year <= 2200:
        return None, "日期超出范围。"
    return value, None


REVERSED_RANGE = "结束日期早于开始日期，请更正。"


def page_arg(default: int = 1, maximum: int = 10000) -> int:
    try:
        return max(1, min(maximum, int(request.args.get("page", default))))
    except ValueError:
        return default


def zh(message: str) -> str:
    """A message in Chinese: the Chinese half of "中文 / English" (the services say their field
    messages so; the pages' schemas say theirs in Chinese, ``services.zh_schema``)."""
    if " / " in message and re.search(r"[\u4e00-\u9fff]", message.split(" / ")[0]):
        return message.split(" / ")[0]
    return message


def zh_errors(errors: dict | None) -> dict[str, list[str]]:
    """Field errors (marshmallow's or a domain error's) in Chinese, one list per field."""
    out: dict[str, list[str]] = {}
    for field, messages in (errors or {}).items():
        if isinstance(messages, dict):  # nested (a list field's items)
            messages = [m for ms in messages.values() for m in (ms if isinstance(ms, list) else [ms])]
        if not isinstance(messages, list):
            messages = [messages]
        out[field] = [zh(str(m)) for m in messages]
    return out
