"""Major-case 备案 review (重大案件备案审查).

When an agency files the 备案 of a major case (a ``filing_record`` document in a penalty case
the rules make major), the case enters its district office's queue. The office reviews it against
the checklist kept as data in ``forms/filing_review.json``; the archive pre-checks each item from
the case file (stages, documents, the officers of the basic information, the rules' period), and
the reviewer confirms or overrules each, giving a reason for every problem. Accepted, or problems
found: then a task (交办) on the agency asks it to put them right. One review per case, enforced
by a unique key: of two reviews at once one is stored, the other answers 409.
"""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

import forms
from archive.auth import policy
from archive.auth.principal import Principal
from archive.errors import Conflict, Forbidden, NotFound, ValidationFailed
from archive.models import Case, Document, FilingReview, Officer, Stage
from archive.clock import SHANGHAI, now as server_now
from archive.deadlines.rules import load_rules
from archive.deadlines.store import load_calendar
from archive.services.caller import Caller
from archive.labels import FILING_OUTCOME_NAMES as OUTCOME_NAMES  # noqa: F401  (the names its callers know)

CHECKLIST_FILE = Path(forms.__file__).with_name("filing_review.json")


@lru_cache(maxsize=1)
def checklist_items() -> tuple[dict, ...]:
    return tuple(json.loads(CHECKLIST_FILE.read_text(encoding="utf-8"))["items"])


def reviews_filings(p: Principal, agency_code: str) -> bool:
    return policy.reviews_filing(p, agency_code)


def reads_filings(p: Principal) -> bool:
    return policy.lists_filings(p)


def _filed(session: Session, form: str):
    """case id → first upload of its 备案 report."""
    return select(Document.case_id, func.min(Document.uploaded_at).label("filed_at")).where(
        Document.form_code == form).group_by(Document.case_id).subquery()


def queue(session: Session, agencies: frozenset[str] | None, rules, status: str = "pending",
          case_id: str | None = None) -> list[dict]:
    """Major penalty cases whose 备案 was filed, in scope: ``pending`` (not reviewed yet),
    ``reviewed``, or ``all``; oldest filing first (``case_id``: that case only). One query: the
    decision stage is joined, not read per case."""
    form = rules.versions[-1].filing_record[0]
    filed = _filed(session, form)
    decision = aliased(Stage)
    q = select(Case, filed.c.filed_at, FilingReview, decision.completed_at).join(
        filed, filed.c.case_id == Case.id).outerjoin(FilingReview, FilingReview.case_id == Case.id).outerjoin(
        decision, and_(decision.case_id == Case.id, decision.stage == "decision")).where(Case.kind == "penalty")
    if agencies is not None:
        q = q.where(Case.agency_code.in_(sorted(agencies)))
    if case_id is not None:
        q = q.where(Case.id == case_id)
    if status == "pending":
        q = q.where(FilingReview.id.is_(None))
    elif status == "reviewed":
        q = q.where(FilingReview.id.is_not(None))
    out = []
    for case, filed_at, review, decided in session.execute(q.order_by(filed.c.filed_at, Case.number)):
        ruleset = rules.at((decided or filed_at).astimezone(SHANGHAI).date())
        if not ruleset.is_major(json.loads(case.penalty_types or "[]"), case.fine_amount, case.party_type, case.sector):
            continue
        out.append({"case": case, "filed_at": filed_at, "decided_at": decided, "review": review})
    return out


def entry(session: Session, case: Case, rules) -> dict | None:
    """The queue's entry of one case (None: not a major case with a filed 备案)."""
    found = queue(session, None, rules, "all", case_id=case.id)
    return found[0] if found else None


