"""案件 pages: the case list with filters, 创建案件, and the case page (stage timeline, deadlines,
decision period, warnings, recording a stage, upload)."""
from __future__ import annotations

import datetime as dt
import json

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from archive.services.schemas import CaseCreateSchema, PeriodCreateSchema, StageCreateSchema
from archive.services.zh_schema import in_chinese
from archive.auth import policy
from archive.edge.auth import caller, current, refuse
from archive.edge.uploads import received_file
from archive.deadlines.calendar import CalendarMissing
from archive.deadlines.rules import load_rules
from archive.deadlines.store import load_calendar
from archive.errors import ArchiveError, Conflict, NOT_PARTY_ID, ValidationFailed
from archive.extension import db, get_archive
from archive.labels import (KIND_NAMES, PARTY_TYPE_NAMES, PENALTY_NAMES, PROCEDURE_NAMES, STAGE_NAMES, TEXT_STATUS_NAMES,
                            form_name)
from archive.models import STAGES_BY_KIND, Case, CasePeriod, Organisation, WarningRecord
from archive.services import cases as case_service
from archive.services import uploads
from archive.clock import local, now
from archive.web.blueprint import bp
from archive.services import corrections
from archive.web.layout import REVERSED_RANGE, Pager, date_arg, org_names, page_arg, visible_orgs, zh, zh_errors
from archive.labels import SECTOR_NAMES  # noqa: F401  (the names its callers know)
from forms import load_catalog


def _flag(name: str) -> bool | None:
    value = request.args.get(name, "")
    return {"1": True, "0": False}.get(value)


@bp.route("/cases")
def cases():
    """The cases the caller may see, filtered, newest first, 20 to a page."""
    p = current()
    if not policy.reads_cases(p):
        refuse("cases", "list", visible=True, why="administrators read no case file")
    if policy.works_from_assignments(p):  # a reviewer works from its assignments on the 工作台
        return redirect(url_for("web.home"))
    session = db()
    args = request.args
    errors: dict[str, list[str]] = {}
    dates = {}
    for name in ("opened_from", "opened_to"):
        dates[name], error = date_arg(name)
        if error:
            errors[name] = [error]
    if dates["opened_from"] and dates["opened_to"] and dates["opened_from"] > dates["opened_to"]:
        errors["opened_to"] = [REVERSED_RANGE]
    agency = None
    if args.get("agency"):
        try:
            agency = case_service.agencies_under(session, args["agency"])
        except ValidationFailed:
            errors["agency"] = ["没有这个机关。"]
    agency = policy.narrowed_agencies(p, agency)
    kind = args.get("kind") if args.get("kind") in KIND_NAMES else None
    stage = args.get("stage") if args.get("stage") in STAGE_NAMES else None
    page = page_arg()
    total, rows = case_service.list_cases(
        session, agency=agency, kind=kind, number=args.get("number", "").strip()[:120] or None, stage=stage,
        opened_from=dates["opened_from"], opened_to=dates["opened_to"], open_warnings=_flag("open_warnings"),
        late=_flag("late"), page=page, per_page=20)
    ids = [c.id for c in rows]
    open_counts: dict[str, int] = {}
    if ids:
        from sqlalchemy import func

        open_counts = dict(session.execute(select(WarningRecord.case_id, func.count()).where(
            WarningRecord.case_id.in_(ids), WarningRecord.status == "open").group_by(WarningRecord.case_id)).all())
    names = org_names(c.agency_code for c in rows)
    return render_template("cases.html", cases=rows, total=total, pager=Pager(total, page, 20), args=args,
                           errors=errors, orgs=visible_orgs(p), open_counts=open_counts, names=names,
                           kinds=list(KIND_NAMES.items()), stages=list(STAGE_NAMES.items()),
                           may_create=policy.creates_cases(p), section="cases", crumbs=[("案件", None)])


def _case_form_options(p) -> dict:
    agencies = [o for o in visible_orgs(p) if o.level == "agency" and policy.writes_agency(p, o.code)]
    # "default" is the general table, the blank choice: not a sector of its own
    sectors = sorted(s for s in load_rules().at(local(now()).date()).sectors if s and s != "default")  # type: ignore[union-attr]
    from archive.models import Power

    codes = [o.code for o in agencies]
    powers = db().execute(select(Power.agency_code, Power.code, Power.name).where(Power.agency_code.in_(codes))
                          .order_by(Power.agency_code, Power.code)).all() if codes else []
    return {"agencies": [(o.code, o.name) for o in agencies], "kinds": list(KIND_NAMES.items()),
            "powers": [(a, c, n) for a, c, n in powers], "powers_missing": [o.name for o in agencies
                                                                           if not any(a == o.code for a, _, _ in powers)],
            "procedures": list(PROCEDURE_NAMES.items()), "party_types": list(PARTY_TYPE_NAMES.items()),
            "sectors": [(s, SECTOR_NAMES.get(s, s)) for s in sectors]}


