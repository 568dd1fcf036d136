"""Accounts managed from the browser by the system administrator (every business role's;
``policy.manages_account``), and the security administrator's acts on them (role, unlock,
second-factor reset).
Listing, creating, disabling, resetting a password (a new one, shown once) and ending a
person's sessions; each audited. Usernames are unique by the database's constraint."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import audit
from archive.auth import policy
from archive.auth.accounts import create_user, disable_user, end_all_sessions, random_password, set_password
from archive.auth.principal import Principal
from archive.errors import Conflict, Forbidden, NotFound, ValidationFailed
from archive.models import Organisation, User, WebSession


@dataclass(frozen=True)
class Account:
    """One account as the list shows it."""

    username: str
    display_name: str
    role: str
    scope_code: str | None
    scope_name: str
    active: bool
    sessions: int
    created_at: dt.datetime


def new_password() -> str:
    """A password for a person to change at the first login: 14 characters that meet the rules."""
    return random_password()


def _parents(session: Session) -> dict[str, tuple[str, str | None]]:
    return {c: (n, p) for c, n, p in session.execute(select(Organisation.code, Organisation.name,
                                                            Organisation.parent_code))}


def accounts(session: Session, p: Principal, now: dt.datetime) -> list[Account]:
    """The accounts the caller manages, by organisation and login."""
    orgs = _parents(session)
    live: dict[int, int] = {uid: n for uid, n in session.execute(select(WebSession.user_id, func.count()).where(
        WebSession.revoked_at.is_(None), WebSession.expires_at > now).group_by(WebSession.user_id))}
    out = []
    for u in session.scalars(select(User).order_by(User.scope_code, User.username)):
        name, parent = orgs.get(u.scope_code or "", ("", None))
        if policy.manages_account(p, u.role, u.scope_code, parent):
            out.append(Account(u.username, u.display_name, u.role, u.scope_code, name or "（不限机关）", u.active,
                               live.get(u.id, 0), u.created_at))
    return out


def managed(session: Session, p: Principal, username: str) -> User:
    """The account ``username`` if the caller manages it (NotFound otherwise: others' accounts
    are not disclosed)."""
    user = session.scalar(select(User).where(User.username == username))
    parent = _parents(session).get(user.scope_code or "", ("", None))[1] if user else None
    if user is None or not policy.manages_account(p, user.role, user.scope_code, parent):
        raise NotFound("no such account", {"username": ["没有这个账号，或不归您管理"]})
    return user


def create(session: Session, p: Principal, *, username: str, display_name: str, role: str,
           scope_code: str | None) -> tuple[User, str]:
    """A new account with a random password (returned once); committed and audited."""
    errors: dict[str, list[str]] = {}
    username, display_name = (username or "").strip(), (display_name or "").strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum() \
            or not username.isascii():
        errors["username"] = ["登录名只能由字母、数字和 . _ - 组成，最多 64 个字符"]
    if not display_name:
        errors["display_name"] = ["请填写姓名"]
    elif len(display_name) > 120:
        errors["display_name"] = ["姓名最多 120 个字"]
    org = session.get(Organisation, scope_code) if scope_code else None
    parent = org.parent_code if org else None
    if role not in policy.BUSINESS_ROLES:
        errors["role"] = ["请从列表中选择角色"]
    elif not policy.manages_account(p, role, scope_code, parent):
        raise Forbidden("无权为此角色或机关创建账号 / not yours to create",
                        {"role": ["您不能为此角色或机关创建账号"]})
    if errors:
        raise ValidationFailed("账号信息有误 / the account is not valid", errors)
    password = new_password()
    try:
        user = create_user(session, username, role, scope_code, password=password, display_name=display_name)
        audit.append(session, "user.create", actor=p.username, role=p.role, target_type="user", target_id=username,
                     detail={"role": role, "scope": scope_code, "via": "web"})
        session.commit()
    except (IntegrityError, Conflict):  # taken before, or at the same moment (the unique constraint decides)
        session.rollback()
        raise Conflict("登录名已存在 / the username exists", {"username": ["登录名已存在"]}) from None
    except ValidationFailed as exc:
        session.rollback()
        raise ValidationFailed(exc.message, {"scope_code" if k == "scope" else k: ["请选择该角色所属的机关"]
                                             for k in exc.errors} or {"scope_code": [exc.message]}) from None
    return user, password


def disable(session: Session, p: Principal, username: str) -> User:
    user = managed(session, p, username)
    if user.username == p.username:
        raise ValidationFailed("不能停用自己的账号", {"username": ["不能停用自己的账号"]})
    disable_user(session, user)
    audit.append(session, "user.disable", actor=p.username, role=p.role, target_type="user", target_id=username,
                 detail={"via": "web"})
    session.commit()
    return user


def reset_password(session: Session, p: Principal, username: str) -> str:
    """A new random password for the account (shown once); its sessions end."""
    user = managed(session, p, username)
    password = new_password()
    set_password(session, user, password)
    audit.append(session, "user.password", actor=p.username, role=p.role, target_type="user", target_id=username,
                 detail={"reset": True, "via": "web"})
    session.commit()
    return password


def end_sessions(session: Session, p: Principal, username: str) -> int:
    user = managed(session, p, username)
    ended = end_all_sessions(session, user)
    audit.append(session, "user.sessions_end", actor=p.username, role=p.role, target_type="user",
                 target_id=username, detail={"ended": ended, "via": "web"})
    session.commit()
    return ended


def scope_choices(session: Session, p: Principal) -> list[tuple[str, str, str]]:
    """(code, name, level) of the organisations the caller may create accounts at."""
    rows = session.execute(select(Organisation.code, Organisation.name, Organisation.level, Organisation.parent_code)
                           .order_by(Organisation.level, Organisation.code)).all()
    return [(c, n, lv) for c, n, lv, _ in rows] if policy.manages_accounts(p) else []


# -- the security administrator (安全管理员): roles, locks, second factors --------------------------

@dataclass(frozen=True)
class SecuredAccount:
    """One account as the security administrator's list shows it."""

    username: str
    display_name: str
    role: str
    scope_code: str | None
    active: bool
    locked_until: dt.datetime | None
    failed_logins: int
    mfa_enrolled: bool
    last_login_at: dt.datetime | None
    last_login_ip: str | None


