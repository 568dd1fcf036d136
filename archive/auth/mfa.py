"""The second factor (等保 身份鉴别): TOTP codes (RFC 6238, ``pyotp``) after the password, and
ten one-time recovery codes, stored hashed.

A code is accepted once: the time step it belongs to is recorded by a compare-and-set, so the
same code sent twice (or by two requests at once) passes only the first time. A recovery code
is spent the same way. Enrolment happens at the first login of a role that needs the factor
(``ARCHIVE_MFA_ROLES``); only the security administrator resets it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Iterable

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from archive.db import changed_rows
from archive.models import RecoveryCode, User

ISSUER = "执法案卷档案"
STEP = 30  # seconds (RFC 6238's default, what every authenticator app uses)
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper


def roles_needing(setting: str | Iterable[str]) -> frozenset[str]:
    """The roles named by ``ARCHIVE_MFA_ROLES`` (comma-separated)."""
    if isinstance(setting, str):
        return frozenset(r.strip() for r in setting.split(",") if r.strip())
    return frozenset(setting)


def new_secret() -> str:
    """A new shared secret (160 bits, base32), as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG data address (the pages' CSP allows data: images)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _matching_step(secret: str, code: str, now: dt.datetime, window: int = 1) -> int | None:
    """The time step (±``window``) whose code is ``code``, or None."""
    code = "".join(ch for ch in code if not ch.isspace())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // STEP
    for s in range(step - window, step + window + 1):
        if secrets.compare_digest(totp.at(s * STEP), code):
            return s
    return None


def verify(session: Session, user: User, code: str, now: dt.datetime) -> bool:
    """Whether ``code`` is the user's current TOTP code and not used before. Accepting it moves
    the user's last step forward in one UPDATE … WHERE last_step < step: a replay, or the same
    code in two requests at once, finds the step taken and is refused."""
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    taken = changed_rows(session, update(User).where(User.id == user.id, User.totp_last_step < step)
                         .values(totp_last_step=step))
    return taken == 1


def enrol(session: Session, user: User, secret: str, code: str, now: dt.datetime) -> list[str] | None:
    """Keep ``secret`` as the user's second factor if ``code`` proves the app holds it; returns
    the ten recovery codes (shown once), or None when the code is wrong. Enrolling twice at once
    keeps one secret: the UPDATE only takes an account that has none."""
    step = _matching_step(secret, code, now)
    if step is None:
        return None
    taken = changed_rows(session, update(User).where(User.id == user.id, User.totp_secret.is_(None))
                         .values(totp_secret=secret, totp_enrolled_at=now, totp_last_step=step))
    if taken != 1:
        return None
    session.refresh(user)
    return new_recovery_codes(session, user, now)


def _code_hash(code: str) -> str:
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


def new_recovery_codes(session: Session, user: User, now: dt.datetime) -> list[str]:
    """Ten new one-time codes (the earlier ones stop working); only their hashes are kept."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw), created_at=now))
    session.flush()
    return codes


def use_recovery_code(session: Session, user: User, code: str, now: dt.datetime) -> bool:
    """Spend one recovery code: the UPDATE takes it only while unused (once, whoever races)."""
    if not user.totp_secret or len(code) > 40:
        return False
    return changed_rows(session, update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_hash(code),
        RecoveryCode.used_at.is_(None)).values(used_at=now)) == 1


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def reset(session: Session, user: User) -> None:
    """The security administrator's reset: the factor and its recovery codes are gone; the next
    login enrols again."""
    user.totp_secret, user.totp_enrolled_at, user.totp_last_step = None, None, 0
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
