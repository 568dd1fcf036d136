"""The web pages: login, logout and the search page a clerk or complaint handler starts from."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup

from archive import audit
from archive.auth.accounts import (
    LoginThrottled, Unauthenticated, end_session, login as check_login, start_session,
)
from archive.auth.web import audit_event, csrf, current
from archive.errors import BadQuery
from archive.extension import db, get_archive
from archive.models import Organisation
from archive.services.search import build_query, search

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

ROLE_NAMES = {"agency_clerk": "执法机关平台管理员", "agency_legal": "执法机关法制机构", "district_office": "区政府法制办",
              "city_office": "市政府法制办", "reviewer": "评查人员", "complaint_handler": "投诉举报处理",
              "auditor": "审计监督"}
STAGE_NAMES = {"inspection": "行政检查", "filing": "立案", "investigation": "调查", "review": "审核",
               "decision": "决定", "execution": "执行", "closing": "结案"}


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


@bp.route("/")
def home():
    """Search page: the caller's scope is applied inside the index query."""
    p = current()
    q = request.args.get("q", "").strip()
    result, error = None, None
    scope_name = None
    if p.scope_code:
        org = db().get(Organisation, p.scope_code)
        scope_name = org.name if org else p.scope_code
    if q:
        try:
            page = max(1, min(1000, int(request.args.get("page", 1))))
        except ValueError:
            page = 1
        try:
            sq = build_query(q, page=page, per_page=20)
            sq.scope = p.index_scope
            result = search(db(), get_archive().index, sq)
            audit_event("search", q=q, total=result["total"], via="web")
            for hit in result["hits"]:
                hit["snippets"] = [Markup(f) for f in hit["highlights"]["content"]]  # escaped by highlight()
        except BadQuery as exc:
            error = exc.message.split(" / ")[0]
    from archive.web.todo import sections

    todo = sections(db(), p) if not q else []
    return render_template("home.html", p=p, q=q, result=result, error=error, scope_name=scope_name,
                           role_name=ROLE_NAMES.get(p.role, p.role), stage_names=STAGE_NAMES, todo=todo)

