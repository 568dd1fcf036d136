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
from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from archive.auth.principal import SCOPE_LEVEL
from archive.db import changed_rows
from archive.errors import ArchiveError, Conflict, NotFound, REQUIRED, ValidationFailed
from archive.models import ROLES, ApiToken, LoginThrottle, Organisation, PasswordHistory, User, WebSession
from archive.clock import now as server_now

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


class AccountLocked(ArchiveError):
    """Too many consecutive failures: the account is locked until ``until`` (or a security
    administrator lifts the lock). ``now`` is True when this attempt locked it."""

    def __init__(self, until: dt.datetime, now: bool = False) -> None:
        super().__init__("账户因连续登录失败已锁定，请联系安全管理员解锁或稍后再试 / the account is locked after "
                         "consecutive failed logins")
        self.until, self.now = until, now


@dataclass(frozen=True)
class LoginNotice:
    """What a user is told after logging in: the previous login and the failures since."""

    previous_at: dt.datetime | None
    previous_ip: str | None
    failures: int


@dataclass(frozen=True)
class LockRule:
    """``after`` consecutive failures lock an account for ``minutes`` (0: never)."""

    after: int = 10
    minutes: int = 30


HISTORY = 5  # a new password may not be one of the last five


def random_password() -> str:
    """A password for someone else to use once (the first start, an administrator's reset): it
    meets the rules, and its owner must change it at the first login."""
    import string

    while True:
        pick = secrets.choice
        chars = [pick(string.ascii_lowercase), pick(string.ascii_uppercase), pick(string.digits), pick("-_.")]
        chars += [pick(string.ascii_letters + string.digits) for _ in range(10)]
        secrets.SystemRandom().shuffle(chars)
        password = "".join(chars)
        if not password_problems(password):
            return password


def password_problems(password: str, username: str = "", earlier: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Why ``password`` may not be set ("中文 / English" each; empty: it may): at least ten
    characters of three of the four classes (lower case, upper case, digits, other — a Chinese
    character counts as other), not containing the login, not one of the ``earlier`` hashes."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"密码至少 {MIN_PASSWORD} 个字符 / at least {MIN_PASSWORD} characters")
    classes = sum([any(c.islower() and c.isascii() for c in password), any(c.isupper() and c.isascii() for c in password),
                   any(c.isdigit() and c.isascii() for c in password),
                   any(not (c.isascii() and c.isalnum()) for c in password)])
    if classes < 3:
        problems.append("密码须包含小写字母、大写字母、数字、其他字符中的至少三类 / "
                        "three of: lower case, upper case, digits, other characters")
    if username and username.lower() in password.lower():
        problems.append("密码不能包含用户名 / must not contain the login")
    for old in earlier:
        try:
            if _hasher.verify(old, password):
                problems.append(f"不能与最近 {HISTORY} 次使用过的密码相同 / must differ from the last {HISTORY}")
                break
        except (VerificationError, InvalidHashError):
            continue
    return problems


def hash_password(password: str, username: str = "", earlier: list[str] | tuple[str, ...] = ()) -> str:
    """The Argon2 hash of a password that meets the rules (ValidationFailed with the reasons otherwise)."""
    problems = password_problems(password, username, earlier)
    if problems:
        raise ValidationFailed("密码不符合规则：" + "；".join(p.split(" / ")[0] for p in problems) +
                               " / the password does not meet the rules: " + "; ".join(p.split(" / ")[-1] for p in problems),
                               {"password": problems})
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
        raise ValidationFailed(f"a {role} needs a scope ({level} code)", {"scope": [REQUIRED]})
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username} exists already")
    now = server_now()
    # a password given at creation was chosen by someone else (an administrator, the first
    # start): its owner changes it at the first login
    user = User(username=username, role=role, scope_code=scope_code or None, display_name=display_name,
                password_hash=hash_password(password, username) if password else None, created_at=now,
                password_changed_at=now if password else None, must_change_password=bool(password))
    session.add(user)
    session.flush()
    if user.password_hash:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=now))
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
    if not isinstance(days, int) or not 1 <= days <= 3650:
        raise ValidationFailed("a token lives 1 to 3650 days", {"days": ["1 to 3650"]})
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


