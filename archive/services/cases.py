"""Cases and stages: create, record a completed stage, read, list."""
from __future__ import annotations

import datetime as dt
import re
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from archive.db import compare_and_set
from archive.deadlines.service import attach_deadlines
from archive.deadlines.warnings import check_case_now
from archive.errors import BEFORE_START, Conflict, NOT_PARTY_ID, NotFound, REQUIRED, SUSPENSION_OPEN, ValidationFailed
from archive.jobs import enqueue
from archive.models import CASE_KINDS, PROCEDURES, STAGES, STAGES_BY_KIND, Case, CasePeriod, Organisation, Power, Stage, StageOfficer
from archive.clock import SHANGHAI, as_aware, now as server_now
from archive.services.caller import Caller

# Unified social credit code (统一社会信用代码, 18 characters) or resident ID number (18 or 15).
PARTY_ID = re.compile(r"^(?:[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}|\d{17}[\dX]|\d{15})$")
CLOCK_SKEW = dt.timedelta(minutes=5)


def create_case(session: Session, data: dict, clock: Callable[[], dt.datetime] | None = None) -> Case:
    """A new case; the number is unique, the agency must exist, and it cannot open after today."""
    today = (clock or server_now)().astimezone(SHANGHAI).date()
    if data["opened_on"] > today:
        raise ValidationFailed("立案日期不能晚于今天 / the case cannot open after today",
                               {"opened_on": [f"立案日期不能晚于今天（{today:%Y-%m-%d}）"]})
    agency = session.get(Organisation, data["agency"])
    if agency is None or agency.level != "agency":
        raise ValidationFailed("unknown agency", {"agency": [f"没有这个执法机关 / no agency with code {data['agency']!r}"]})
    if data["kind"] not in CASE_KINDS:
        raise ValidationFailed("unknown case kind", {"kind": [f"请从列表中选择 / one of {', '.join(CASE_KINDS)}"]})
    if data.get("procedure", "general") not in PROCEDURES:
        raise ValidationFailed("unknown procedure", {"procedure": [f"请从列表中选择 / one of {', '.join(PROCEDURES)}"]})
    party_id = (data.get("party_id") or "").strip().upper()
    if party_id and not PARTY_ID.match(party_id):
        raise ValidationFailed("invalid party ID", {"party_id": [NOT_PARTY_ID]})
    number = data["number"].strip()
    if not number:
        raise ValidationFailed("case number is empty", {"number": [REQUIRED]})
    pattern = number_pattern(agency.case_number_pattern)
    if pattern is not None and not pattern.fullmatch(number):
        raise ValidationFailed("the case number does not follow the agency's numbering",
                               {"number": [f"案号格式应为 {agency.case_number_pattern}（YYYY 为年份，N 为序号）"]})
    from archive.deadlines.rules import load_rules

    sector = (data.get("sector") or "").strip()
    known = load_rules().at(data["opened_on"]).sectors
    if sector not in known:
        raise ValidationFailed("unknown sector", {"sector": [f"请从列表中选择 / one of: {', '.join(sorted(k for k in known if k))} "
                                                             "(or empty for the general table)"]})
    power = (data.get("power") or "").strip()
    if not power:
        raise ValidationFailed("请选择案件所依据的职权 / the power is required", {"power": ["请选择职权"]})
    listed = set(session.scalars(select(Power.code).where(Power.agency_code == agency.code)))
    if listed and power not in listed:  # an agency with basic information acts under its powers
        raise ValidationFailed("unknown power", {"power": [
            "不在本机关的职权清单中 / not in the agency's list of powers (basic information)"]})
    if session.scalar(select(func.count()).select_from(Case).where(Case.number == number)):
        raise Conflict(f"case {number} exists already", {"number": ["已存在 / already exists"]})
    case = Case(number=number, agency_code=agency.code, kind=data["kind"],
                procedure=data.get("procedure") or "general", power_code=power,
                party_name=(data.get("party_name") or "").strip(), party_id=party_id,
                summary=data.get("summary") or "", opened_on=data["opened_on"], created_at=server_now(),
                party_type=data.get("party_type") or "organisation", sector=sector)
    session.add(case)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"case {number} exists already", {"number": ["已存在 / already exists"]}) from exc
    manifest_changed(session, case)
    return case