CASE_FIELDS = ("number", "agency", "kind", "procedure", "power", "party_name", "party_type", "party_id",
               "opened_on", "sector", "summary")


@bp.route("/cases/new", methods=["GET", "POST"])
def case_new():
    """创建案件: an agency's clerk or legal staff opens a case file for their own agency."""
    p = current()
    if not policy.creates_cases(p):
        refuse("case", "new", visible=True, why=f"a {p.role} does not create cases")
    options = _case_form_options(p)
    values = {"agency": options["agencies"][0][0] if options["agencies"] else "", "kind": "penalty",
              "procedure": "general", "party_type": "organisation", "opened_on": local(now()).date().isoformat()}  # type: ignore[union-attr]
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in CASE_FIELDS}
        try:
            data = in_chinese(CaseCreateSchema()).load({k: v for k, v in values.items() if v != ""})
            if not policy.writes_agency(p, data["agency"]):
                raise ValidationFailed("not your agency", {"agency": ["只能为本机关创建案件。"]})
            case = case_service.open_case(caller("web"), data)
        except ValidationError as exc:
            errors, status = zh_errors(exc.messages), 422  # type: ignore[arg-type]
            party_id = values.get("party_id", "").upper()
            if party_id and not case_service.PARTY_ID.match(party_id):  # every mistake at once, not one a time
                errors["party_id"] = [zh(NOT_PARTY_ID)]
        except (ValidationFailed, Conflict) as exc:
            errors, status = zh_errors(exc.errors or {"number": [exc.message]}), 422 if isinstance(exc, ValidationFailed) else 409
        else:
            flash(f"案件 {case.number} 已创建。请先登记已完成的环节，再上传该环节的文书。", "ok")
            return redirect(url_for("web.case", case_id=case.id))
    return render_template("case_new.html", values=values, errors=errors, section="case_new",
                           crumbs=[("案件", url_for("web.cases")), ("新建案件", None)], **options), status


def working_days_late(calendar, due: dt.datetime, at: dt.datetime) -> int | None:
    """Working days from the deadline to the upload (1: the next working day); None if unknown."""
    first, last = local(due).date() + dt.timedelta(days=1), local(at).date()  # type: ignore[union-attr]
    try:
        return sum(1 for i in range((last - first).days + 1)
                   if calendar.is_working_day(first + dt.timedelta(days=i)))
    except CalendarMissing:
        return None


def timeline(session, case: Case) -> list[dict]:
    """Each stage of the case's kind: recorded or not, its upload deadline, its documents with
    on time / late (by how many working days), and the required forms present or missing."""
    from archive.deadlines.evaluate import upload_due

    rules, calendar = load_rules(), load_calendar(session)
    recorded = {s.stage: s for s in case.stages}
    out = []
    for code in STAGES_BY_KIND[case.kind]:
        s = recorded.get(code)
        row: dict = {"code": code, "name": STAGE_NAMES[code], "stage": s, "docs": [], "required": [],
                     "due": None, "pending": False}
        docs = [d for d in case.documents if d.stage == code]
        if s is not None:
            try:
                row["due"] = upload_due(rules, calendar, case.kind, code, s.completed_at)
            except CalendarMissing:
                row["pending"] = True
            ruleset = rules.at(local(s.completed_at).date())  # type: ignore[union-attr]
            present = {d.form_code for d in docs}
            for alts in ruleset.required_forms(code):
                row["required"].append({"name": "或".join(f"《{form_name(a)}》" for a in sorted(alts)),
                                        "present": bool(alts & present)})
        for d in docs:
            late = row["due"] is not None and d.uploaded_at > row["due"]
            row["docs"].append({"doc": d, "late": late,
                                "late_days": working_days_late(calendar, row["due"], d.uploaded_at) if late else 0})
        out.append(row)
    return out


