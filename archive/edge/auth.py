"""Authentication of every request (bearer token or session cookie), CSRF, security headers,
and the audit helper the handlers use."""
from __future__ import annotations

from typing import Any, NoReturn

from flask import Flask, g, jsonify, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from archive import audit
from archive.auth import policy
from archive.auth.accounts import Unauthenticated, session_user, user_for_token
from archive.auth.principal import Principal, principal_for
from archive.errors import NotFound
from archive.extension import db, get_archive
from archive.models import Case
from archive.services.caller import Caller

PUBLIC_PATHS = {"/api/health", "/login", "/login/mfa", "/favicon.ico"}
# asked by the page's timer: how long the session has left, without counting as use
STATUS_PATH = "/session/status"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
csrf = CSRFProtect()

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def current() -> Principal:
    """The authenticated caller of this request."""
    principal = g.get("principal")
    if principal is None:  # pragma: no cover - authenticate() runs first
        raise Unauthenticated("not authenticated")
    return principal


def audit_event(action: str, target_type: str | None = None, target_id: str | None = None,
                **detail: Any) -> None:
    """Record an event of this request in the audit trail (its own transaction)."""
    p = g.get("principal")
    g.audited = True
    audit.record(get_archive().sessions, action, actor=p.username if p else detail.pop("actor", None),
                 role=p.role if p else None, target_type=target_type, target_id=target_id,
                 detail=detail, ip=request.remote_addr)


def audit_in(session, action: str, target_type: str | None = None, target_id: str | None = None,
             **detail: Any) -> None:
    """Add an event of this request to the audit trail in ``session``'s transaction: it is
    committed with the change it records, or not at all."""
    p = g.get("principal")
    g.audited = True
    audit.append(session, action, actor=p.username if p else detail.pop("actor", None),
                 role=p.role if p else None, target_type=target_type, target_id=target_id,
                 detail=detail, ip=request.remote_addr)


def caller(via: str | None = None) -> Caller:
    """The application layer's view of this request: who asks, its session, the store, where
    the audit goes (``via="web"`` for the pages)."""
    archive = get_archive()
    return Caller(principal=current(), session=db(), sessions=archive.sessions, store=archive.store,
                  settings=archive.ingest_settings, config=archive.config, ip=request.remote_addr, via=via,
                  method=request.method, path=request.path)


def refuse(target_type: str, target_id: str, *, visible: bool, why: str) -> NoReturn:
    """Refuse the action (``Caller.refuse``): 403 audited when visible, else the 404 a missing id raises."""
    caller().refuse(target_type, target_id, visible=visible, why=why)


def audit_not_found(exc: NotFound) -> None:
    """The audit entry of a 404 to an authenticated caller: a missing record or one outside the
    scope, written alike (the reason is only in the trail)."""
    if g.get("principal") is None:
        return
    target_type, target_id, why = exc.audit or (None, None, "no such record")
    audit_event("access.refused", target_type, target_id, method=request.method, path=request.path,
                reason=why)


def may_read(agency_code: str, case_id: str) -> bool:
    """``Caller.may_read`` for this request."""
    return caller().may_read(agency_code, case_id)


def scope_search(sq) -> None:
    """Limit a search to exactly what the caller may read: its organisations' files and, for a
    reviewer, the files assigned to it whose review deadline has not passed."""
    p = current()
    sq.scope = p.index_scope
    if policy.works_from_assignments(p):
        from archive.sampling.service import readable_cases

        sq.case_scope = readable_cases(db(), p.username)


def case_for(case: Case | None, case_id: str, *, write: bool = False) -> Case:
    """``Caller.case_for`` for this request: the case if the caller may see (write) it."""
    return caller().case_for(case, case_id, write=write)


def _unauthenticated(message: str, expired: bool = False):
    if request.path.startswith("/api/") or request.path == STATUS_PATH:
        resp = jsonify({"code": 401, "status": "Unauthorized", "message": message})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="archive"'
        return resp
    target = request.full_path if request.query_string else request.path
    if request.method not in SAFE_METHODS:
        # a form sent after the session ended: back to the page it was on (whose script keeps
        # what was typed), not to the address it posts to
        from urllib.parse import urlparse

        ref = urlparse(request.referrer or "")
        target = ref.path + (f"?{ref.query}" if ref.query else "") \
            if ref.netloc == request.host and ref.path.startswith("/") else "/"
    if expired:
        return redirect(url_for("web.login", next=target, expired=1))
    return redirect(url_for("web.login", next=target))


# Views that read their multipart body as it arrives (``archive.services.streaming``): the form
# is not parsed before them (they check their fields for NUL themselves).
STREAMED_ENDPOINTS = {"cases.CaseDocuments"}