def number_pattern(template: str | None) -> re.Pattern[str] | None:
    """An agency's numbering as a regex: ``津武市监罚〔YYYY〕N号`` → year of four digits, a
    sequence number of digits; everything else literal. None when no numbering is configured."""
    if not template:
        return None
    out = []
    i = 0
    while i < len(template):
        if template.startswith("YYYY", i):
            out.append(r"(?:19|20)\d{2}")
            i += 4
        elif template[i] == "N":
            out.append(r"[1-9]\d{0,6}")
            i += 1
        else:
            out.append(re.escape(template[i]))
            i += 1
    return re.compile("".join(out))


def get_case(session: Session, case_id: str) -> Case:
    """The case with its stages and documents, or NotFound."""
    case = session.scalar(select(Case).where(Case.id == case_id)
                          .options(selectinload(Case.stages), selectinload(Case.documents)))
    if case is None:
        raise NotFound("no such case")
    return case


def check_recorded(case: Case, stage: str) -> None:
    """Documents go into a stage the case has recorded (when it was completed); 422 otherwise."""
    check_stage(case, stage)
    if stage not in {s.stage for s in case.stages}:
        raise ValidationFailed("stage not recorded yet",
                               {"stage": [f"先登记“{stage}”环节的完成时间，再上传该环节的文书 / record the stage first"]})


def check_stage(case: Case, stage: str) -> None:
    """Refuse a stage that is unknown or not part of this kind of case."""
    if stage not in STAGES:
        raise ValidationFailed("unknown stage", {"stage": [f"请从列表中选择 / one of {', '.join(STAGES)}"]})
    if stage not in STAGES_BY_KIND[case.kind]:
        raise ValidationFailed("stage not used for this kind of case",
                               {"stage": [f"此类案件没有该环节 / a {case.kind} case has stages {', '.join(STAGES_BY_KIND[case.kind])}"]})


def record_stage(session: Session, case: Case, stage: str, completed_at: dt.datetime,
                 recorded_by: str | None = None, clock: Callable[[], dt.datetime] | None = None,
                 penalty_types: list[str] | None = None, fine_amount: int | None = None,
                 officers: list[str] | None = None) -> Stage:
    """Record that ``stage`` was completed at ``completed_at``; once only (write-once). The
    decision stage also records what was imposed (penalty types, fine); any stage the officers
    who performed it, by certificate number from the agency's registry (执法人员)."""
    check_stage(case, stage)
    named = _registered_officers(session, case.agency_code, officers or [])
    if stage != "decision" and (penalty_types or fine_amount is not None):
        raise ValidationFailed("penalties are recorded with the decision stage",
                               {"penalty_types": ["只有“处罚决定”环节登记处罚种类和罚款 / only with stage decision"]})
    if stage == "decision":
        import json

        case.penalty_types = json.dumps(sorted(set(penalty_types or [])))
        case.fine_amount = fine_amount
    completed_at = as_aware(completed_at)
    recorded_at = (clock or server_now)()
    check_completed(case, stage, completed_at, recorded_at)
    if any(s.stage == stage for s in case.stages):
        raise Conflict(f"stage {stage} is recorded already; a correction needs an approved amendment")
    row = Stage(case_id=case.id, stage=stage, completed_at=completed_at, recorded_at=recorded_at,
                recorded_by=recorded_by)
    case.changed_at = recorded_at  # the next incremental warning scan looks at it again
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"stage {stage} is recorded already") from exc
    for cert, name in named:
        session.add(StageOfficer(stage_id=row.id, case_id=case.id, certificate_no=cert, name=name))
    if named:
        session.flush()
        session.refresh(row, ["officers"])
    case.stages.append(row)
    manifest_changed(session, case)
    return row


