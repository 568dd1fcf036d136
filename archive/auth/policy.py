"""Who may do what: the one place the archive decides authorization (pure, given a Principal).

Every route asks these functions; the handlers and services hold no role lists of their own.
Two answers are possible for a refusal, and the route × role matrix test checks each:
*hidden* (404: the caller may not know the record exists) and *forbidden* (403: the caller
sees the record but its role may not do this to it).
"""
from __future__ import annotations

from archive.auth.principal import ADMIN_ROLES, AUDIT_ROLES, CITY_ROLES, WRITE_ROLES, Principal

# Roles that supervise from above an agency: they read reviews and scores, decide amendments…
OFFICE_ROLES = frozenset({"district_office", "city_office"})
COMPLAINT_ROLES = frozenset({"complaint_handler", "district_office", "city_office"})
REVIEW_READER_ROLES = OFFICE_ROLES | AUDIT_ROLES
FIXITY_ROLES = frozenset({"agency_legal", "district_office", "city_office", "auditor"})


def reads_agency(p: Principal, agency_code: str) -> bool:
    """The caller's scope covers files of ``agency_code``."""
    return p.sees_agency(agency_code)


def writes_agency(p: Principal, agency_code: str) -> bool:
    """The caller records cases, stages, uploads and amendment requests for ``agency_code``."""
    return p.role in WRITE_ROLES and p.sees_agency(agency_code)


def creates_cases(p: Principal) -> bool:
    return p.role in WRITE_ROLES


def reads_audit(p: Principal) -> bool:
    """The audit trail, everyone's (the administrators' too): the audit administrator and the
    city's supervision (监察) auditors; both only read and verify it."""
    return p.role in AUDIT_ROLES or p.role == "audit_admin"


def reads_security_alerts(p: Principal) -> bool:
    """Alerts about the archive's own integrity (a broken audit chain) go to the audit administrator."""
    return p.role == "audit_admin"


def reads_cases(p: Principal) -> bool:
    """Lists and searches of case files: every business role within its scope; the three
    administrators never (三权分立: they run the system, they do not read its files)."""
    return p.role not in ADMIN_ROLES


# -- the three administrators (三权分立) ------------------------------------------------------------

def secures_accounts(p: Principal) -> bool:
    """安全管理员: roles, unlocks, second-factor resets, the password policy; no accounts created."""
    return p.role == "security_admin"


def secures_account(p: Principal, role: str, username: str) -> bool:
    """The security administrator acts on every account but its own."""
    return p.role == "security_admin" and p.username != username


def assigns_role(p: Principal, from_role: str, to_role: str) -> bool:
    """Roles are the security administrator's to change, between business roles only: an
    administrator's role is set by the operator (CLI), never from a page."""
    return p.role == "security_admin" and from_role not in ADMIN_ROLES and to_role not in ADMIN_ROLES


def handles_complaints(p: Principal) -> bool:
    return p.role in COMPLAINT_ROLES


def reads_fixity(p: Principal) -> bool:
    return p.role in FIXITY_ROLES


# Statistics (履职比例, scores): about agencies, for the agencies themselves and the offices
# above them; not for reviewers or complaint handlers.
STATS_ROLES = frozenset({"agency_clerk", "agency_legal", "district_office", "city_office", "auditor"})


def reads_stats(p: Principal) -> bool:
    return p.role in STATS_ROLES


# Basic information: the district (or city) office imports directly; an agency asks for a change
# that its district office approves.
def imports_basic_info(p: Principal) -> bool:
    return p.role in ("district_office", "city_office")


def requests_basic_info_change(p: Principal) -> bool:
    return p.role in ("agency_clerk", "agency_legal")


def decides_basic_info_change(p: Principal, agency_code: str) -> bool:
    return decides_basic_info_changes(p) and p.sees_agency(agency_code)


def decides_basic_info_changes(p: Principal) -> bool:
    """A district office decides its agencies' change requests."""
    return p.role == "district_office"


def sets_thresholds(p: Principal) -> bool:
    """The pass mark of a year's performance ratio is the city's assessment standard."""
    return p.role == "city_office"


# -- sampling and review ------------------------------------------------------------------------

# Accounts are the system administrator's (三权分立): every business role's, anywhere; never an
# administrator's (those are the operator's, from the command line).
BUSINESS_ROLES = frozenset({"agency_clerk", "agency_legal", "district_office", "city_office", "auditor",
                            "complaint_handler", "reviewer"})


def manages_accounts(p: Principal) -> bool:
    return p.role == "sys_admin"


def manages_account(p: Principal, role: str, scope_code: str | None, scope_parent: str | None) -> bool:
    """The caller may create, disable, reset or end the sessions of an account of ``role`` at
    ``scope_code`` (whose parent organisation is ``scope_parent``)."""
    return p.role == "sys_admin" and role in BUSINESS_ROLES


