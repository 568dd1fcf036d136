"""The caller and what its place in the hierarchy entitles it to (pure, given organisations)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Organisation

# What each role may do, beyond reading what its scope covers.
WRITE_ROLES = frozenset({"agency_clerk", "agency_legal"})
AGENCY_ROLES = frozenset({"agency_clerk", "agency_legal"})
DISTRICT_ROLES = frozenset({"district_office", "complaint_handler"})
CITY_ROLES = frozenset({"city_office", "auditor"})
AUDIT_ROLES = frozenset({"auditor"})
# The three administrators (三权分立): no organisation, no case file.
ADMIN_ROLES = frozenset({"sys_admin", "security_admin", "audit_admin"})
# The level a role's scope must be.
SCOPE_LEVEL = {"agency_clerk": "agency", "agency_legal": "agency", "district_office": "district",
               "complaint_handler": "district", "city_office": "city", "auditor": "city", "reviewer": None,
               "sys_admin": None, "security_admin": None, "audit_admin": None}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: user, role and the organisations it may see.

    ``agencies`` is None when every organisation is visible (city-wide roles), otherwise the
    set of agency codes (empty for a reviewer until files are assigned to it).
    ``index_scope`` is the same limit in the index's terms: organisation codes matched against
    a document's agency, district and city.
    """

    user_id: int
    username: str
    role: str
    scope_code: str | None
    agencies: frozenset[str] | None
    via: str  # "token" or "session"

    @property
    def index_scope(self) -> list[str] | None:
        if self.agencies is None:
            return None
        if self.role in AGENCY_ROLES | DISTRICT_ROLES and self.scope_code:
            return [self.scope_code]
        return sorted(self.agencies)

    def sees_agency(self, agency_code: str) -> bool:
        return self.agencies is None or agency_code in self.agencies


def visible_agencies(session: Session, role: str, scope_code: str | None) -> frozenset[str] | None:
    """Agency codes a role at ``scope_code`` may see; None for everything."""
    if role in CITY_ROLES:
        return None
    if role in ADMIN_ROLES:
        return frozenset()  # administrators read no case file, whatever their scope
    if role == "reviewer" or not scope_code:
        return frozenset()  # reviewers see assigned files only (issue 5)
    if role in AGENCY_ROLES:
        return frozenset({scope_code})
    children = session.scalars(select(Organisation.code).where(
        Organisation.parent_code == scope_code, Organisation.level == "agency")).all()
    # and the district itself: warnings about the district office (an overdue 转办 task) are its own
    return frozenset(children) | {scope_code}


def principal_for(session: Session, user, via: str) -> Principal:
    """The Principal of an active user."""
    return Principal(user_id=user.id, username=user.username, role=user.role, scope_code=user.scope_code,
                     agencies=visible_agencies(session, user.role, user.scope_code), via=via)
