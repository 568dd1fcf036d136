"""First start: the three administrators (三权分立: 系统管理员, 安全管理员, 审计管理员, each with a
password of its own) and, with demo data, one user per business role; passwords shown once."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import audit
from archive.auth.accounts import create_user, random_password
from archive.models import Organisation, User

# The people behind the demo accounts, as the pages name them
DISPLAY_NAMES = {"sysadmin": "系统管理员", "secadmin": "安全管理员", "auditadmin": "审计管理员", "wq_sjj": "张丽", "wq_sjj_fz": "刘洋", "wq_fzb": "王建国", "wq_ts": "赵敏",
                 "tj_fzb": "陈志强", "tj_sj": "孙静", "pc_01": "李明"}

ADMINS = [("sysadmin", "sys_admin", None), ("secadmin", "security_admin", None), ("auditadmin", "audit_admin", None)]
# (username, role, scope code) of the demo accounts; scopes are the demo organisations.
DEMO_USERS = [
    ("wq_sjj", "agency_clerk", "120114-SJJ"),
    ("wq_sjj_fz", "agency_legal", "120114-SJJ"),
    ("wq_fzb", "district_office", "120114"),
    ("wq_ts", "complaint_handler", "120114"),
    ("tj_fzb", "city_office", "120000"),
    ("tj_sj", "auditor", "120000"),
    ("pc_01", "reviewer", None),
]


def bootstrap_users(session: Session, demo: bool) -> tuple[list[tuple[str, str, str | None]], dict[str, str]] | None:
    """If there is no user yet: create the three administrators, each with its own random
    password (no one account may do what two of them do), and, with ``demo``, the demo accounts
    with one more random password between them. Returns (accounts, password by username) or None.
    Every one of these passwords must be changed at its first login."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    accounts: list[tuple[str, str, str | None]] = list(ADMINS)
    passwords = {username: random_password() for username, _, _ in ADMINS}
    if demo:
        known = set(session.scalars(select(Organisation.code)).all())
        shared = random_password()
        for account in DEMO_USERS:
            if account[2] is None or account[2] in known:
                accounts.append(account)
                passwords[account[0]] = shared
    for username, role, scope in accounts:
        create_user(session, username, role, scope, password=passwords[username],
                    display_name=DISPLAY_NAMES.get(username, ""))
        audit.append(session, "user.create", actor="serve", target_type="user", target_id=username,
                     detail={"role": role, "scope": scope, "bootstrap": True})
    session.commit()
    return accounts, passwords
