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
from archive.edge.auth import audit_event, audit_in, csrf
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


def _lock_rule() -> LockRule:
    cfg = current_app.config
    return LockRule(int(cfg.get("LOCK_AFTER_FAILURES", 10)), int(cfg.get("LOCK_MINUTES", 30)))


def _needs_second_factor(user) -> bool:
    from archive.auth.mfa import roles_needing

    return user.role in roles_needing(current_app.config.get("MFA_ROLES", ""))


def _start(user, notice, target: str):
    """Both factors passed: a new server-side session (the cookie only names it), the login
    notice, the audit entry; then 修改密码 first if the password must change."""
    cfg = current_app.config
    session_db = db()
    sid = start_session(session_db, user, cfg["SESSION_HOURS"], ip=request.remote_addr,
                        user_agent=request.headers.get("User-Agent", ""))
    session_db.commit()
    session.clear()
    session.permanent = True
    session["sid"] = sid
    # the login notice, shown once on the next page: the previous login and the failures since
    flash(login_notice(notice), "notice")
    audit.record(get_archive().sessions, "auth.login", actor=user.username, role=user.role,
                 target_type="user", target_id=user.username, ip=request.remote_addr,
                 detail={"second_factor": bool(user.totp_secret) and _needs_second_factor(user)})
    forced = cfg.get("FORCE_PASSWORD_CHANGE", True) and user.must_change_password
    if forced or password_expired(user, int(cfg.get("PASSWORD_DAYS") or 0), server_now()):
        return redirect(url_for("web.password", next=target))
    return redirect(target)


def _locked_message(exc: AccountLocked) -> str:
    return f"账户因连续登录失败已锁定，请联系安全管理员解锁，或于 {local(exc.until):%H:%M} 后再试。"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; failures are counted and slowed down. A role that needs a second factor
    (ARCHIVE_MFA_ROLES) goes on to 动态口令 (or enrols it at its first login)."""
    error, status, headers = None, 200, {}
    if request.args.get("expired") and request.method == "GET":
        error = "由于长时间未操作（或已超过登录时限），您已退出登录。请重新登录，未提交的内容会恢复。"
    if request.method == "POST":
        csrf.protect()
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        session_db = db()
        try:
            user, notice = check_login(session_db, username, password, request.remote_addr, lock=_lock_rule(),
                                       second_factor=_needs_second_factor)
        except AccountLocked as exc:
            session_db.commit()
            audit_event("auth.locked" if exc.now else "auth.login_refused_locked", "user", username, actor=username,
                        until=exc.until.isoformat())
            error, status = _locked_message(exc), 403
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
            target = _safe_next(request.args.get("next"))
            if notice is None:  # the password passed; the second factor is next
                session.clear()
                session["mfa"] = {"uid": user.id, "at": server_now().timestamp(), "next": target, "tries": 0}
                audit_event("auth.password_ok", "user", user.username, actor=user.username,
                            enrolled=bool(user.totp_secret))
                return redirect(url_for("web.login_second_factor"))
            return _start(user, notice, target)
    return render_template("login.html", error=error), status, headers


PENDING_SECONDS = 300  # the second factor is entered within five minutes of the password
MFA_TRIES = 5  # wrong codes in one pending login before the password is asked again


@bp.route("/login/mfa", methods=["GET", "POST"])
def login_second_factor():
    """动态口令: the code of the user's authenticator app (or a recovery code). At the first
    login of a role that needs it, enrolment: the QR code, the code that proves the app holds
    the secret, then the ten recovery codes, shown once."""
    from archive.auth import mfa
    from archive.auth.accounts import complete_login, count_failure
    from archive.models import User

    pending = session.get("mfa")
    now = server_now()
    if not pending or now.timestamp() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop("mfa", None)
        flash("请重新输入用户名和密码（动态口令须在输入密码后 5 分钟内完成）。", "error")
        return redirect(url_for("web.login"))
    session_db = db()
    user = session_db.get(User, int(pending["uid"]))
    if user is None or not user.active:
        session.pop("mfa", None)
        return redirect(url_for("web.login"))
    enrolling = not user.totp_secret
    if enrolling and not pending.get("secret"):
        pending["secret"] = mfa.new_secret()
        session["mfa"] = pending
    error, status = None, 200
    if request.method == "POST":
        csrf.protect()
        code = request.form.get("code", "").strip()
        codes = None
        if enrolling:
            codes = mfa.enrol(session_db, user, pending["secret"], code, now)
            ok = codes is not None
        else:
            ok = mfa.verify(session_db, user, code, now)
            if not ok and "-" in code:
                ok = mfa.use_recovery_code(session_db, user, code, now)
                if ok:
                    audit_in(session_db, "auth.recovery_code_used", "user", user.username, actor=user.username,
                             left=mfa.recovery_codes_left(session_db, user))
        if ok:
            if codes is not None:
                audit_in(session_db, "auth.mfa_enrolled", "user", user.username, actor=user.username)
            session_db.commit()
            target = pending.get("next") or url_for("web.home")
            notice = complete_login(session_db, user, request.remote_addr, now)
            response = _start(user, notice, target)
            if codes is None:
                return response
            # the recovery codes, once: the page links on to where the login was going, where
            # the login notice is shown (kept past this page)
            pending_flashes = session.pop("_flashes", [])
            page = render_template("recovery_codes.html", codes=codes, target=response.location)
            session["_flashes"] = pending_flashes
            return page, 200
        session_db.rollback()
        try:
            count_failure(session_db, user, now, _lock_rule())
        except AccountLocked as exc:
            session.pop("mfa", None)
            audit_event("auth.locked", "user", user.username, actor=user.username, until=exc.until.isoformat(),
                        factor="totp")
            return render_template("login.html", error=_locked_message(exc)), 403
        audit_event("auth.mfa_failed", "user", user.username, actor=user.username, enrolling=enrolling)
        pending["tries"] = int(pending.get("tries", 0)) + 1
        if pending["tries"] >= MFA_TRIES:
            session.pop("mfa", None)
            flash("动态口令错误次数过多，请重新登录。", "error")
            return redirect(url_for("web.login"))
        session["mfa"] = pending
        error, status = "动态口令不正确或已使用过，请输入验证器中当前显示的 6 位数字。", 401
    qr = secret = None
    if enrolling:
        secret = pending["secret"]
        qr = mfa.qr_data_uri(mfa.provisioning_uri(secret, user.username))
    return render_template("mfa.html", enrolling=enrolling, qr=qr, secret=secret, error=error,
                           username=user.username), status


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
                sid = start_session(session_db, user, cfg["SESSION_HOURS"], ip=request.remote_addr,
                                    user_agent=request.headers.get("User-Agent", ""))  # the old sessions ended
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