def _insert_ignore(session: Session, key: str) -> None:
    """Create the counter row unless it exists (concurrent first failures never collide)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing())


def _count_attempt(session: Session, key: str, now: dt.datetime) -> None:
    """Count one attempt for ``key`` before its password is checked, atomically (a row lock on
    PostgreSQL, the write lock on SQLite): past FREE_FAILURES the counter blocks every further
    attempt until the delay has passed, however many arrive at once."""
    _insert_ignore(session, key)
    cutoff = now - WINDOW
    counted = session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key,
               or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now))
        .values(failures=case((LoginThrottle.last_failure_at < cutoff, 1), else_=LoginThrottle.failures + 1),
                last_failure_at=now)
        .returning(LoginThrottle.failures)).scalar()
    if counted is None:  # blocked
        until = session.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.key == key))
        session.commit()
        raise LoginThrottled(max(1, int(((until or now) - now).total_seconds()) + 1))
    if counted > FREE_FAILURES:
        delay = min(MAX_DELAY, BASE_DELAY * 2 ** (counted - FREE_FAILURES - 1))
        session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                        .values(blocked_until=now + dt.timedelta(seconds=delay)))


def login(session: Session, username: str, password: str, ip: str | None,
          clock: Callable[[], dt.datetime] = server_now, lock: LockRule = LockRule(),
          second_factor: Callable[[User], bool] = lambda user: False) -> tuple[User, LoginNotice | None]:
    """Check a password. Attempts are counted per username and per address *before* the check
    (and committed), so parallel guesses cannot all pass; past FREE_FAILURES each further
    attempt waits longer (LoginThrottled with retry_after). ``lock.after`` consecutive failures
    of an account lock it (AccountLocked) until ``lock.minutes`` have passed or a security
    administrator unlocks it; a locked account is refused whatever the password. A success
    resets the counters and returns the notice of the previous login — unless
    ``second_factor(user)``: then the notice is None and the login completes only after the
    second factor (``complete_login``; its failures count like a wrong password,
    ``count_failure``). Commits the session."""
    now = clock()
    keys = [f"user:{username.lower()[:150]}", f"ip:{ip or '-'}"]
    try:
        for key in keys:
            _count_attempt(session, key, now)
        session.commit()
    except LoginThrottled:
        raise
    except Exception:
        session.rollback()
        raise
    user = session.scalar(select(User).where(User.username == username))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if user is not None and user.locked_until is not None and user.locked_until > now:
        if not ok:
            session.execute(update(User).where(User.id == user.id)
                            .values(failures_since_login=User.failures_since_login + 1))
            session.commit()
        raise AccountLocked(user.locked_until)
    if ok and user is not None and user.active and user.password_hash:
        session.execute(update(LoginThrottle).where(LoginThrottle.key.in_(keys))
                        .values(failures=0, blocked_until=None))
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        if second_factor(user):  # the consecutive failures stand until the second factor passes
            session.commit()
            return user, None
        return user, complete_login(session, user, ip, now)
    if user is not None:
        count_failure(session, user, now, lock)
    raise Unauthenticated("用户名或密码错误 / wrong username or password")


def complete_login(session: Session, user: User, ip: str | None, now: dt.datetime) -> LoginNotice:
    """Both factors passed: note this login and return the notice of the previous one (its
    time, its address, the failures since). Commits."""
    notice = LoginNotice(user.last_login_at, user.last_login_ip, user.failures_since_login)
    user.last_login_at, user.last_login_ip = now, (ip or "")[:64] or None
    user.failures_since_login = user.failed_logins = 0
    user.locked_until = None
    session.commit()
    return notice


def count_failure(session: Session, user: User, now: dt.datetime, lock: LockRule) -> None:
    """One more consecutive failure of ``user`` (a wrong password or second factor), counted
    atomically; the failure that reaches ``lock.after`` locks the account (AccountLocked, once).
    Commits."""
    lapsed = User.locked_until.is_not(None) & (User.locked_until <= now)  # after an expired lock, the first
    failed = session.execute(update(User).where(User.id == user.id).values(
        failed_logins=case((lapsed, 1), else_=User.failed_logins + 1),
        locked_until=case((lapsed, None), else_=User.locked_until),
        failures_since_login=User.failures_since_login + 1)
        .returning(User.failed_logins)).scalar() or 0
    if lock.after and failed == lock.after:  # exactly one failure reaches the count: it locks, once
        until = now + dt.timedelta(minutes=lock.minutes)
        session.execute(update(User).where(User.id == user.id).values(locked_until=until))
        session.commit()
        raise AccountLocked(until, now=True)
    session.commit()


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's current one (no counting: the owner is logged in)."""
    try:
        return user.password_hash is not None and _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def unlock(session: Session, user: User) -> None:
    """Lift a lock (the security administrator's act; audited by the caller)."""
    user.locked_until, user.failed_logins = None, 0


# -- web sessions (revocable on the server) ----------------------------------------------------

def start_session(session: Session, user: User, hours: float, clock: Callable[[], dt.datetime] = server_now,
                  ip: str | None = None, user_agent: str = "") -> str:
    """A new server-side session for ``user``; the cookie carries only its random id."""
    sid = secrets.token_urlsafe(32)
    now = clock()
    session.add(WebSession(id=sid, user_id=user.id, created_at=now, expires_at=now + dt.timedelta(hours=hours),
                           last_seen_at=now, ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:200] or None))
    return sid