@bp.route("/cases/<case_id>")
def case(case_id: str):
    """The case page: its facts, stage timeline, decision period, warnings; forms for its writers."""
    p = current()
    session = db()
    c = case_service.view_case(caller("web"), case_id)
    warnings = session.scalars(select(WarningRecord).where(WarningRecord.case_id == case_id)
                               .order_by(WarningRecord.status.desc(), WarningRecord.level.desc(), WarningRecord.id)).all()
    periods = session.scalars(select(CasePeriod).where(CasePeriod.case_id == case_id).order_by(CasePeriod.id)).all()
    catalog = load_catalog()
    writer = policy.writes_agency(p, c.agency_code)
    recorded = [s.stage for s in c.stages]
    from archive.models import ArchivalCheck
    from archive.services import archival

    archival_file = session.get(archival.ArchivalFile, case_id)
    checks = [{"id": r.id, "at": r.at, "passed": r.passed, "phase_name": json.loads(r.report).get("phase_name"),
               "failed": [i["id"] for i in json.loads(r.report).get("items", []) if i["result"] == "不通过"]}
              for r in session.scalars(select(ArchivalCheck).where(ArchivalCheck.case_id == case_id)
                                       .order_by(ArchivalCheck.id.desc()).limit(10))]
    return render_template(
        "case.html", case=c, agency=session.get(Organisation, c.agency_code), stages=timeline(session, c),
        warnings=warnings, periods=periods, writer=writer, corrections=corrections.history(session, case_id),
        correction_fields=list(corrections.FIELDS.items()),
        penalty_types=json.loads(c.penalty_types or "[]"), penalty_names=PENALTY_NAMES,
        unrecorded=[(code, STAGE_NAMES[code]) for code in STAGES_BY_KIND[c.kind] if code not in recorded],
        recorded=[(code, STAGE_NAMES[code]) for code in STAGES_BY_KIND[c.kind] if code in recorded],
        forms=[(f.code, f.name, " ".join(f.stages)) for f in catalog.values()],
        errors=g.get("form_errors", {}), values=g.get("form_values", {}), section="cases", max_upload=get_archive().config["MAX_UPLOAD_BYTES"],
        text_labels=TEXT_STATUS_NAMES, archival_file=archival_file, checks=checks, closed="closing" in recorded,
        may_file=writer and archival_file is None and "closing" in recorded,
        retention_name=archival.load_rules().period_name(archival_file.retention) if archival_file else "",
        appraisals=_appraisals(session, case_id) if archival_file else [], appraises=policy.appraises(p),
        agency_officers=_agency_officers(session, c.agency_code) if writer else [],
        crumbs=[("案件", url_for("web.cases")) if not policy.works_from_assignments(p) else ("评查任务", url_for("web.home")),
                (c.number, None)])


def _agency_officers(session, agency_code: str) -> list[dict]:
    """The agency's officers to choose from when recording a stage, today's certificate problem
    beside each (the act's own day is checked when it is recorded)."""
    from archive.deadlines.evaluate import certificate_problem
    from archive.models import Officer

    day = local(now()).date()  # type: ignore[union-attr]
    return [{"certificate_no": o.certificate_no, "name": o.name, "problem": certificate_problem(o, day)}
            for o in session.scalars(select(Officer).where(Officer.agency_code == agency_code).order_by(Officer.name))]


def _appraisals(session, case_id: str) -> list:
    """The case's 鉴定 (the case page's reader sees them as the case: its scope was checked)."""
    from archive.models import Appraisal
    from archive.services.disposal import view

    return [view(a) for a in session.scalars(select(Appraisal).where(Appraisal.case_id == case_id).order_by(Appraisal.id))]


@bp.route("/cases/<case_id>/stages", methods=["POST"])
def case_stage(case_id: str):
    """Record a completed stage from the case page (the decision with its penalties)."""
    case_service.scoped_case(caller(), case_id, write=True)  # refused before the form is read
    form = request.form
    data: dict = {"stage": form.get("stage", ""), "completed_at": form.get("completed_at", ""),
                  "officers": form.getlist("officers")}
    if data["stage"] == "decision":
        data["penalty_types"] = form.getlist("penalty_types")
        if form.get("fine_amount", "").strip():
            data["fine_amount"] = form.get("fine_amount", "").strip()
    try:
        case_service.complete_stage(caller("web"), case_id, in_chinese(StageCreateSchema()).load(data))
    except ValidationError as exc:
        return _case_with_errors(case_id, "stage", zh_errors(exc.messages), form, 422)  # type: ignore[arg-type]
    except (ValidationFailed, Conflict) as exc:
        return _case_with_errors(case_id, "stage", zh_errors(exc.errors) or {"stage": [zh(exc.message)]}, form,
                                 422 if isinstance(exc, ValidationFailed) else 409)
    flash(f"“{STAGE_NAMES.get(data['stage'], data['stage'])}”环节已登记。", "ok")
    return redirect(url_for("web.case", case_id=case_id) + "#stage-" + data["stage"])


