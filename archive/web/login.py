"""Login, logout, the favicon and the context every page template gets."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import current_app, g, redirect, render_template, request, session, url_for

from archive import audit
from archive.auth.accounts import (
    LoginThrottled, Unauthenticated, end_session, login as check_login, start_session,
)
from archive.edge.auth import audit_event, csrf
from archive.extension import db, get_archive
from archive.web.blueprint import bp


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would help phishing.
    if not target or urlparse(target).netloc or urlparse(target).scheme or not target.startswith("/") \
            or target.startswith("//"):
        return url_for("web.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; failures are counted and slowed down."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        csrf.protect()
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        session_db = db()
        try:
            user = check_login(session_db, username, password, request.remote_addr)
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
            audit.record(get_archive().sessions, "auth.login", actor=user.username, role=user.role,
                         target_type="user", target_id=user.username, ip=request.remote_addr)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status, headers


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