MAX_OFFICERS = 20


def _registered_officers(session: Session, agency_code: str, certificates: list[str]) -> list[tuple[str, str]]:
    """(certificate number, name) of the officers named, each in the agency's registry (422
    naming the unknown ones); a number named twice counts once."""
    wanted = list(dict.fromkeys(c.strip() for c in certificates if c and c.strip()))
    if len(wanted) > MAX_OFFICERS:
        raise ValidationFailed("执法人员过多 / too many officers", {"officers": [f"最多 {MAX_OFFICERS} 人"]})
    if not wanted:
        return []
    from archive.models import Officer

    found = {o.certificate_no: o.name for o in session.scalars(
        select(Officer).where(Officer.agency_code == agency_code, Officer.certificate_no.in_(wanted)))}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise ValidationFailed("执法人员不在本机关的执法人员名录中 / unknown officers",
                               {"officers": [f"执法证号 {c} 不在本机关的执法人员名录中" for c in unknown]})
    return [(c, found[c]) for c in wanted]


def check_completed(case: Case, stage: str, completed_at: dt.datetime, now: dt.datetime) -> None:
    """A stage cannot be completed in the future, before the case was opened, or out of the
    order of the stages already recorded (a later stage before an earlier one); 422 naming
    completed_at, in Chinese."""
    from archive.labels import stage_name

    def refuse(why: str) -> None:
        raise ValidationFailed(why, {"completed_at": [why]})

    when = completed_at.astimezone(SHANGHAI)
    if completed_at > now + CLOCK_SKEW:
        refuse("完成时间不能晚于现在")
    if when.date() < case.opened_on:
        refuse(f"完成时间不能早于立案日期（{case.opened_on:%Y-%m-%d}）")
    order = STAGES_BY_KIND[case.kind]
    mine = order.index(stage)
    for other in case.stages:
        if other.stage == stage or other.stage not in order:
            continue
        theirs = order.index(other.stage)
        at = other.completed_at.astimezone(SHANGHAI)
        if theirs < mine and other.completed_at > completed_at:
            refuse(f"完成时间不能早于“{stage_name(other.stage)}”环节的完成时间（{at:%Y-%m-%d %H:%M}）")
        if theirs > mine and other.completed_at < completed_at:
            refuse(f"完成时间不能晚于“{stage_name(other.stage)}”环节的完成时间（{at:%Y-%m-%d %H:%M}）")


LATE_RULES = ("late_upload", "decision_overdue", "major_not_filed")


def list_cases(session: Session, *, agency: list[str] | None = None, kind: str | None = None,
               number: str | None = None, stage: str | None = None, opened_from: dt.date | None = None,
               opened_to: dt.date | None = None, open_warnings: bool | None = None, late: bool | None = None,
               page: int = 1, per_page: int = 20) -> tuple[int, list[Case]]:
    """(total, page of cases), newest first; ``agency`` is a list of agency codes. ``stage``: the
    stage has been recorded; ``open_warnings``: has (or has no) open warning; ``late``: has a
    warning about lateness (late upload, decision overdue, record not filed), handled or not."""
    from archive.models import WarningRecord

    q = select(Case)
    if agency is not None:
        q = q.where(Case.agency_code.in_(agency))
    if kind:
        q = q.where(Case.kind == kind)
    if number:
        q = q.where(Case.number.contains(number, autoescape=True))
    if stage:
        q = q.where(select(Stage.id).where(Stage.case_id == Case.id, Stage.stage == stage).exists())
    if opened_from:
        q = q.where(Case.opened_on >= opened_from)
    if opened_to:
        q = q.where(Case.opened_on <= opened_to)
    if open_warnings is not None:
        has = select(WarningRecord.id).where(WarningRecord.case_id == Case.id, WarningRecord.status == "open").exists()
        q = q.where(has if open_warnings else ~has)
    if late is not None:
        has = select(WarningRecord.id).where(WarningRecord.case_id == Case.id,
                                             WarningRecord.rule.in_(LATE_RULES)).exists()
        q = q.where(has if late else ~has)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Case.opened_on.desc(), Case.number)
                           .offset((page - 1) * per_page).limit(per_page)
                           .options(selectinload(Case.stages), selectinload(Case.documents))).all()
    return total, list(rows)