def reads_complaint(p: Principal, district_code: str | None, agency_code: str | None) -> bool:
    """A complaint is seen by the city, its district, and whoever sees the agency it names."""
    return p.agencies is None or (district_code is not None and district_code == p.scope_code) or \
        (agency_code is not None and agency_code in p.agencies)


def loads_calendar(p: Principal) -> bool:
    """The year's holidays and make-up working days (the State Council's notice): system
    configuration, the system administrator's to load."""
    return p.role == "sys_admin"


def sets_plans(p: Principal) -> bool:
    return p.role == "city_office"


def reads_plan(p: Principal, district_code: str | None) -> bool:
    """City-wide roles read every plan; a district office its own district's and the city-wide
    ones (of those, only its own agencies' populations, samples and assignments)."""
    if p.role in CITY_ROLES:
        return True
    return p.role == "district_office" and district_code in (None, p.scope_code)


def plan_agencies(p: Principal) -> frozenset[str] | None:
    """The agencies whose case numbers and reviewers a plan shows to the caller (None: all)."""
    return None if p.role in CITY_ROLES else (p.agencies or frozenset())


def draws_plan(p: Principal, district_code: str | None) -> bool:
    """Freezing and drawing: the city office, or the office of the plan's own district."""
    return p.role == "city_office" or (p.role == "district_office" and district_code == p.scope_code)


def lists_reviews(p: Principal) -> bool:
    """Who may list reviews at all: reviewers (their own), the offices above, auditors."""
    return p.role == "reviewer" or p.role in REVIEW_READER_ROLES


def reads_review(p: Principal, reviewer: str, agency_code: str) -> bool:
    """A review (who scores a file and how) is read by its reviewer and by the offices above
    the file's agency and auditors — never by the agency whose file it is."""
    if p.username == reviewer:
        return True
    return p.role in REVIEW_READER_ROLES and p.sees_agency(agency_code)


def scores_review(p: Principal, reviewer: str) -> bool:
    """Only the assigned reviewer scores a file; the offices that read the review do not."""
    return p.username == reviewer


def declares_conflicts(p: Principal) -> bool:
    return p.role == "reviewer"


# -- warnings and amendments --------------------------------------------------------------------

HANDLER_OF_LEVEL = {1: "agency_legal", 2: "district_office", 3: "city_office"}


def handles_warning(p: Principal, level: int, agency_code: str) -> bool:
    """Level 1 by the agency's legal unit, level 2 by the district office, level 3 by the city."""
    return p.role == HANDLER_OF_LEVEL.get(level) and p.sees_agency(agency_code)


def decides_amendment(p: Principal, supervising_role: str, agency_code: str, requested_by: str) -> bool:
    """The supervising level of the agency decides; never the requester."""
    return p.role == supervising_role and p.sees_agency(agency_code) and p.username != requested_by


# -- what a role works with (the pages' navigation and the API's lists agree on these) ----------
PLAN_ROLES = frozenset({"city_office", "district_office", "auditor"})
TASK_ROLES = frozenset({"agency_clerk", "agency_legal", "district_office", "city_office", "auditor"})
WARNING_ROLES = frozenset({"agency_clerk", "agency_legal", "district_office", "city_office", "auditor"})
AMENDMENT_ROLES = frozenset({"agency_clerk", "agency_legal", "district_office", "city_office", "auditor"})
FILING_LIST_ROLES = frozenset({"district_office", "city_office", "auditor"})


def reads_plans(p: Principal) -> bool:
    """Sampling plans are read by the offices and the auditor (a clerk gets 403 on the page and the API alike)."""
    return p.role in PLAN_ROLES


def works_tasks(p: Principal) -> bool:
    """Supervision tasks (交办转办) are worked by agencies and offices, read by the auditor."""
    return p.role in TASK_ROLES


def reads_warnings(p: Principal) -> bool:
    return p.role in WARNING_ROLES


def reads_amendments(p: Principal) -> bool:
    return p.role in AMENDMENT_ROLES


def lists_filings(p: Principal) -> bool:
    return p.role in FILING_LIST_ROLES


def works_from_assignments(p: Principal) -> bool:
    """A reviewer works from its assignments, not from a list of cases."""
    return p.role == "reviewer"


def scope_filter(p: Principal, agency_column, district_column=None):
    """The one WHERE clause that limits a list query to the caller's scope: None for city-wide
    roles (no limit); else the caller's agencies (or, given ``district_column``, rows of its own
    district too)."""
    from sqlalchemy import false, or_

    if p.agencies is None:
        return None
    agencies = sorted(p.agencies)
    clause = agency_column.in_(agencies) if agencies else false()
    if district_column is not None and p.scope_code:
        clause = or_(district_column == p.scope_code, clause)
    return clause