def _case_with_errors(case_id: str, which: str, errors: dict, form, status: int):
    """The case page with the sent form's values and its errors next to the fields."""
    g.form_errors = {which: errors}
    g.form_values = {which: form}
    html = case(case_id)
    return html, status


@bp.route("/cases/<case_id>/periods", methods=["POST"])
def case_period(case_id: str):
    """Record an approved extension or a suspension of the decision period (art. 60)."""
    case_service.scoped_case(caller(), case_id, write=True)
    form = request.form
    data = {k: form.get(k, "").strip() for k in ("kind", "days", "start_on", "end_on", "approved_by", "reason")}
    data = {k: v for k, v in data.items() if v != "" or k in ("kind", "approved_by", "reason")}
    try:
        period = case_service.change_period(caller("web"), case_id, in_chinese(PeriodCreateSchema()).load(data))
    except ValidationError as exc:
        return _case_with_errors(case_id, "period", zh_errors(exc.messages), form, 422)  # type: ignore[arg-type]
    except ValidationFailed as exc:
        return _case_with_errors(case_id, "period", zh_errors(exc.errors), form, 422)
    flash("决定期限的延长已登记。" if period.kind == "extension" else "案件中止已登记。", "ok")
    return redirect(url_for("web.case", case_id=case_id) + "#period")


@bp.route("/cases/<case_id>/periods/<int:period_id>/end", methods=["POST"])
def case_period_end(case_id: str, period_id: int):
    case_service.scoped_case(caller(), case_id, write=True)
    raw = request.form.get("end_on", "").strip()
    try:
        end_on = dt.date.fromisoformat(raw)
        case_service.end_period(caller("web"), case_id, period_id, end_on)
    except ValueError:
        return _case_with_errors(case_id, "end", {"end_on": ["日期格式应为 年-月-日。"]}, request.form, 422)
    except (ValidationFailed, Conflict) as exc:
        return _case_with_errors(case_id, "end", zh_errors(exc.errors) or {"end_on": [zh(exc.message)]},
                                 request.form, 422)
    flash("案件中止已结束，决定期限恢复计算。", "ok")
    return redirect(url_for("web.case", case_id=case_id) + "#period")


@bp.route("/cases/<case_id>/upload", methods=["POST"])
def case_upload(case_id: str):
    """The upload form without JavaScript: every chosen file is stored, one answer per file.
    (With JavaScript the page sends each file to the API itself, with a progress bar.)"""
    c = case_service.scoped_case(caller(), case_id, write=True)
    files = [f for f in request.files.getlist("file") if f.filename]
    if not files:
        return _case_with_errors(case_id, "upload", {"file": ["请选择要上传的文件。"]}, request.form, 422)
    answers = []
    for upload in files:
        try:
            doc = uploads.store_spool(caller("web"), c, received_file(upload, get_archive().ingest_settings.max_bytes),
                                      upload.filename, stage=request.form.get("stage", ""),
                                      form=request.form.get("form", ""),
                                      allow_duplicate=request.form.get("allow_duplicate") == "1")
        except ArchiveError as exc:
            db().rollback()
            answers.append((upload.filename, False, "；".join(m for ms in zh_errors(exc.errors).values() for m in ms)
                            or zh(exc.message)))
            c = case_service.scoped_case(caller(), case_id, write=True)
            continue
        late = doc.warnings  # type: ignore[attr-defined]
        answers.append((doc.filename, True, f"已保存，SHA-256 {doc.sha256}" + ("；" + "；".join(late) if late else "")))
    for name, ok, text in answers:
        flash(f"{name}：{text}", "ok" if ok else "error")
    return redirect(url_for("web.case", case_id=case_id) + "#upload", code=303)


@bp.route("/cases/<case_id>/corrections", methods=["POST"])
def case_correction_request(case_id: str):
    """更正案件信息: the agency asks to correct one fact, with a reason (decided by its office)."""
    c = case_service.scoped_case(caller(), case_id, write=True)
    form = {k: request.form.get(k, "") for k in ("field", "new_value", "reason")}
    try:
        corrections.request(db(), current(), c, field=form["field"], new_value=form["new_value"],
                            reason=form["reason"], now=now())
    except ArchiveError as exc:
        db().rollback()
        return _case_with_errors(case_id, "correction", zh_errors(exc.errors) or {"field": [zh(exc.message)]},
                                 request.form, 409 if isinstance(exc, Conflict) else 422)
    flash(f"更正申请已提交：{corrections.FIELDS[form['field']]}，等待上级法制部门审批。", "ok")
    return redirect(url_for("web.case", case_id=case_id) + "#corrections", code=303)
