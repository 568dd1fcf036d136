"""Users, Argon2 passwords, API tokens (stored hashed, expiring, revocable), login throttling."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.auth.principal import SCOPE_LEVEL
from archive.errors import ArchiveError, Conflict, NotFound, ValidationFailed
from archive.models import ROLES, ApiToken, LoginThrottle, Organisation, User
from archive.services.clock import now as server_now

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("no such user: constant-time refusal")
TOKEN_PREFIX = "arc"
MIN_PASSWORD = 10


class LoginThrottled(ArchiveError):
    """Too many failed logins: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("登录失败次数过多，请稍后再试 / too many failed logins; try again later")
        self.retry_after = retry_after


class Unauthenticated(ArchiveError):
    """No valid credentials."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"password shorter than {MIN_PASSWORD} characters", {"password": ["too short"]})
    return _hasher.hash(password)


def create_user(session: Session, username: str, role: str, scope_code: str | None, *,
                password: str | None = None, display_name: str = "") -> User:
    """A new user; the scope must be an organisation of the level the role acts at."""
    username = username.strip()
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ValidationFailed("username: letters, digits, . _ - only", {"username": ["invalid"]})
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", {"role": ["unknown role"]})
    level = SCOPE_LEVEL[role]
    if scope_code:
        org = session.get(Organisation, scope_code)
        if org is None:
            raise ValidationFailed(f"no organisation {scope_code}", {"scope": ["unknown organisation"]})
        if level and org.level != level:
            raise ValidationFailed(f"a {role} acts for a {level}, and {scope_code} is a {org.level}",
                                   {"scope": [f"must be a {level}"]})
    elif level in ("agency", "district"):
        raise ValidationFailed(f"a {role} needs a scope ({level} code)", {"scope": ["required"]})
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username} exists already")
    user = User(username=username, role=role, scope_code=scope_code or None, display_name=display_name,
                password_hash=hash_password(password) if password else None, created_at=server_now())
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}")
    return user


@dataclass(frozen=True)
class IssuedToken:
    """A token as shown once to its owner: ``token`` is never stored."""

    token_id: str
    token: str
    expires_at: dt.datetime


def _secret_hash(secret: str) -> str:
    # Tokens carry 256 random bits: a plain SHA-256 is enough to store them safely.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, user: User, days: int = 90,
                clock: Callable[[], dt.datetime] = server_now) -> IssuedToken:
    """A new bearer token ``arc_<id>_<secret>``; only the hash of the secret is stored."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    expires = clock() + dt.timedelta(days=days)
    session.add(ApiToken(id=token_id, user_id=user.id, secret_hash=_secret_hash(secret),
                         created_at=clock(), expires_at=expires))
    session.flush()
    return IssuedToken(token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}", expires)


def revoke_token(session: Session, token_id: str, clock: Callable[[], dt.datetime] = server_now) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = clock()
    return token


def user_for_token(session: Session, raw: str, clock: Callable[[], dt.datetime] = server_now) -> User:
    """The active user a bearer token belongs to, or Unauthenticated (expired, revoked, wrong)."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise Unauthenticated("malformed token")
    token = session.get(ApiToken, parts[1])
    if token is None or not hmac.compare_digest(token.secret_hash, _secret_hash(parts[2])):
        raise Unauthenticated("unknown token")
    now = clock()
    if token.revoked_at is not None:
        raise Unauthenticated("token revoked")
    if token.expires_at <= now:
        raise Unauthenticated("token expired")
    if not token.user.active:
        raise Unauthenticated("user disabled")
    # Noted at most every few minutes: a write on every request would serialise readers on SQLite.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        token.last_used_at = now
    return token.user


# -- login and throttling ---------------------------------------------------------------
FREE_FAILURES = 5
BASE_DELAY = 30  # seconds after the sixth failure, doubling each time
MAX_DELAY = 15 * 60
WINDOW = dt.timedelta(minutes=30)


def _throttle_rows(session: Session, keys: list[str]) -> list[LoginThrottle]:
    rows = []
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
            session.add(row)
        rows.append(row)
    return rows


def login(session: Session, username: str, password: str, ip: str | None,
          clock: Callable[[], dt.datetime] = server_now) -> User:
    """Check a password. Failures are counted per username and per address; past
    FREE_FAILURES each further attempt waits longer (LoginThrottled with retry_after)."""
    now = clock()
    rows = _throttle_rows(session, [f"user:{username.lower()}", f"ip:{ip or '-'}"])
    for row in rows:
        if row.last_failure_at and now - row.last_failure_at > WINDOW:
            row.failures, row.blocked_until = 0, None
        if row.blocked_until and row.blocked_until > now:
            raise LoginThrottled(int((row.blocked_until - now).total_seconds()) + 1)
    user = session.scalar(select(User).where(User.username == username))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and user is not None and user.active and user.password_hash:
        for row in rows:
            row.failures, row.blocked_until = 0, None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return user
    for row in rows:
        row.failures += 1
        row.last_failure_at = now
        if row.failures > FREE_FAILURES:
            delay = min(MAX_DELAY, BASE_DELAY * 2 ** (row.failures - FREE_FAILURES - 1))
            row.blocked_until = now + dt.timedelta(seconds=delay)
    raise Unauthenticated("用户名或密码错误 / wrong username or password")