def scoped(query, p: Principal, agency_column, district_column=None):
    """``query`` limited to the caller's scope (``scope_filter``)."""
    clause = scope_filter(p, agency_column, district_column)
    return query if clause is None else query.where(clause)


def narrowed_agencies(p: Principal, requested: list[str] | None) -> list[str] | None:
    """The agencies a list is limited to: those asked for (None: any) within the caller's scope."""
    if p.agencies is None:
        return requested
    return sorted(p.agencies if requested is None else set(requested) & p.agencies)


# -- supervision tasks (交办转办) and 备案 reviews -----------------------------------------------------

def assigning_kind(p: Principal) -> str | None:
    """What the caller may create: the city office transfers (转办), a district office assigns (交办)."""
    return {"city_office": "transfer", "district_office": "assign"}.get(p.role)


def answers_task(p: Principal, kind: str, assignee_org: str) -> bool:
    """The assignee answers: an agency's staff for a 交办, the district office for a 转办."""
    if kind == "assign":
        return p.role in WRITE_ROLES and p.scope_code == assignee_org
    return p.role == "district_office" and p.scope_code == assignee_org


def decides_task(p: Principal, kind: str, assigner_org: str) -> bool:
    """The assigner accepts or sends back: the city office (转办) or the district office (交办)."""
    return p.role == ("city_office" if kind == "transfer" else "district_office") and p.scope_code == assigner_org


def reads_task(p: Principal, assigner_org: str, assignee_org: str) -> bool:
    """The assigner's and the assignee's organisation, the city (it supervises all), auditors."""
    if p.role in CITY_ROLES:
        return True
    if p.role == "district_office" and p.scope_code in (assigner_org, assignee_org):
        return True
    return p.role in WRITE_ROLES and p.scope_code == assignee_org


def reviews_filing(p: Principal, agency_code: str) -> bool:
    """A major case's 备案 is reviewed by the office of its agency's district."""
    return p.role == "district_office" and p.sees_agency(agency_code)


def reads_all_tasks(p: Principal) -> bool:
    """The city office and auditors see every supervision task (``role=all``)."""
    return p.role in CITY_ROLES


def receives_tasks(p: Principal) -> bool:
    """Agencies (交办) and district offices (转办) are assigned tasks to answer."""
    return p.role in WRITE_ROLES or p.role == "district_office"


def warning_level(p: Principal) -> int | None:
    """The warning level the caller handles: 1 an agency, 2 a district office, 3 the city office."""
    return {"agency_legal": 1, "agency_clerk": 1, "district_office": 2, "city_office": 3}.get(p.role)


def reviews_major_filings(p: Principal) -> bool:
    """A district office reviews its agencies' major-case 备案 (``reviews_filing`` for one case)."""
    return p.role == "district_office"


def requests_amendments(p: Principal) -> bool:
    """Agencies' staff ask for amendments of their documents."""
    return p.role in WRITE_ROLES


def handles_district_complaints(p: Principal) -> bool:
    """The complaint handlers and the office of a district work its open complaints."""
    return p.role in ("complaint_handler", "district_office")


def supervises(p: Principal) -> bool:
    """The district and city offices decide what their agencies ask (amendments, corrections)."""
    return p.role in OFFICE_ROLES


def transfers_cases(p: Principal) -> bool:
    """移交: the district office exports its agencies' filed cases for the archives."""
    return p.role == "district_office"


def writes_cases(p: Principal) -> bool:
    """Agencies' clerks and legal staff create cases and upload (in their own agency)."""
    return p.role in WRITE_ROLES


def appraises(p: Principal) -> bool:
    """鉴定: the district and city offices appraise their agencies' filed cases whose retention
    has ended (keep longer, propose disposal) and read the 销毁清册."""
    return p.role in OFFICE_ROLES


def approves_disposal(p: Principal, proposed_role: str, agency_code: str) -> bool:
    """A disposal is approved by another office role than the one that proposed it (a district
    office's proposal by the city office, and the other way round), within its scope."""
    return p.role in OFFICE_ROLES and p.role != proposed_role and p.sees_agency(agency_code)


def publishes_briefings(p: Principal) -> bool:
    """简报: a district office publishes a month's briefing to its agencies, the city office to
    the districts."""
    return p.role in OFFICE_ROLES


def reads_briefings(p: Principal) -> bool:
    """Agencies' people and the offices read the briefings published to their organisation."""
    return p.role in WRITE_ROLES or p.role in OFFICE_ROLES
