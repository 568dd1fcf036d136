"""安全: each user's own page (password, second factor, the open sessions, ending the others),
and the idle-session timer's two addresses (how long is left; keep the session)."""
from __future__ import annotations

import datetime as dt

from flask import current_app, flash, jsonify, redirect, render_template, session, url_for

from archive.auth.accounts import end_other_sessions, live_sessions, session_remaining
from archive.edge.auth import audit_event, current
from archive.extension import db
from archive.models import User
from archive.web.blueprint import bp


def _idle() -> dt.timedelta:
    return dt.timedelta(minutes=float(current_app.config.get("SESSION_IDLE_MINUTES") or 0) or 24 * 60)


@bp.route("/session/status")
def session_status():
    """Seconds left before this session ends (idle or absolute); asking does not count as use."""
    current()
    return jsonify({"remaining": round(session_remaining(db(), session.get("sid"), _idle()), 1)})


@bp.route("/session/keepalive", methods=["POST"])
def session_keepalive():
    """继续使用: the request itself noted the session as used (authenticate)."""
    current()
    return jsonify({"remaining": round(session_remaining(db(), session.get("sid"), _idle()), 1)})


def _browser(agent: str | None) -> str:
    a = agent or ""
    for key, name in (("Edg/", "Edge"), ("Chrome/", "Chrome / Chromium"), ("Firefox/", "Firefox"),
                      ("Safari/", "Safari")):
        if key in a:
            return name
    return a[:40] or "未知"


@bp.route("/security")
def security_page():
    """安全: the password's age, the second factor and recovery codes left, the open sessions."""
    from archive.auth import mfa

    p = current()
    s = db()
    user = s.get(User, p.user_id)
    assert user is not None
    mine = session.get("sid")
    rows = [{"current": w.id == mine, "created_at": w.created_at, "last_seen_at": w.last_seen_at or w.created_at,
             "expires_at": w.expires_at, "ip": w.ip or "未知", "browser": _browser(w.user_agent)}
            for w in live_sessions(s, user, _idle())]
    needs = user.role in mfa.roles_needing(current_app.config.get("MFA_ROLES", ""))
    return render_template("security.html", user=user, sessions=rows, mfa_needed=needs,
                           codes_left=mfa.recovery_codes_left(s, user) if user.totp_secret else 0,
                           idle_minutes=float(current_app.config.get("SESSION_IDLE_MINUTES") or 0),
                           hours=current_app.config["SESSION_HOURS"], section="security",
                           crumbs=[("安全设置", None)])


@bp.route("/security/sessions/end-others", methods=["POST"])
def end_my_other_sessions():
    p = current()
    s = db()
    user = s.get(User, p.user_id)
    assert user is not None
    ended = end_other_sessions(s, user, session.get("sid"))
    s.commit()
    audit_event("user.sessions_end_others", "user", p.username, ended=ended)
    flash(f"已结束您的其他 {ended} 个登录会话。", "ok")
    return redirect(url_for("web.security_page"), code=303)


# -- 安全管理: the security administrator's page ---------------------------------------------------

@bp.route("/security/accounts")
def security_accounts():
    """安全管理 (安全管理员): every account with its role, lock, second factor and last login;
    unlock, reset the second factor, change a business account's role."""
    from archive.auth import policy
    from archive.edge.auth import refuse
    from archive.labels import ROLE_NAMES
    from archive.services import users
    from archive.clock import now
    from archive.web.layout import org_names

    p = current()
    if not policy.secures_accounts(p):
        refuse("accounts", "security", visible=True, why="only the security administrator manages roles and locks")
    s = db()
    rows = users.secured_accounts(s, p, now())
    cfg = current_app.config
    policy_rows = [("密码最短长度", "10 个字符，至少包含三类字符，不含用户名"), ("密码历史", "不得与最近 5 次相同"),
                   ("密码有效期", f"{cfg.get('PASSWORD_DAYS') or '不限'} 天"),
                   ("连续失败锁定", f"{cfg.get('LOCK_AFTER_FAILURES') or '不锁定'} 次后锁定 {cfg.get('LOCK_MINUTES')} 分钟"),
                   ("需动态口令的角色", "、".join(ROLE_NAMES.get(r, r) for r in
                                          sorted(r.strip() for r in cfg.get("MFA_ROLES", "").split(",") if r.strip())) or "无"),
                   ("会话空闲超时", f"{cfg.get('SESSION_IDLE_MINUTES')} 分钟"), ("会话最长时限", f"{cfg['SESSION_HOURS']} 小时")]
    from archive.models import Organisation
    from sqlalchemy import select

    scopes = s.execute(select(Organisation.code, Organisation.name, Organisation.level)
                       .order_by(Organisation.level, Organisation.code)).all()
    return render_template("security_accounts.html", rows=rows, names=org_names(r.scope_code for r in rows if r.scope_code),
                           roles=[(r, n) for r, n in ROLE_NAMES.items() if r in policy.BUSINESS_ROLES],
                           scopes=scopes, policy_rows=policy_rows, myself=p.username, section="security_admin",
                           crumbs=[("安全管理", None)])


@bp.route("/security/accounts/<username>/<any(unlock, mfa, role):action>", methods=["POST"])
def security_account_action(username: str, action: str):
    from flask import request

    from archive.auth import policy
    from archive.edge.auth import refuse
    from archive.errors import ArchiveError, NotFound
    from archive.labels import ROLE_NAMES
    from archive.services import users
    from archive.web.layout import zh

    p = current()
    if not policy.secures_accounts(p):
        refuse("accounts", "security", visible=True, why="only the security administrator manages roles and locks")
    s = db()
    try:
        if action == "unlock":
            users.unlock(s, p, username)
            flash(f"已解除 {username} 的锁定。", "ok")
        elif action == "mfa":
            users.reset_mfa(s, p, username)
            flash(f"已重置 {username} 的动态口令：其会话已结束，下次登录时重新绑定。", "ok")
        else:
            role = request.form.get("role", "")
            users.change_role(s, p, username, role, request.form.get("scope_code") or None)
            flash(f"已将 {username} 的角色改为{ROLE_NAMES.get(role, role)}。", "ok")
    except NotFound:
        raise
    except ArchiveError as exc:
        s.rollback()
        flash("未能完成：" + (next(iter(exc.errors.values()))[0] if exc.errors else zh(exc.message)), "error")
    return redirect(url_for("web.security_accounts"), code=303)