def agencies_under(session: Session, code: str) -> list[str]:
    """Codes of the agencies at or below organisation ``code``."""
    org = session.get(Organisation, code)
    if org is None:
        raise ValidationFailed("unknown organisation", {"agency": [f"no organisation {code!r}"]})
    frontier, out = [org], []
    while frontier:
        o = frontier.pop()
        if o.level == "agency":
            out.append(o.code)
        frontier.extend(session.scalars(select(Organisation).where(Organisation.parent_code == o.code)))
    return out


def add_period(session: Session, case: Case, data: dict, *, by: str) -> CasePeriod:
    """Record an approved extension of the decision period or the start of a suspension."""
    errors: dict[str, list[str]] = {}
    kind = data.get("kind")
    stages = {s.stage for s in case.stages}
    if case.kind != "penalty" or "filing" not in stages:
        errors["kind"] = ["只有已立案的行政处罚案件有决定期限 / only a filed penalty case has a decision period"]
    elif "decision" in stages:
        errors["kind"] = ["已作出决定，不能再延长或中止 / the decision has been made"]
    if not (data.get("approved_by") or "").strip():
        errors["approved_by"] = ["请填写批准的负责人 / who approved it (负责人)"]
    if not (data.get("reason") or "").strip():
        errors["reason"] = [REQUIRED]
    if kind == "extension":
        if not data.get("days") or not 1 <= data["days"] <= 365:
            errors["days"] = ["1 到 365 天 / 1 to 365 days"]
    elif kind == "suspension":
        start, end = data.get("start_on"), data.get("end_on")
        if start is None:
            errors["start_on"] = [REQUIRED]
        elif end is not None and end < start:
            errors["end_on"] = [BEFORE_START]
        if session.scalar(select(func.count()).select_from(CasePeriod).where(
                CasePeriod.case_id == case.id, CasePeriod.kind == "suspension", CasePeriod.end_on.is_(None))):
            errors["start_on"] = [SUSPENSION_OPEN]
    else:
        errors["kind"] = ["请选择延长或中止 / extension or suspension"]
    if errors:
        raise ValidationFailed("the change to the decision period is not valid", errors)
    now = server_now()
    p = CasePeriod(case_id=case.id, kind=kind, days=data.get("days") if kind == "extension" else None,
                   start_on=data.get("start_on") if kind == "suspension" else None,
                   end_on=data.get("end_on") if kind == "suspension" else None,
                   approved_by=data["approved_by"].strip(), reason=data["reason"].strip(), recorded_by=by,
                   recorded_at=now)
    session.add(p)
    case.changed_at = now
    try:
        session.flush()  # a partial unique index keeps one open suspension per case
    except IntegrityError as exc:
        session.rollback()
        raise ValidationFailed("the change to the decision period is not valid",
                               {"start_on": [SUSPENSION_OPEN]}) from exc
    manifest_changed(session, case)
    return p


def end_suspension(session: Session, case: Case, period_id: int, end_on: dt.date) -> CasePeriod:
    p = session.get(CasePeriod, period_id)
    if p is None or p.case_id != case.id:
        raise NotFound("no such period")
    if p.kind != "suspension" or p.end_on is not None:
        raise Conflict("only an open suspension can be ended")
    if p.start_on is not None and end_on < p.start_on:
        raise ValidationFailed("the suspension ends before it starts", {"end_on": [BEFORE_START]})
    # compare-and-set: of two concurrent ends, one wins
    if not compare_and_set(session, update(CasePeriod).where(CasePeriod.id == p.id, CasePeriod.end_on.is_(None))
                          .values(end_on=end_on)):
        session.rollback()
        raise Conflict("only an open suspension can be ended")
    session.refresh(p)
    case.changed_at = server_now()
    manifest_changed(session, case)
    return p