def check(session: Session, case: Case, rules, calendar, certificate: str = "") -> list[dict]:
    """Each checklist item with the archive's pre-check: ``auto`` pass, fail or unknown, and why."""
    from archive.deadlines.calendar import CalendarMissing, deadline
    from archive.labels import form_name

    stages: dict[str, dt.datetime] = {st: at for st, at in session.execute(
        select(Stage.stage, Stage.completed_at).where(Stage.case_id == case.id))}
    forms_in = set(session.scalars(select(Document.form_code).where(Document.case_id == case.id)))
    decided = stages.get("decision")
    out = []
    for item in checklist_items():
        kind = item["check"]
        auto, detail = "unknown", ""
        if kind == "review_before_decision":
            review = stages.get("review")
            if decided is None:
                detail = "尚未登记处罚决定"
            elif review is None:
                auto, detail = "fail", "未登记法制审核环节"
            elif review > decided:
                auto, detail = "fail", (f"法制审核 {review.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 晚于处罚决定 "
                                        f"{decided.astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
            else:
                auto, detail = "pass", f"法制审核 {review.astimezone(SHANGHAI):%Y-%m-%d}，决定 {decided.astimezone(SHANGHAI):%Y-%m-%d}"
        elif kind == "reviewer_certificate":
            cert = certificate.strip()
            on = (stages.get("review") or decided or case.created_at).astimezone(SHANGHAI).date()
            if not cert:
                detail = "请填写法制审核人员的执法证号，系统对照基础信息核验"
            else:
                officer = session.scalar(select(Officer).where(Officer.certificate_no == cert))
                if officer is None or officer.agency_code != case.agency_code:
                    auto, detail = "fail", f"执法证号 {cert} 不在本机关的执法人员名单中"
                elif officer.valid_until < on or (officer.valid_from and officer.valid_from > on):
                    auto, detail = "fail", f"{officer.name} 的执法证（有效期至 {officer.valid_until:%Y-%m-%d}）在审核日 {on:%Y-%m-%d} 无效"
                else:
                    auto, detail = "pass", f"{officer.name}，执法证有效期至 {officer.valid_until:%Y-%m-%d}"
        elif kind.startswith("form:"):
            code = kind.split(":", 1)[1]
            auto, detail = ("pass", f"已有《{form_name(code)}》") if code in forms_in else \
                ("fail", f"案卷中没有《{form_name(code)}》")
        elif kind == "filed_in_time":
            form, after, period = rules.at((decided or case.created_at).astimezone(SHANGHAI).date()).filing_record
            first = session.scalar(select(func.min(Document.uploaded_at)).where(
                Document.case_id == case.id, Document.form_code == form))
            start = stages.get(after)
            if start is None or first is None:
                detail = "尚未登记处罚决定或尚未报送备案"
            else:
                try:
                    due = deadline(calendar, start, period.days, period.unit)
                except CalendarMissing:
                    detail = "缺少节假日安排，期限待定"
                else:
                    days = (first.astimezone(SHANGHAI).date() - start.astimezone(SHANGHAI).date()).days
                    auto = "pass" if first <= due else "fail"
                    detail = (f"决定后第 {days} 日报送（期限 {due.astimezone(SHANGHAI):%Y-%m-%d}）"
                              + ("" if auto == "pass" else f"，超过 {period.days} 日"))
        out.append({"code": item["code"], "text": item["text"], "auto": auto, "detail": detail})
    return out


def review(session: Session, p: Principal, case: Case, rules, calendar, *, verdicts: dict[str, dict],
           certificate: str, note: str, due_days: int, now: dt.datetime) -> FilingReview:
    """Record the review. ``verdicts``: code → {ok, reason}; an item left out takes the
    pre-check (unknown counts as a problem to state). Problems open a 交办 task on the agency."""
    from archive.services import tasks

    if not reviews_filings(p, case.agency_code):
        raise Forbidden("备案由本区司法局审查 / the agency's district office reviews its 备案")
    items = check(session, case, rules, calendar, certificate)
    errors: dict[str, list[str]] = {}
    for item in items:
        v = verdicts.get(item["code"]) or {}
        ok = v.get("ok")
        if ok is None:
            ok = item["auto"] == "pass" if item["auto"] != "unknown" else None
        if ok is None:
            errors[item["code"]] = ["请判断这一项是否符合要求 / decide this item"]
            continue
        item["ok"] = bool(ok)
        item["reason"] = (v.get("reason") or "").strip() or ("" if ok else item["detail"])
        if not ok and not item["reason"]:
            errors[item["code"]] = ["请写明问题 / state the problem"]
    if errors:
        raise ValidationFailed("审查要点未填写完整 / the checklist is incomplete", errors)
    problems = [i for i in items if not i["ok"]]
    row = FilingReview(case_id=case.id, agency_code=case.agency_code, outcome="problems" if problems else "accepted",
                       items=json.dumps(items, ensure_ascii=False), certificate=certificate.strip()[:64],
                       note=note.strip(), reviewed_by=p.username, reviewed_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("这件案件的备案已审查 / this case's 备案 was reviewed already") from None
    if problems:
        text = "经备案审查，该重大案件存在以下问题，请整改并答复：\n" + "\n".join(
            f"{n}. {i['text']}：{i['reason']}" for n, i in enumerate(problems, 1)) + (f"\n{note.strip()}" if note.strip() else "")
        task = tasks.create(session, p, assignee=case.agency_code, subject=f"重大案件备案审查问题整改：{case.number}",
                            text=text, due_days=due_days, cases=[case.number], complaint_id=None, now=now)
        row.task_id = task.id
    return row


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


def saved_items(r: FilingReview) -> list[dict]:
    return json.loads(r.items)


def when(value: dt.datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value else None


# -- use cases: the API and the pages call these with the request's Caller ----------------------

def filing_row(entry: dict) -> dict:
    case, review = entry["case"], entry["review"]
    return {"case_id": case.id, "number": case.number, "agency": case.agency_code, "filed_at": entry["filed_at"],
            "decided_at": entry["decided_at"], "outcome": review.outcome if review else None,
            "task_id": review.task_id if review else None}


def scoped_case(c: Caller, case_id: str) -> Case:
    """The case of a 备案 the caller reviews or reads (403 for other roles, 404 outside the scope)."""
    p = c.principal
    if not reads_filings(p):
        c.refuse("filing", case_id, visible=True, why=f"a {p.role} does not review 备案")
    case = c.session.get(Case, case_id)
    if case is None or not p.sees_agency(case.agency_code):
        c.refuse("filing", case_id, visible=False, why="no such case in scope")
    assert case is not None
    return case


def filed_entry(c: Caller, case: Case) -> dict:
    """The case's 备案 entry, or 404 when it is not a major case with a filed 备案."""
    found = entry(c.session, case, load_rules())
    if found is None:
        c.refuse("filing", case.id, visible=False, why="not a major case with a filed 备案")
    assert found is not None
    return found


def detail(c: Caller, case: Case, certificate: str = "", filed: dict | None = None) -> dict:
    """The 备案 of a case with its checklist: the saved verdicts once reviewed, else the archive's pre-check."""
    session = c.session
    rules = load_rules()
    filed = filed or filed_entry(c, case)
    done: FilingReview | None = filed["review"]
    items = saved_items(done) if done else check(session, case, rules, load_calendar(session), certificate)
    return filing_row(filed) | {"checklist": items, "reviewed_by": done.reviewed_by if done else None,
                                "reviewed_at": done.reviewed_at if done else None,
                                "note": done.note if done else None,
                                "certificate": done.certificate if done else certificate}


def do_review(c: Caller, case: Case, args: dict) -> FilingReview:
    p = c.principal
    if not reviews_filings(p, case.agency_code):
        c.refuse("filing", case.id, visible=True, why="the agency's district office reviews its 备案")
    filed_entry(c, case)  # a major case with a filed 备案, or 404
    session = c.session
    r = review(session, p, case, load_rules(), load_calendar(session), verdicts=args["items"],
                       certificate=args["certificate"], note=args["note"], due_days=args["due_days"], now=server_now())
    session.commit()
    c.audit("filing.review", "case", case.id, outcome=r.outcome, task=r.task_id,
                problems=[i["code"] for i in saved_items(r) if not i["ok"]])
    if r.task_id:
        c.audit("task.create", "task", str(r.task_id), kind="assign", assignee=case.agency_code,
                    subject=f"重大案件备案审查问题整改：{case.number}", via="filing review")
    return r
