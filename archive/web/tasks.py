"""交办转办: the task inbox (收到的), outbox (交办的), a new task, and one task's page with its
steps, files, the answer form for the assignee and 办结 / 退回 for the assigner."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import caller, current, refuse
from archive.edge.uploads import received_files
from archive.extension import get_archive
from archive.errors import Conflict, ValidationFailed
from archive.extension import db
from archive.models import Complaint, Organisation
from archive.numbers import whole
from archive.services import tasks as service
from archive.clock import now
from archive.web.blueprint import bp
from archive.web.layout import org_names, zh, zh_errors

def _user():
    p = current()
    if not policy.works_tasks(p):
        refuse("task", "list", visible=True, why=f"a {p.role} has no supervision tasks")
    return p


def _assignees(p) -> list[tuple[str, str]]:
    kind = service.assigning_kind(p)
    if kind == "transfer":
        q = select(Organisation).where(Organisation.level == "district")
    elif kind == "assign":
        q = select(Organisation).where(Organisation.level == "agency", Organisation.parent_code == p.scope_code)
    else:
        return []
    return [(o.code, o.name) for o in db().scalars(q.order_by(Organisation.code))]


@bp.route("/tasks")
def tasks_page():
    p = _user()
    kind = policy.assigning_kind(p)
    default = "assigned" if kind == "transfer" else "all" if policy.reads_all_tasks(p) else "mine"
    box = request.args.get("box", default)
    if box not in ("mine", "assigned", "all"):
        box = default
    status = request.args.get("status") or None
    rows = service.listing(db(), p, box, status if status in service.STATUS_NAMES else None, limit=300)
    boxes = []
    if policy.receives_tasks(p):
        boxes.append(("mine", "收到的任务"))
    if kind:
        boxes.append(("assigned", f"{service.KIND_NAMES[kind]}的任务"))
    if policy.reads_all_tasks(p):
        boxes.append(("all", "全部任务"))
    return render_template("tasks.html", rows=rows, box=box, boxes=boxes, status=status,
                           names=org_names([t.assignee_org for t in rows] + [t.assigner_org for t in rows]),
                           status_names=service.STATUS_NAMES, kind_names=service.KIND_NAMES, now=now(),
                           new_label="新建" + service.KIND_NAMES[kind] if kind else None,
                           section="tasks",
                           crumbs=[("交办转办", None)])


@bp.route("/tasks/new", methods=["GET", "POST"])
def task_new():
    p = _user()
    kind = service.assigning_kind(p)
    if kind is None:
        refuse("task", "new", visible=True, why="only the city office transfers and a district office assigns")
    values = {"assignee": request.values.get("assignee", ""), "subject": "", "text": "", "due_days": "5",
              "cases": "", "complaint": request.values.get("complaint", "")}
    complaint = None
    if (complaint_id := whole(values["complaint"], 1)) is not None:
        complaint = db().get(Complaint, complaint_id)
        if complaint is None or not policy.reads_complaint(p, complaint.district_code, complaint.agency_code):
            # a complaint outside the caller's scope is not shown, not even its complainant: the
            # 404 the API answers (it leaked through this page's prefill before)
            refuse("complaint", str(complaint_id), visible=False, why="outside your scope")
        if complaint is not None and not values["subject"]:
            values["subject"] = "投诉举报核查"
            values["text"] = f"请核查投诉举报（{complaint.complainant}，{complaint.received_at:%Y-%m-%d} 收到）反映的问题：\n{complaint.text}"
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in values}
        form: dict = {k: values[k] for k in ("assignee", "subject", "text", "cases")}
        if (due_days := whole(values["due_days"])) is None:
            errors["due_days"] = ["请填写工作日数。"]
        else:
            form["due_days"] = due_days
        form["complaint"] = whole(values["complaint"], 1)
        if not errors:
            try:
                task = service.create_task(caller("web"), form, _files(), now())
            except ValidationFailed as exc:
                db().rollback()
                errors = zh_errors(exc.errors)
            else:
                flash(f"已{service.KIND_NAMES[task.kind]}：{task.subject}。", "ok")
                return redirect(url_for("web.task_page", task_id=task.id), code=303)
    return render_template("task_new.html", values=values, errors=errors, assignees=_assignees(p), kind=kind,
                           kind_name=service.KIND_NAMES[kind], complaint=complaint, max_days=service.MAX_DUE_DAYS,
                           section="tasks", crumbs=[("交办转办", url_for("web.tasks_page")), (f"新建{service.KIND_NAMES[kind]}", None)]
                           ), (422 if errors else 200)


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def task_page(task_id: int):
    p = _user()
    task = service.scoped_task(caller(), task_id)
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "answer":
                service.answer_task(caller("web"), task_id, request.form.get("text", "").strip(), _files(), now())
                flash("已答复，等待交办单位审核。", "ok")
            elif action in ("accept", "send_back"):
                service.decide_task(caller("web"), task_id, action == "accept", request.form.get("reason", "").strip(), now())
                flash("已办结。" if action == "accept" else "已退回，等待承办单位重新办理。", "ok")
        except ValidationFailed as exc:
            db().rollback()
            fields = set(exc.errors or {})
            if "text" in fields or "reason" in fields:  # said next to the field, the form kept
                errors = {"text": ["请写明办理情况。"]} if "text" in fields else {"reason": ["退回时请写明理由。"]}
                return _task_view(p, task, errors, request.form), 422
            flash(zh(exc.message), "error")
        except Conflict as exc:
            db().rollback()
            flash("未能处理：" + zh(exc.message), "error")
        return redirect(url_for("web.task_page", task_id=task_id), code=303)
    return _task_view(p, task, {}, {})


def _task_view(p, task, errors: dict, values):
    view = service.view(db(), task)
    return render_template("task.html", t=view, task=task, errors=errors, values=values, names=org_names([task.assigner_org, task.assignee_org]),
                           status_names=service.STATUS_NAMES, kind_names=service.KIND_NAMES,
                           action_names=service.ACTION_NAMES, may_answer=service.may_answer(p, task),
                           may_decide=service.may_decide(p, task), now=now(), section="tasks",
                           crumbs=[("交办转办", url_for("web.tasks_page")), (f"任务 {task.id}", None)])


def _files():
    return received_files(request.files.getlist("file"), get_archive().ingest_settings.max_bytes)