def session_user(session: Session, sid: str | None, clock: Callable[[], dt.datetime] = server_now,
                 idle: dt.timedelta | None = None, touch: bool = True) -> User | None:
    """The active user of a live session, or None (unknown, ended, past its absolute limit,
    idle longer than ``idle``, user disabled). A request notes the session as used
    (``touch``; written at most every few seconds, so readers do not queue for SQLite's lock);
    an idle session is ended on the server."""
    if not sid or len(sid) > 64:
        return None
    ws = session.get(WebSession, sid)
    now = clock()
    if ws is None or ws.revoked_at is not None or ws.expires_at <= now:
        return None
    seen = ws.last_seen_at or ws.created_at
    if idle is not None and now - seen >= idle:
        ws.revoked_at = now
        session.commit()
        return None
    user = session.get(User, ws.user_id)
    if user is None or not user.active:
        return None
    if touch and now - seen >= min(dt.timedelta(seconds=30), (idle or dt.timedelta(hours=1)) / 20):
        ws.last_seen_at = now
        session.commit()
    return user


def session_remaining(session: Session, sid: str | None, idle: dt.timedelta,
                      clock: Callable[[], dt.datetime] = server_now) -> float:
    """Seconds until the session ends (idle or absolute), without counting this as use; 0 if ended."""
    ws = session.get(WebSession, sid) if sid and len(sid) <= 64 else None
    if ws is None or ws.revoked_at is not None:
        return 0.0
    now = clock()
    end = min(ws.expires_at, (ws.last_seen_at or ws.created_at) + idle)
    return max(0.0, (end - now).total_seconds())


def live_sessions(session: Session, user: User, idle: dt.timedelta | None,
                  clock: Callable[[], dt.datetime] = server_now) -> list[WebSession]:
    """The user's sessions that are still open, newest use first (the 安全 page)."""
    now = clock()
    rows = session.scalars(select(WebSession).where(
        WebSession.user_id == user.id, WebSession.revoked_at.is_(None), WebSession.expires_at > now)).all()
    if idle is not None:
        rows = [w for w in rows if now - (w.last_seen_at or w.created_at) < idle]
    return sorted(rows, key=lambda w: w.last_seen_at or w.created_at, reverse=True)


def end_other_sessions(session: Session, user: User, keep: str | None,
                       clock: Callable[[], dt.datetime] = server_now) -> int:
    """End every open session of ``user`` but ``keep`` (the 安全 page's 结束其他会话)."""
    return changed_rows(session, update(WebSession).where(
        WebSession.user_id == user.id, WebSession.revoked_at.is_(None), WebSession.id != (keep or ""))
        .values(revoked_at=clock()))


def end_session(session: Session, sid: str | None, clock: Callable[[], dt.datetime] = server_now) -> None:
    """Logout: the session id is refused from now on, whoever replays the cookie."""
    if sid:
        session.execute(update(WebSession).where(WebSession.id == sid, WebSession.revoked_at.is_(None))
                        .values(revoked_at=clock()))


def end_all_sessions(session: Session, user: User, clock: Callable[[], dt.datetime] = server_now) -> int:
    """End every open session of ``user`` (password changed, account disabled)."""
    return changed_rows(session, update(WebSession).where(
        WebSession.user_id == user.id, WebSession.revoked_at.is_(None)).values(revoked_at=clock()))


def set_password(session: Session, user: User, password: str, *, by_owner: bool = False,
                 clock: Callable[[], dt.datetime] = server_now) -> None:
    """A new password that meets the rules and repeats none of the last five; every open web
    session of the user ends. One set by someone else (``by_owner`` False: an administrator's
    reset, the CLI) must be changed by its owner at the next login."""
    earlier = session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
                              .order_by(PasswordHistory.id.desc()).limit(HISTORY)).all()
    user.password_hash = hash_password(password, user.username, list(earlier))
    now = clock()
    user.password_changed_at, user.must_change_password = now, not by_owner
    user.failed_logins, user.locked_until = 0, None
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=now))
    end_all_sessions(session, user)


def password_expired(user: User, days: int, now: dt.datetime) -> bool:
    """A password older than ``days`` (0: never) must be changed before anything else."""
    return bool(days) and user.password_changed_at is not None and now - user.password_changed_at > dt.timedelta(days=days)



def disable_user(session: Session, user: User, clock: Callable[[], dt.datetime] = server_now) -> None:
    """Disable an account: its sessions end and its tokens are refused at once."""
    user.active = False
    end_all_sessions(session, user, clock)
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=clock()))