def secured_accounts(session: Session, p: Principal, now: dt.datetime) -> list[SecuredAccount]:
    """Every account (the administrators' too), for the security administrator."""
    if not policy.secures_accounts(p):
        raise Forbidden("只有安全管理员管理角色、锁定和动态口令 / the security administrator's")
    return [SecuredAccount(u.username, u.display_name, u.role, u.scope_code, u.active,
                           u.locked_until if u.locked_until and u.locked_until > now else None, u.failed_logins,
                           u.totp_secret is not None, u.last_login_at, u.last_login_ip)
            for u in session.scalars(select(User).order_by(User.role, User.username))]


def _secured(session: Session, p: Principal, username: str) -> User:
    if not policy.secures_accounts(p):
        raise Forbidden("只有安全管理员管理角色、锁定和动态口令 / the security administrator's")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("no such account", {"username": ["没有这个账号"]})
    if not policy.secures_account(p, user.role, user.username):
        raise Forbidden("不能对自己的账号执行此操作 / not on one's own account",
                        {"username": ["不能对自己的账号执行此操作"]})
    return user


def unlock(session: Session, p: Principal, username: str, via: str = "web") -> User:
    """Lift a lock after consecutive failures (audited)."""
    from archive.auth.accounts import unlock as lift

    user = _secured(session, p, username)
    lift(session, user)
    audit.append(session, "user.unlock", actor=p.username, role=p.role, target_type="user", target_id=username,
                 detail={"via": via})
    session.commit()
    return user


def reset_mfa(session: Session, p: Principal, username: str, via: str = "web") -> User:
    """The second factor is forgotten (a lost phone): the next login enrols again; the account's
    sessions end (whoever holds them passed the old factor)."""
    from archive.auth import mfa

    user = _secured(session, p, username)
    mfa.reset(session, user)
    end_all_sessions(session, user)
    audit.append(session, "user.mfa_reset", actor=p.username, role=p.role, target_type="user", target_id=username,
                 detail={"via": via})
    session.commit()
    return user


def change_role(session: Session, p: Principal, username: str, role: str, scope_code: str | None,
                via: str = "web") -> User:
    """A permission change: a business account gets another business role (and the scope that
    role acts at); its sessions and tokens keep working under the new role at their next request.
    Audited with the role before and after."""
    from archive.auth.principal import SCOPE_LEVEL

    user = _secured(session, p, username)
    if role not in policy.BUSINESS_ROLES:
        raise ValidationFailed("请从列表中选择角色 / not a role an account may be given", {"role": ["请从列表中选择角色"]})
    if not policy.assigns_role(p, user.role, role):
        raise Forbidden("管理员的角色只能由运维人员在命令行设置 / an administrator's role is set from the command line",
                        {"role": ["管理员的角色只能由运维人员在命令行设置"]})
    level = SCOPE_LEVEL[role]
    org = session.get(Organisation, scope_code) if scope_code else None
    if level and (org is None or org.level != level):
        raise ValidationFailed("所属机关与角色不符 / the organisation does not fit the role",
                               {"scope_code": [f"该角色须属于一个{ {'agency': '执法机关', 'district': '区', 'city': '市'}[level] }"]})
    if not level and role == "reviewer":
        scope_code = None
    before = (user.role, user.scope_code)
    user.role, user.scope_code = role, scope_code
    audit.append(session, "user.role", actor=p.username, role=p.role, target_type="user", target_id=username,
                 detail={"from": before[0], "from_scope": before[1], "to": role, "to_scope": scope_code, "via": via})
    session.commit()
    return user
