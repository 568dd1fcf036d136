"""First start: an administrator (and, with demo data, one user per role), shown once."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import audit
from archive.auth.accounts import create_user, random_password
from archive.models import Organisation, User

# The people behind the demo accounts, as the pages name them
DISPLAY_NAMES = {"admin": "系统管理员", "wq_sjj": "张丽", "wq_sjj_fz": "刘洋", "wq_fzb": "王建国", "wq_ts": "赵敏",
                 "tj_fzb": "陈志强", "tj_sj": "孙静", "pc_01": "李明"}

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


def bootstrap_users(session: Session, demo: bool) -> tuple[list[tuple[str, str, str | None]], str] | None:
    """If there is no user yet: create ``admin`` (city office) and, with ``demo``, the demo
    accounts, all with one new random password. Returns (accounts, password) or None."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = random_password()
    cities = session.scalars(select(Organisation.code).where(Organisation.level == "city")).all()
    accounts: list[tuple[str, str, str | None]] = [("admin", "city_office", cities[0] if len(cities) == 1 else None)]
    if demo:
        known = set(session.scalars(select(Organisation.code)).all())
        accounts += [a for a in DEMO_USERS if a[2] is None or a[2] in known]
    for username, role, scope in accounts:
        create_user(session, username, role, scope, password=password, display_name=DISPLAY_NAMES.get(username, ""))
        audit.append(session, "user.create", actor="serve", target_type="user", target_id=username,
                     detail={"role": role, "scope": scope, "bootstrap": True})
    session.commit()
    return accounts, password
