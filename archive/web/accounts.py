"""账号管理: the system administrator manages every business account (三权分立: roles, locks and
second factors are the security administrator's, ``web/security.py``). List, create (the password shown once), disable, reset the password
(shown once), end a person's sessions."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from archive.auth import policy
from archive.edge.auth import audit_event, current, refuse
from archive.errors import ArchiveError, Conflict, Forbidden, NotFound
from archive.extension import db
from archive.labels import ROLE_NAMES
from archive.services import users
from archive.clock import now
from archive.web.blueprint import bp
from archive.web.layout import zh, zh_errors


def _manager():
    p = current()
    if not policy.manages_accounts(p):
        refuse("accounts", "page", visible=True, why="only the system administrator manages accounts")
    return p


def _roles(p) -> list[tuple[str, str]]:
    return [(r, n) for r, n in ROLE_NAMES.items() if r in policy.BUSINESS_ROLES]


@bp.route("/accounts", methods=["GET", "POST"])
def accounts_page():
    p = _manager()
    session = db()
    values = {"username": "", "display_name": "", "role": "", "scope_code": ""}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in values}
        try:
            user, password = users.create(session, p, username=values["username"], display_name=values["display_name"],
                                          role=values["role"], scope_code=values["scope_code"] or None)
        except ArchiveError as exc:
            session.rollback()
            errors = zh_errors(exc.errors) or {"username": [zh(exc.message)]}
            status = 409 if isinstance(exc, Conflict) else 403 if isinstance(exc, Forbidden) else 422
            if status == 403:  # a role or organisation the caller does not manage: refused, audited
                audit_event("access.refused", "account", values["username"] or "new", method="POST",
                            path=request.path, reason=exc.message)
        else:
            g.shown_password = (user.username, password)
            values = {"username": "", "display_name": "", "role": "", "scope_code": ""}
    return _render(p, values, errors), status


def _render(p, values, errors):
    session = db()
    return render_template("accounts.html", rows=users.accounts(session, p, now()), roles=_roles(p),
                           scopes=users.scope_choices(session, p), values=values, errors=errors,
                           shown=g.get("shown_password"), section="accounts",
                           crumbs=[("账号管理", None)])


@bp.route("/accounts/<username>/<any(disable, password, sessions):action>", methods=["POST"])
def account_action(username: str, action: str):
    p = _manager()
    session = db()
    try:
        if action == "disable":
            users.disable(session, p, username)
            flash(f"账号 {username} 已停用，其登录和令牌立即失效。", "ok")
        elif action == "password":
            password = users.reset_password(session, p, username)
            g.shown_password = (username, password)
            return _render(p, {"username": "", "display_name": "", "role": "", "scope_code": ""}, {}), 200
        else:
            ended = users.end_sessions(session, p, username)
            flash(f"已结束 {username} 的 {ended} 个登录会话。", "ok")
    except NotFound:
        raise  # another office's account: the 404 page, audited
    except ArchiveError as exc:
        session.rollback()
        flash("未能完成：" + (next(iter(exc.errors.values()))[0] if exc.errors else zh(exc.message)), "error")
    return redirect(url_for("web.accounts_page"), code=303)