def _nul_field() -> str | None:
    """The name of a query, form or JSON field whose text holds a NUL character, if any."""
    streamed = request.endpoint in STREAMED_ENDPOINTS and request.method == "POST"
    for name, value in list(request.args.items(multi=True)) + (
            list(request.form.items(multi=True)) if request.method not in SAFE_METHODS and not streamed else []):
        if "\x00" in value or "\x00" in name:
            return name
    if request.method not in SAFE_METHODS and request.is_json:
        stack: list[tuple[str, object]] = [("json", request.get_json(silent=True))]
        while stack:
            where, item = stack.pop()
            if isinstance(item, str) and "\x00" in item:
                return where
            if isinstance(item, dict):
                stack.extend((str(k), v) for k, v in item.items())
                if any("\x00" in str(k) for k in item):
                    return where
            elif isinstance(item, list):
                stack.extend((where, v) for v in item)
    return None


def refuse_nul():
    """before_request, after authentication (a body is read only for a known caller): NUL is
    never text, and PostgreSQL refuses it, so it is refused before any query sees it."""
    bad = _nul_field()
    if bad is not None:
        from archive.errors import BadQuery

        raise BadQuery("请求中含有不允许的字符（NUL）/ NUL is not allowed in text", {bad: ["NUL (0x00) is not allowed"]})


def authenticate():
    """before_request: find the caller; everything but the public paths needs one."""
    g.principal = None
    if "\x00" in request.path:
        raise NotFound("no such record")  # no record has such an id
    if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
        return None
    session_db = db()
    header = request.headers.get("Authorization", "")
    if header:
        if not header.startswith("Bearer "):
            return _unauthenticated("use Authorization: Bearer <token>")
        try:
            user = user_for_token(session_db, header[len("Bearer "):].strip())
        except Unauthenticated as exc:
            audit.record(get_archive().sessions, "auth.token_refused", detail={"reason": exc.message},
                         ip=request.remote_addr)
            return _unauthenticated("token invalid, expired or revoked")
        if session_db.dirty:
            session_db.commit()
        g.principal = principal_for(session_db, user, "token")
        return None
    sid = session.get("sid")
    if sid is not None:
        import datetime as dt
        from flask import current_app

        idle = dt.timedelta(minutes=float(current_app.config.get("SESSION_IDLE_MINUTES") or 0)) or None
        # ended on the server by logout, a password change, disabling, idleness or its age
        user = session_user(session_db, sid, idle=idle, touch=request.path != STATUS_PATH)
        if user is not None:
            g.principal = principal_for(session_db, user, "session")
            if request.method not in SAFE_METHODS:
                csrf.protect()  # cookies are sent by browsers on their own: forms need the token
            return _password_gate(user)
        session.clear()
        return _unauthenticated("登录已失效，请重新登录 / the session has ended", expired=True)
    return _unauthenticated("请先登录 / authentication required")


PASSWORD_PATHS = ("/password", "/logout", "/session/status", "/session/keepalive")


def _password_gate(user):
    """A password set by someone else (ARCHIVE_FORCE_PASSWORD_CHANGE), or older than
    ARCHIVE_PASSWORD_DAYS, is changed before anything else: pages lead to 修改密码, the API
    answers 403 (tokens are not affected)."""
    from flask import current_app

    from archive.auth.accounts import password_expired
    from archive.clock import now as server_now

    cfg = current_app.config
    forced = bool(cfg.get("FORCE_PASSWORD_CHANGE", True)) and user.must_change_password
    expired = password_expired(user, int(cfg.get("PASSWORD_DAYS") or 0), server_now())
    if not (forced or expired) or request.path in PASSWORD_PATHS:
        return None
    if request.path.startswith("/api/"):
        resp = jsonify({"code": 403, "status": "Forbidden",
                        "message": "请先修改密码（初始密码或密码已过期）/ change your password first"})
        resp.status_code = 403
        return resp
    return redirect(url_for("web.password", next=request.full_path if request.query_string else request.path))


def security_headers(response):
    """after_request: the same protective headers on every response."""
    from flask import current_app

    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if (g.get("principal") is not None or request.path.startswith("/api/")) \
            and "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "private, no-store"  # nothing a person may read is kept by a cache
    if current_app.config.get("ENV") == "production":  # behind TLS (the reverse proxy's job)
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def audit_exports(response):
    """after_request: every file that leaves the archive as a download (an export as CSV, XLSX,
    DOCX, PDF…) is in the audit trail; routes that audited their download themselves are not
    written twice."""
    disposition = response.headers.get("Content-Disposition", "")
    if g.get("principal") is not None and response.status_code == 200 and disposition.startswith("attachment") \
            and not g.get("audited"):
        audit_event("export", "path", request.path[:120], file=disposition.split("filename", 1)[-1].lstrip("*=")[:200],
                    query={k: v[:200] for k, v in request.args.items()})
    return response


def init_auth(app: Flask) -> None:
    """Register authentication, CSRF and security headers on ``app``."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead
    csrf.init_app(app)
    app.before_request(authenticate)
    app.before_request(refuse_nul)
    app.after_request(security_headers)
    app.after_request(audit_exports)

