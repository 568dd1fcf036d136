"""鉴定与销毁 (the district and city offices): the 到期鉴定 list — keep longer or propose
disposal —, the proposals another office role approves, the disposals under way and the
销毁清册 with each entry's documents (SHA-256, size)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from archive.auth import policy
from archive.edge.auth import caller
from archive.errors import Conflict, ValidationFailed
from archive.services import disposal
from archive.services.archivalrules import load_rules
from archive.web.blueprint import bp
from archive.web.layout import zh


def _problem(exc) -> str:
    lines = [m for v in exc.errors.values() for m in (v if isinstance(v, list) else [v])]
    return "；".join(zh(str(m)) for m in lines) or zh(exc.message)


@bp.route("/appraisal")
def appraisal_page():
    c = caller("web")
    due = disposal.due_list(c)
    rules = load_rules(c.config.get("ARCHIVAL_RULES") or None)
    proposed = [disposal.view(a) for a in disposal.disposals(c, "proposed")]
    approved = [disposal.view(a) for a in disposal.disposals(c, "approved")]
    return render_template("appraisal.html", due=due, periods=[(code, rules.period_name(code)) for code in sorted(  # the shortest first, 永久 last
                               rules.periods, key=lambda k: rules.periods[k][1] or 10**6)],
                           proposed=proposed, approved=approved, today=disposal.today(), tab="appraisal",
                           transfers=policy.transfers_cases(c.principal), section="archives",
                           crumbs=[("档案", None), ("到期鉴定", None)])


@bp.route("/appraisal/cases/<case_id>/keep", methods=["POST"])
def appraisal_keep(case_id: str):
    c = caller("web")
    try:
        a = disposal.keep_longer(c, case_id, request.form.get("period", ""), request.form.get("reason", ""))
    except (ValidationFailed, Conflict) as exc:
        flash("未能延长保管：" + _problem(exc), "error")
    else:
        flash(f"已延长保管：{a.archival_no} 保管至 {a.until_after:%Y年%m月%d日}。", "ok")
    return redirect(url_for("web.appraisal_page"), code=303)


@bp.route("/appraisal/cases/<case_id>/dispose", methods=["POST"])
def appraisal_propose(case_id: str):
    c = caller("web")
    try:
        a = disposal.propose(c, case_id, request.form.get("reason", ""))
    except (ValidationFailed, Conflict) as exc:
        flash("未能提出销毁：" + _problem(exc), "error")
    else:
        flash(f"已提出销毁：{a.archival_no}，待另一级法制部门审批。", "ok")
    return redirect(url_for("web.appraisal_page"), code=303)


@bp.route("/appraisal/disposals/<int:appraisal_id>/decision", methods=["POST"])
def appraisal_decide(appraisal_id: int):
    c = caller("web")
    approve = request.form.get("approve") == "1"
    try:
        a = disposal.decide(c, appraisal_id, approve, request.form.get("note", ""))
    except (ValidationFailed, Conflict) as exc:
        flash("未能审批：" + _problem(exc), "error")
    else:
        flash(f"已批准销毁 {a.archival_no}：存储保留期届满后自动销毁，完成后列入销毁清册。" if approve
              else f"未批准销毁 {a.archival_no}，案卷继续保管。", "ok")
    return redirect(request.form.get("back") or url_for("web.appraisal_page"), code=303)


@bp.route("/appraisal/register")
def appraisal_register():
    c = caller("web")
    rows = [disposal.view(a) for a in disposal.disposals(c, "disposed")]
    return render_template("disposal_register.html", rows=rows, tab="register",
                           transfers=policy.transfers_cases(c.principal), section="archives",
                           crumbs=[("档案", url_for("web.appraisal_page")), ("销毁清册", None)])


@bp.route("/appraisal/disposals/<int:appraisal_id>")
def appraisal_disposal(appraisal_id: int):
    c = caller("web")
    row = disposal.disposal(c, appraisal_id)
    a = disposal.view(row)
    if a["status"] == "proposed":  # what the approval would destroy, as the register will list it
        a["register"] = disposal.register(c.session, c.config, row.case_id, row)
    may_decide = a["status"] == "proposed" and policy.approves_disposal(
        c.principal, a["proposed_role"], a["register"].get("agency_code") or _agency(c, a["case_id"]))
    return render_template("disposal.html", a=a, may_decide=may_decide, section="archives", tab="",
                           transfers=policy.transfers_cases(c.principal),
                           crumbs=[("档案", url_for("web.appraisal_page")),
                                   ("销毁清册", url_for("web.appraisal_register")), (a["archival_no"], None)])


def _agency(c, case_id: str) -> str:
    from archive.models import ArchivalFile

    row = c.session.get(ArchivalFile, case_id)
    return row.agency_code if row else ""
