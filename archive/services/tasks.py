"""Supervision tasks (交办/转办).

The city office transfers (转办) a matter to a district office; a district office assigns (交办)
one to an agency. A task has a subject, a text, the cases it concerns, attachments stored
write-once like documents, and a due time counted in working days with the deadlines' calendar.
The assignee answers (text and files); the assigner accepts or sends it back with a reason, and a
sent-back task is answered again. Every transition is a compare-and-set on the status, so each
happens once however many people click at once; every step is appended to ``task_steps`` and to
the audit trail.

An overdue task raises a warning on the assignee through the warning machinery (rule
``task_overdue``, about no case): level 1 on an agency (its legal staff, then the district, then
the city), level 2 on a district office (then the city).
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import String, cast, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.auth import policy
from archive.auth.principal import Principal
from archive.errors import Conflict, Forbidden, NotFound, REQUIRED, ValidationFailed
from archive.models import (
    Case, Complaint, Organisation, SupervisionTask, TaskAttachment, TaskCase, TaskStep, WarningRecord,
)
from archive.clock import SHANGHAI
from archive.services.caller import Caller
from archive.labels import TASK_KIND_NAMES as KIND_NAMES, TASK_STATUS_NAMES as STATUS_NAMES, TASK_ACTION_NAMES as ACTION_NAMES  # noqa: F401  (the names its callers know)

OPEN = ("assigned", "sent_back")  # the assignee's turn
OVERDUE_RULE = "task_overdue"
MAX_DUE_DAYS = 60


assigning_kind = policy.assigning_kind


def answers_for(p: Principal, task: SupervisionTask) -> bool:
    return policy.answers_task(p, task.kind, task.assignee_org)


def decides_for(p: Principal, task: SupervisionTask) -> bool:
    return policy.decides_task(p, task.kind, task.assigner_org)


def reads(p: Principal, task: SupervisionTask) -> bool:
    return policy.reads_task(p, task.assigner_org, task.assignee_org)


def may_answer(p: Principal, task: SupervisionTask) -> bool:
    return task.status in OPEN and answers_for(p, task)


def may_decide(p: Principal, task: SupervisionTask) -> bool:
    return task.status == "answered" and decides_for(p, task)


def case_numbers(text: str) -> list[str]:
    """Case numbers typed one per line, or separated by commas, semicolons or 、."""
    return [n for n in (s.strip() for s in re.split(r"[\n,，;；、]+", text or "")) if n]


def create(session: Session, p: Principal, *, assignee: str, subject: str, text: str, due_days: int,
           cases: list[str], complaint_id: int | None, now: dt.datetime) -> SupervisionTask:
    """A new task from the caller's office; the cases (by number) must lie in the assignee's scope."""
    from archive.deadlines.calendar import CalendarMissing, deadline
    from archive.deadlines.store import load_calendar

    kind = assigning_kind(p)
    if kind is None or not p.scope_code:
        raise Forbidden("只有市级转办、区级交办 / only the city office transfers and a district office assigns")
    errors: dict[str, list[str]] = {}
    org = session.get(Organisation, assignee)
    wanted = "district" if kind == "transfer" else "agency"
    if org is None or org.level != wanted or (kind == "assign" and org.parent_code != p.scope_code):
        errors["assignee"] = [f"转办对象应为区司法局，交办对象应为本区执法机关 / must be a {wanted} "
                              f"{'of the city' if kind == 'transfer' else 'of your district'}"]
    if not subject.strip():
        errors["subject"] = [REQUIRED]
    if not text.strip():
        errors["text"] = [REQUIRED]
    if not 1 <= due_days <= MAX_DUE_DAYS:
        errors["due_days"] = [f"1 到 {MAX_DUE_DAYS} 个工作日 / 1 to {MAX_DUE_DAYS} working days"]
    found: list[Case] = []
    if org is not None and "assignee" not in errors:
        agencies = {org.code} if kind == "assign" else set(session.scalars(
            select(Organisation.code).where(Organisation.parent_code == org.code)))
        bad = []
        for number in dict.fromkeys(cases):
            case = session.scalar(select(Case).where(Case.number == number))
            if case is None or not p.sees_agency(case.agency_code) or case.agency_code not in agencies:
                bad.append(number)
            else:
                found.append(case)
        if bad:
            errors["cases"] = [f"找不到或不属于交办对象的案件：{'、'.join(bad)} / not a case of the assignee: {', '.join(bad)}"]
    if complaint_id is not None:
        c = session.get(Complaint, complaint_id)
        if c is None or not policy.reads_complaint(p, c.district_code, c.agency_code):
            errors["complaint"] = ["没有这件投诉举报 / no such complaint in your scope"]
    if errors:
        raise ValidationFailed("交办内容有误 / the task is not complete", errors)
    try:
        due_at = deadline(load_calendar(session), now, due_days, "working")
    except CalendarMissing:
        due_at = None
    task = SupervisionTask(kind=kind, subject=subject.strip()[:200], text=text.strip()[:20000],
                           assigner_org=p.scope_code, assigned_by=p.username, assigned_at=now, assignee_org=assignee,
                           due_days=due_days, due_at=due_at, status="assigned", complaint_id=complaint_id)
    session.add(task)
    session.flush()
    for case in found:
        session.add(TaskCase(task_id=task.id, case_id=case.id))
    step(session, task, p, "assign", text, now)
    return task


def step(session: Session, task: SupervisionTask, p: Principal, action: str, text: str,
         now: dt.datetime) -> TaskStep:
    s = TaskStep(task_id=task.id, action=action, by=p.username, org=p.scope_code or "", at=now, text=text.strip())
    session.add(s)
    session.flush()
    return s


def _move(session: Session, task: SupervisionTask, frm: tuple[str, ...], to: str, **values) -> None:
    """Compare-and-set the status: of concurrent transitions exactly one happens."""
    done = session.connection().execute(update(SupervisionTask).where(
        SupervisionTask.id == task.id, SupervisionTask.status.in_(frm)).values(status=to, **values)).rowcount
    if not done:
        session.rollback()
        raise Conflict("这项任务的状态已经改变（已答复、已审核或已办结），请刷新 / the task moved on meanwhile")
    session.refresh(task)


def answer(session: Session, task: SupervisionTask, p: Principal, text: str, now: dt.datetime) -> TaskStep:
    if not answers_for(p, task):
        raise Forbidden("只有承办单位可以答复 / only the assignee answers")
    if not text.strip():
        raise ValidationFailed("请写明办理情况 / say what was done", {"text": [REQUIRED]})
    _move(session, task, OPEN, "answered", answered_at=now)
    return step(session, task, p, "answer", text, now)


def decide(session: Session, task: SupervisionTask, p: Principal, accept: bool, reason: str,
           now: dt.datetime) -> TaskStep:
    if not decides_for(p, task):
        raise Forbidden("只有交办单位可以审核 / only the assigner accepts or sends back")
    if not accept and not reason.strip():
        raise ValidationFailed("退回须写明理由 / a reason is required to send it back", {"reason": [REQUIRED]})
    if accept:
        _move(session, task, ("answered",), "accepted", closed_at=now)
    else:
        _move(session, task, ("answered",), "sent_back")
    return step(session, task, p, "accept" if accept else "send_back", reason, now)


def attach(session: Session, store, settings, task: SupervisionTask, s: TaskStep, *, by: str,
           filename: str | None, spool) -> TaskAttachment:
    """Store a file of a step: the object first (a retained version under
    ``tasks/<id>/attachments/<attachment id>``), then its row."""
    from archive.models import new_id
    from archive.services.attachments import store_file

    a = store_file(store, settings, TaskAttachment(id=new_id(), task_id=task.id, step_id=s.id),
                   key_prefix=f"tasks/{task.id}/attachments",
                   metadata={"task-id": str(task.id), "step-id": str(s.id)}, by=by, filename=filename, spool=spool)
    session.add(a)
    session.flush()
    return a


def get(session: Session, task_id: int) -> SupervisionTask:
    task = session.get(SupervisionTask, task_id)
    if task is None:
        raise NotFound("no such task")
    return task


def listing(session: Session, p: Principal, role: str, status: str | None, limit: int = 500) -> list[SupervisionTask]:
    """``role=mine``: tasks assigned to the caller's organisation; ``assigned``: those it assigned.
    The city office and auditors see every task with ``role=all``."""
    q = select(SupervisionTask)
    if role == "all" and policy.reads_all_tasks(p):
        pass
    elif role == "assigned":
        q = q.where(SupervisionTask.assigner_org == (p.scope_code or ""))
        if assigning_kind(p) is None:
            q = q.where(SupervisionTask.id.is_(None))
    else:
        q = q.where(SupervisionTask.assignee_org == (p.scope_code or ""))
        if not policy.receives_tasks(p):
            q = q.where(SupervisionTask.id.is_(None))
    if status:
        q = q.where(SupervisionTask.status == status)
    return list(session.scalars(q.order_by(
        SupervisionTask.status.in_(OPEN + ("answered",)).desc(), SupervisionTask.due_at.is_(None),
        SupervisionTask.due_at, SupervisionTask.id.desc()).limit(limit)))


def view(session: Session, task: SupervisionTask) -> dict:
    cases = session.execute(select(Case.id, Case.number).join(TaskCase, TaskCase.case_id == Case.id)
                            .where(TaskCase.task_id == task.id).order_by(Case.number)).all()
    steps = session.scalars(select(TaskStep).where(TaskStep.task_id == task.id).order_by(TaskStep.id)).all()
    files = session.scalars(select(TaskAttachment).where(TaskAttachment.task_id == task.id)
                            .order_by(TaskAttachment.uploaded_at)).all()
    by_step: dict[int, list] = {}
    for f in files:
        by_step.setdefault(f.step_id, []).append({"id": f.id, "filename": f.filename, "size": f.size,
                                                  "sha256": f.sha256, "media_type": f.media_type})
    overdue = session.scalar(select(WarningRecord.id).where(
        WarningRecord.rule == OVERDUE_RULE, WarningRecord.fact_key == f"task:{task.id}",
        WarningRecord.case_id.is_(None)))
    return {"id": task.id, "kind": task.kind, "subject": task.subject, "text": task.text,
            "assigner": task.assigner_org, "assigned_by": task.assigned_by, "assigned_at": task.assigned_at,
            "assignee": task.assignee_org, "due_days": task.due_days, "due_at": task.due_at, "status": task.status,
            "complaint_id": task.complaint_id, "answered_at": task.answered_at, "closed_at": task.closed_at,
            "cases": [{"id": i, "number": n} for i, n in cases], "overdue_warning": overdue,
            "steps": [{"id": s.id, "action": s.action, "by": s.by, "org": s.org, "at": s.at, "text": s.text,
                       "attachments": by_step.get(s.id, [])} for s in steps]}


def warn_overdue(session: Session, rules, calendar, now: dt.datetime) -> int:
    """A warning on the assignee of every task past its due and not answered (once per task)."""
    from archive.deadlines.calendar import CalendarMissing
    from archive.deadlines.warnings import handling_due

    late = session.scalars(select(SupervisionTask).where(
        SupervisionTask.status.in_(OPEN), SupervisionTask.due_at.is_not(None), SupervisionTask.due_at < now,
        ~select(WarningRecord.id).where(WarningRecord.rule == OVERDUE_RULE, WarningRecord.case_id.is_(None),
                                        WarningRecord.fact_key == "task:" + cast(SupervisionTask.id, String))
        .exists())).all()
    new = 0
    for task in late:
        level = 1 if task.kind == "assign" else 2
        assert task.due_at is not None
        try:
            due = handling_due(calendar, rules, level, task.due_at)
        except CalendarMissing:
            due = None
        try:
            with session.begin_nested():
                session.add(WarningRecord(
                    rule=OVERDUE_RULE, fact_key=f"task:{task.id}", case_id=None, agency_code=task.assignee_org,
                    stage=None, level=level, status="open", opened_at=task.due_at, due_at=due,
                    message=f"{KIND_NAMES[task.kind]}任务“{task.subject}”（任务 {task.id}）逾期未办理："
                            f"应于 {task.due_at.astimezone(SHANGHAI):%Y-%m-%d} 前答复。"))
            new += 1
        except IntegrityError:  # another worker stored it first
            pass
    session.commit()
    return new



# -- use cases: the API and the pages call these with the request's Caller ----------------------

def scoped_task(c: Caller, task_id: int) -> SupervisionTask:
    """The task if the caller may see it; else the 404 a missing id gets."""
    task = c.session.get(SupervisionTask, task_id)
    if task is None or not reads(c.principal, task):
        c.refuse("task", str(task_id), visible=False, why="no such task for the caller")
    assert task is not None
    return task


def _store_files(c: Caller, task: SupervisionTask, s: TaskStep, files) -> list[TaskAttachment]:
    return [attach(c.session, c.store, c.settings, task, s, by=c.username, filename=name, spool=spool)
            for name, spool in files]


def first_step(session: Session, task: SupervisionTask) -> TaskStep | None:
    return session.scalars(select(TaskStep).where(TaskStep.task_id == task.id).order_by(TaskStep.id)).first()


def create_task(c: Caller, form: dict, files, now: dt.datetime) -> SupervisionTask:
    """转办 or 交办 with its (filename, spool) files, stored write-once; audited."""
    if assigning_kind(c.principal) is None:
        c.refuse("task", "new", visible=True, why="only the city office transfers and a district office assigns")
    with c.transaction():
        task = create(c.session, c.principal, assignee=form["assignee"], subject=form["subject"], text=form["text"],
                      due_days=form["due_days"], cases=case_numbers(form.get("cases", "")),
                      complaint_id=form.get("complaint"), now=now)
        step0 = first_step(c.session, task)
        assert step0 is not None
        stored = _store_files(c, task, step0, files)
    c.audit("task.create", "task", str(task.id), kind=task.kind, assignee=task.assignee_org, subject=task.subject,
            due_at=task.due_at.isoformat() if task.due_at else None, complaint=task.complaint_id,
            files=[f.sha256 for f in stored])
    return task


def answer_task(c: Caller, task_id: int, text: str, files, now: dt.datetime) -> SupervisionTask:
    """The assignee answers, with files; once per round."""
    task = scoped_task(c, task_id)
    if not answers_for(c.principal, task):
        c.refuse("task", str(task_id), visible=True, why="only the assignee answers")
    with c.transaction():
        s = answer(c.session, task, c.principal, text, now)
        stored = _store_files(c, task, s, files)
    c.audit("task.answer", "task", str(task_id), step=s.id, files=[f.sha256 for f in stored])
    return task


def decide_task(c: Caller, task_id: int, accept: bool, reason: str, now: dt.datetime) -> SupervisionTask:
    """The assigner accepts the answer (办结) or sends it back with a reason; once."""
    task = scoped_task(c, task_id)
    if not decides_for(c.principal, task):
        c.refuse("task", str(task_id), visible=True, why="only the assigner accepts or sends back")
    with c.transaction():
        s = decide(c.session, task, c.principal, accept, reason, now)
    c.audit("task.accept" if accept else "task.send_back", "task", str(task_id), step=s.id, reason=reason)
    return task
