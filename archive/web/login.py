"""Login, logout, the favicon and the context every page template gets."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from archive import audit
from archive.auth.accounts import (
    AccountLocked, LockRule, LoginThrottled, Unauthenticated, end_session, login as check_login, password_expired,
    set_password, start_session, verify_password,
)
from archive.clock import local, now as server_now
from archive.edge.auth import audit_event, csrf
from archive.extension import db, get_archive
from archive.web.blueprint import bp


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would help phishing.
    if not target or urlparse(target).netloc or urlparse(target).scheme or not target.startswith("/") \
            or target.startswith("//"):
        return url_for("web.home")
    return target


def login_notice(notice) -> str:
    """上次登录 …: when and from where, and how many failed attempts there were since."""
    if notice.previous_at is None:
        first = "这是您的首次登录。"
        return first + (f"此前有 {notice.failures} 次失败的登录尝试。" if notice.failures else "")
    text = f"上次登录：{local(notice.previous_at):%Y-%m-%d %H:%M}，地址 {notice.previous_ip or '未知'}。"
    if notice.failures:
        return text + f"此后有 {notice.failures} 次失败的登录尝试，如非本人操作请联系安全管理员。"
    return text + "此后没有失败的登录尝试。"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; failures are counted and slowed down."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        csrf.protect()
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        session_db = db()
        cfg = current_app.config
        try:
            user, notice = check_login(session_db, username, password, request.remote_addr,
                                       lock=LockRule(int(cfg.get("LOCK_AFTER_FAILURES", 10)), int(cfg.get("LOCK_MINUTES", 30))))
        except AccountLocked as exc:
            session_db.commit()
            audit_event("auth.locked" if exc.now else "auth.login_refused_locked", "user", username, actor=username,
                        until=exc.until.isoformat())
            error, status = f"账户因连续登录失败已锁定，请联系安全管理员解锁，或于 {local(exc.until):%H:%M} 后再试。", 403
        except LoginThrottled as exc:
            session_db.commit()
            audit_event("auth.login_throttled", "user", username, actor=username)
            error, status = f"登录失败次数过多，请 {exc.retry_after} 秒后再试。", 429
            headers["Retry-After"] = str(exc.retry_after)
        except Unauthenticated:
            session_db.commit()
            audit_event("auth.login_failed", "user", username, actor=username)
            error, status = "用户名或密码错误。", 401
        else:
            sid = start_session(session_db, user, current_app.config["SESSION_HOURS"])
            session_db.commit()
            session.clear()
            session.permanent = True
            session["sid"] = sid
            # the login notice, shown once on the next page: the previous login and the failures since
            flash(login_notice(notice), "notice")
            audit.record(get_archive().sessions, "auth.login", actor=user.username, role=user.role,
                         target_type="user", target_id=user.username, ip=request.remote_addr)
            target = _safe_next(request.args.get("next"))
            forced = cfg.get("FORCE_PASSWORD_CHANGE", True) and user.must_change_password
            if forced or password_expired(user, int(cfg.get("PASSWORD_DAYS") or 0), server_now()):
                return redirect(url_for("web.password", next=target))
            return redirect(target)
    return render_template("login.html", error=error), status, headers


@bp.route("/password", methods=["GET", "POST"])
def password():
    """修改密码: the owner sets a new password (the rules in Chinese); required after a password
    set by an administrator or printed by the first start, and when it has expired."""
    from archive.edge.auth import current
    from archive.errors import ValidationFailed
    from archive.models import User
    from archive.web.layout import zh

    p = current()
    session_db = db()
    user = session_db.get(User, p.user_id)
    assert user is not None  # authenticate() found this user a moment ago
    cfg = current_app.config
    reason = ("您的密码由管理员设置或系统生成，请先修改为只有您知道的密码。"
              if user.must_change_password and cfg.get("FORCE_PASSWORD_CHANGE", True) else
              "您的密码已超过有效期，请修改后继续。"
              if password_expired(user, int(cfg.get("PASSWORD_DAYS") or 0), server_now()) else "")
    errors: list[str] = []
    if request.method == "POST":
        new, again = request.form.get("new", ""), request.form.get("again", "")
        if not verify_password(user, request.form.get("current", "")):
            errors.append("当前密码不正确。")
        elif new != again:
            errors.append("两次输入的新密码不一致。")
        else:
            try:
                set_password(session_db, user, new, by_owner=True)
            except ValidationFailed as exc:
                errors += [zh(m) for m in exc.errors.get("password", [exc.message])]
            else:
                sid = start_session(session_db, user, cfg["SESSION_HOURS"])  # the old sessions ended
                session_db.commit()
                audit.record(get_archive().sessions, "auth.password_changed", actor=user.username, role=user.role,
                             target_type="user", target_id=user.username, ip=request.remote_addr)
                pending = session.get("_flashes", [])  # the login notice not yet shown
                session.clear()
                session.permanent = True
                session["sid"] = sid
                session["_flashes"] = pending
                flash("密码已修改。", "ok")
                return redirect(_safe_next(request.args.get("next")))
        session_db.rollback()
    return render_template("password.html", reason=reason, errors=errors,
                           rules=["至少 10 个字符", "包含小写字母、大写字母、数字、其他字符（含汉字）中的至少三类",
                                  "不能包含用户名", "不能与最近 5 次使用过的密码相同"]), (400 if errors else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    audit_event("auth.logout")
    session_db = db()
    end_session(session_db, session.get("sid"))  # a replayed cookie is refused from now on
    session_db.commit()
    session.clear()
    return redirect(url_for("web.login"))


@bp.route("/favicon.ico")
def favicon():
    """The icon browsers ask for at the root of every site (the pages name the SVG itself)."""
    from flask import send_from_directory

    response = send_from_directory(bp.static_folder or "static", "favicon.svg", mimetype="image/svg+xml",
                                   max_age=86400)
    return response


@bp.app_context_processor
def _layout() -> dict:
    """What the base layout shows: who is logged in, by Chinese names, and their navigation."""
    from archive.web.layout import layout_context

    return layout_context(g.get("principal"))