def manifest_changed(session: Session, case: Case) -> None:
    """Queue the rewrite of the case's manifest object in the transaction of the change (a
    worker writes it after the commit; a rolled-back change queues nothing)."""
    enqueue(session, "manifest", case.id)


def scoped_case(c: Caller, case_id: str, *, write: bool = False) -> Case:
    """The case if the caller may see it (write to it), with its stages, documents and
    deadlines: else 404 (403 if visible). The scope is decided on the case row alone, so a
    refused id and a missing one cost the same (one query, one audit entry)."""
    c.case_for(c.session.get(Case, case_id), case_id, write=write)
    return attach_deadlines(c.session, get_case(c.session, case_id))


def case_changed(c: Caller, case_id: str) -> None:
    """After a committed change to a case: check its deadlines at once (a secondary step that
    never undoes the change; the manifest job was committed with the change)."""
    check_case_now(c.sessions, case_id)


# -- use cases: the API and the pages call these with the request's Caller ----------------------

def open_case(c: Caller, data: dict) -> Case:
    """Create a case (inspection record or penalty case) for the caller's own agency."""
    from archive.auth import policy

    p = c.principal
    if not policy.creates_cases(p):
        c.refuse("case", data.get("number") or "new", visible=True, why=f"a {p.role} does not create cases")
    if not policy.writes_agency(p, data["agency"]):
        c.refuse("agency", data["agency"], visible=True, why="cases are created by their own agency")
    with c.transaction():
        case = create_case(c.session, data)
    c.audit("case.create", "case", case.id, number=case.number)
    return get_case(c.session, case.id)


def view_case(c: Caller, case_id: str) -> Case:
    """A case the caller may read, with its stages, documents and deadlines; the view is audited."""
    case = scoped_case(c, case_id)
    c.audit("case.view", "case", case_id)
    return case


def complete_stage(c: Caller, case_id: str, data: dict) -> Case:
    """Record that a stage was completed, with when it happened (the decision with its penalties)."""
    case = scoped_case(c, case_id, write=True)
    with c.transaction():
        row = record_stage(c.session, case, data["stage"], data["completed_at"], recorded_by=c.username,
                           penalty_types=data.get("penalty_types"), fine_amount=data.get("fine_amount"),
                           officers=data.get("officers"))
    c.audit("stage.record", "case", case_id, stage=data["stage"],
            **({"officers": [o.certificate_no for o in row.officers]} if row.officers else {}))
    case_changed(c, case_id)
    return attach_deadlines(c.session, get_case(c.session, case_id))


def change_period(c: Caller, case_id: str, data: dict) -> CasePeriod:
    """Record an approved extension (``days``) or a suspension (``start_on``, ``end_on`` when known)."""
    case = scoped_case(c, case_id, write=True)
    with c.transaction():
        period = add_period(c.session, case, data, by=c.username)
    c.audit("case.period", "case", case_id, kind=period.kind, days=period.days,
            start_on=str(period.start_on), end_on=str(period.end_on))
    case_changed(c, case_id)
    return period


def end_period(c: Caller, case_id: str, period_id: int, end_on: dt.date) -> CasePeriod:
    """End an open suspension: the decision period runs again, less the suspended days."""
    case = scoped_case(c, case_id, write=True)
    with c.transaction():
        period = end_suspension(c.session, case, period_id, end_on)
    c.audit("case.period_end", "case", case_id, period=period_id, end_on=str(period.end_on))
    case_changed(c, case_id)
    return period
