"""评查 pages for reviewers: the assigned files with deadlines and progress; one file read-only
(its binder drawn in the page) beside the scoring form from ``forms/review_form.json``, with a
running total, a draft and the submission; declaring a conflict of interest."""
from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import caller, current, refuse
from archive.services import sampling as app
from archive.errors import Conflict, Forbidden, ValidationFailed
from archive.extension import db
from archive.models import Organisation, Review, SamplingPlan
from archive.sampling import scoring, service
from archive.web.blueprint import bp
from archive.web.layout import org_names, zh


@bp.route("/reviews")
def reviews():
    """A reviewer's assignments, the open ones first, with the plan, deadline and progress."""
    p = current()
    if not policy.works_from_assignments(p):
        if policy.lists_reviews(p):
            return redirect(url_for("web.plans"))
        refuse("review", "-", visible=True, why=f"a {p.role} does not read reviews")
    session = db()
    rows = session.execute(select(Review, SamplingPlan.name).join(SamplingPlan, SamplingPlan.id == Review.plan_id)
                           .where(Review.reviewer == p.username)
                           .order_by((Review.status == "submitted"), Review.due_on, Review.id)).all()
    done = sum(1 for r, _ in rows if r.status == "submitted")
    return render_template("reviews.html", rows=rows, done=done, today=service.today(),
                           names=org_names(r.agency_code for r, _ in rows), section="reviews",
                           crumbs=[("评查任务", None)])


def _form_values(form) -> tuple[dict, dict]:
    """(draft as stored, {"vetoed", "deductions", "note"} for scoring) from the posted form."""
    review_form = scoring.load_form()
    vetoed = [v["code"] for v in review_form["veto"] if form.get(f"veto_{v['code']}")]
    veto_reasons = {code: form.get(f"veto_reason_{code}", "").strip()[:500] for code in vetoed}
    raw: dict[str, dict] = {}
    for section in review_form["sections"]:
        for item in section["items"]:
            points = form.get(f"points_{item['code']}", "").strip()
            reason = form.get(f"reason_{item['code']}", "").strip()[:2000]
            if points or reason:
                raw[item["code"]] = {"points": points, "reason": reason}
    note = form.get("note", "").strip()[:5000]
    draft = {"vetoed": vetoed, "veto_reasons": veto_reasons, "deductions": raw, "note": note}
    return draft, {"vetoed": vetoed, "veto_reasons": veto_reasons, "raw": raw, "note": note}


def _check(values: dict) -> tuple[list[dict], dict[str, str]]:
    """Deductions as numbers, and the errors by field name (in Chinese, next to the field)."""
    review_form = scoring.load_form()
    maxima = {i["code"]: i["max"] for s in review_form["sections"] for i in s["items"]}
    errors: dict[str, str] = {}
    out = []
    for code, d in values["raw"].items():
        try:
            points = float(d["points"]) if d["points"] else 0.0
        except ValueError:
            errors[f"points_{code}"] = "请填写数字。"
            continue
        if points <= 0 and d["reason"]:
            errors[f"points_{code}"] = "写了扣分理由，请填写扣分（大于 0）。"
        elif points > maxima[code]:
            errors[f"points_{code}"] = f"此项最多扣 {maxima[code]:g} 分。"
        elif points > 0 and not d["reason"]:
            errors[f"reason_{code}"] = "扣分须写明理由。"
        elif points > 0:
            out.append({"item": code, "points": points, "reason": d["reason"]})
    for code in values["vetoed"]:
        if not values["veto_reasons"].get(code):
            errors[f"veto_reason_{code}"] = "否决须写明理由。"
    return out, errors


@bp.route("/reviews/<int:review_id>", methods=["GET", "POST"])
def review(review_id: int):
    p = current()
    session = db()
    r = app.scoped_review(caller(), review_id)
    mine = policy.scores_review(p, r.reviewer)
    errors: dict[str, str] = {}
    status = 200
    draft = json.loads(r.draft) if r.draft else {"vetoed": [], "veto_reasons": {}, "deductions": {}, "note": ""}
    if request.method == "POST":
        if not mine:
            refuse("review", str(review_id), visible=True, why="only the assigned reviewer scores this file")
        draft, values = _form_values(request.form)
        deductions, errors = _check(values)
        submit = request.form.get("action") == "submit"
        try:
            if submit and not errors:
                note = values["note"]
                if values["vetoed"]:  # the reasons for failed veto items are part of the record
                    reasons = "；".join(f"{c}：{values['veto_reasons'][c]}" for c in values["vetoed"])
                    note = f"否决理由：{reasons}" + (f"\n{note}" if note else "")
                r = app.submit_review(caller("web"), review_id, vetoed=values["vetoed"], deductions=deductions,
                                      note=note)
                flash(f"评分已提交：{r.score:g} 分，{r.grade}。", "ok")
                return redirect(url_for("web.review", review_id=review_id), code=303)
            app.save_review_draft(caller("web"), review_id, draft)
            if submit:
                status = 422
            else:
                flash("草稿已保存。", "ok")
                return redirect(url_for("web.review", review_id=review_id), code=303)
        except ValidationFailed as exc:
            errors["form"] = "；".join(zh(m) for ms in exc.errors.values() for m in ms) or zh(exc.message)
            status = 422
        except (Conflict, Forbidden) as exc:
            flash("未能保存：" + ("评分已提交，不能再修改。" if isinstance(exc, Conflict) else "评查期限已过。"), "error")
            return redirect(url_for("web.review", review_id=review_id), code=303)
    plan = session.get(SamplingPlan, r.plan_id)
    agency = session.get(Organisation, r.agency_code)
    from archive.services.officers import precheck

    return render_template(
        "review.html", r=r, plan=plan, agency=agency, form=scoring.load_form(), draft=draft, errors=errors,
        prechecks=precheck(session, r.case_id),
        mine=mine, editable=mine and r.status == "assigned" and service.today() <= r.due_on,
        submitted=service.review_view(r) if r.status == "submitted" else None,
        section="reviews", crumbs=[("评查任务", url_for("web.reviews")), (r.case_number, None)]), status


@bp.route("/reviews/conflicts", methods=["POST"])
def review_conflict():
    """回避: the reviewer declares a conflict with this file's case or its whole agency."""
    p = current()
    if not policy.declares_conflicts(p):  # refused before the form is read
        refuse("review_conflict", "new", visible=True, why="reviewers declare their own conflicts")
    r = app.scoped_review(caller(), int(request.form.get("review", "0") or 0)) if (request.form.get("review", "").isdecimal()
                                                             and len(request.form["review"]) < 10) else None
    if r is None or r.reviewer != p.username:
        flash("请从评查任务页声明回避。", "error")
        return redirect(url_for("web.reviews"), code=303)
    reason = request.form.get("reason", "").strip()[:2000]
    if not reason:
        flash("声明回避须写明理由。", "error")
        return redirect(url_for("web.review", review_id=r.id) + "#conflict", code=303)
    whole_agency = request.form.get("scope") == "agency"
    app.declare_conflict(caller("web"), agency=r.agency_code if whole_agency else None,
                         case_number=None if whole_agency else r.case_number, reason=reason)
    flash("回避声明已登记：今后的抽查不会再把" + ("该机关的案卷" if whole_agency else "该案卷") + "分配给您。"
          "已分配的本案卷请联系组织抽查的法制办另行安排。", "ok")
    return redirect(url_for("web.review", review_id=r.id), code=303)
