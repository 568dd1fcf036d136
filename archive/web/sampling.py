"""抽查 pages (city and district offices, auditors): plans, the frozen strata and their digests,
the draw with a seed typed in, the sample with ranks and reviewers, refusals per stratum; the
验证说明 page anyone can redo the draw from; and the results with their exports."""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from archive.auth import policy
from archive.edge.auth import audit_event, caller, current, refuse
from archive.errors import Conflict, ValidationFailed
from archive.extension import db, get_archive
from archive.labels import KIND_NAMES, reviewer_shortfall
from archive.models import Organisation, Review, SamplingPlan
from archive.sampling import service
from archive.services import sampling as app
from archive.services.schemas import PlanCreateSchema
from archive.services.zh_schema import in_chinese
from archive.web.blueprint import bp
from archive.web.layout import org_names, zh, zh_errors
from archive.labels import PLAN_STATUS_NAMES as STATUS_NAMES  # noqa: F401  (the names its callers know)

PLAN_FIELDS = ("name", "period_start", "period_end", "district", "count", "rate", "min_per_stratum",
               "max_per_stratum", "reviewers_per_file", "max_load", "review_deadline")


@bp.route("/sampling")
def plans():
    p = current()
    if not policy.reads_plans(p):
        refuse("sampling_plan", "-", visible=True, why=f"a {p.role} does not read sampling plans")
    rows = [pl for pl in db().scalars(select(SamplingPlan).order_by(SamplingPlan.id.desc())) if policy.reads_plan(current(), pl.district_code)]
    return render_template("plans.html", plans=rows, statuses=STATUS_NAMES, names=org_names(
        pl.district_code for pl in rows if pl.district_code), may_create=policy.sets_plans(p),
        section="sampling", crumbs=[("抽查", None)])


def _district_options() -> list[tuple[str, str]]:
    return [(o.code, o.name) for o in db().scalars(select(Organisation).where(Organisation.level == "district")
                                                     .order_by(Organisation.code))]


@bp.route("/sampling/new", methods=["GET", "POST"])
def plan_new():
    """A plan with the form's Chinese labels: count or rate per stratum, bounds, reviewers."""
    p = current()
    if not policy.sets_plans(p):
        refuse("sampling_plan", "new", visible=True, why="the city office sets sampling plans")
    values: dict = {"kinds": ["penalty"], "reviewers_per_file": str(service.default_reviewers_per_file(db())),
                    "max_load": "10", "min_per_stratum": "0",
                    "mode": "count"}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k, "").strip() for k in PLAN_FIELDS}
        values["kinds"] = form.getlist("kinds")
        values["mode"] = form.get("mode", "count")
        data = {k: v for k, v in values.items() if v not in ("", None) and k != "mode"}
        if values["mode"] == "rate":
            data.pop("count", None)
            if data.get("rate"):
                try:
                    data["rate"] = float(data["rate"]) / 100  # typed as a percentage
                except ValueError:
                    pass
        else:
            data.pop("rate", None)
        try:
            plan = app.create_plan(caller("web"), in_chinese(PlanCreateSchema()).load(data))
        except ValidationError as exc:
            # every mistake at once: the fields that did load are checked against each other too
            valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
            errors = {**zh_errors(service.plan_problems(db(), {**valid, "kinds": values["kinds"]})),
                      **zh_errors(exc.messages)}  # type: ignore[arg-type]
            status = 422
        except ValidationFailed as exc:
            errors, status = zh_errors(exc.errors), 422
        else:
            flash("抽查计划已创建。下一步：冻结各层案卷名单，公布摘要值，再在抽取时输入随机种子。", "ok")
            return redirect(url_for("web.plan", plan_id=plan.id), code=303)
    for key in ("rate",):
        if key in errors:
            errors[key] = ["比例应大于 0、不超过 100%。"]
    return render_template("plan_new.html", values=values, errors=errors, districts=_district_options(),
                           kinds=list(KIND_NAMES.items()), section="sampling",
                           crumbs=[("抽查", url_for("web.plans")), ("新建抽查计划", None)]), status


def _view(plan: SamplingPlan) -> dict:
    view = service.plan_view(db(), plan, agencies=policy.plan_agencies(current()))
    by_number: dict[str, list[dict]] = {}
    for a in view["assignments"]:
        by_number.setdefault(a["case_number"], []).append(a)
    from archive.sampling.draw import rank

    for s in view["strata"]:
        s["rows"] = [{"number": n, "rank": rank(plan.seed, n) if plan.seed else None,
                      "reviews": by_number.get(n, [])} for n in (s["sample"] or [])]
    return view


@bp.route("/sampling/<int:plan_id>")
def plan(plan_id: int):
    pl = app.view_plan(caller("web"), plan_id)
    return _plan_page(pl)


def _plan_page(pl: SamplingPlan, problems: dict | None = None, seed: str = ""):
    """The plan page; ``problems``: a refused draw's reasons by stratum, shown in its rows."""
    view = _view(pl)
    names = org_names([s["agency"] for s in view["strata"]] + ([pl.district_code] if pl.district_code else []))
    eligible = {}
    if pl.status in ("draft", "frozen"):  # how many reviewers could review each agency's files
        agencies = sorted({s["agency"] for s in view["strata"]}) or service.plan_agencies(db(), pl)
        eligible = service.eligible_reviewers(db(), agencies)
        names = names | org_names(agencies)
    return render_template("plan.html", plan=pl, view=view, names=names, statuses=STATUS_NAMES, eligible=eligible,
                           may_withdraw=pl.status == "frozen" and policy.sets_plans(current()),
                           may_draw=policy.draws_plan(current(), pl.district_code), problems=problems or {},
                           kinds=KIND_NAMES, seed=seed, section="sampling",
                           crumbs=[("抽查", url_for("web.plans")), (pl.name, None)])


@bp.route("/sampling/<int:plan_id>/freeze", methods=["POST"])
def plan_freeze(plan_id: int):
    try:
        app.freeze(caller("web"), plan_id)
    except (Conflict, ValidationFailed) as exc:
        flash("未能冻结：" + zh(exc.message), "error")
    else:
        flash("各层案卷名单已冻结，摘要值已记入审计日志。请在抽取前公布摘要值。", "ok")
    return redirect(url_for("web.plan", plan_id=plan_id) + "#strata", code=303)


@bp.route("/sampling/<int:plan_id>/withdraw", methods=["POST"])
def plan_withdraw(plan_id: int):
    """撤回 a frozen plan not yet drawn (the city office), with a reason; the plan is kept."""
    try:
        app.withdraw(caller("web"), plan_id, request.form.get("reason", ""))
    except (Conflict, ValidationFailed) as exc:
        flash("未能撤回：" + (next(iter(exc.errors.values()))[0] if exc.errors else zh(exc.message)), "error")
    else:
        flash("抽查计划已撤回，计划和冻结名单仍保留可查。", "ok")
    return redirect(url_for("web.plan", plan_id=plan_id), code=303)


@bp.route("/sampling/<int:plan_id>/draw", methods=["POST"])
def plan_draw(plan_id: int):
    pl = app.scoped_plan(caller(), plan_id)
    app.may_draw(caller(), pl)
    seed = request.form.get("seed", "").strip()
    session = db()
    try:
        app.draw(caller("web"), plan_id, seed)
    except service.PoolTooSmall as exc:
        flash("评查人员不足，未抽取（已记入审计日志）。各层的原因见下。", "error")
        detail = {stratum: [reviewer_shortfall(f) for f in figures] for stratum, figures in exc.shortfalls.items()}
        return _plan_page(pl, detail, seed), 422
    except ValidationFailed as exc:
        session.rollback()
        flash("请输入随机种子（例如当期公开开奖号码），最多 200 字。" if "seed" in exc.errors else zh(exc.message), "error")
        return redirect(url_for("web.plan", plan_id=plan_id) + "#draw", code=303)
    except Conflict:
        session.rollback()
        flash("这个计划已经抽取过了；抽取不会重做。", "error")
        return redirect(url_for("web.plan", plan_id=plan_id), code=303)
    flash("已抽取并分配评查人员。任何人都可以按“验证说明”复核。", "ok")
    return redirect(url_for("web.plan", plan_id=plan_id) + "#sample", code=303)


@bp.route("/sampling/<int:plan_id>/verify")
def plan_verify(plan_id: int):
    """验证说明: the method in plain Chinese, the frozen populations, the seed and the result as
    files, and a short program that recomputes the selection."""
    pl = app.scoped_plan(caller(), plan_id)
    view = _view(pl)
    problems = service.verify(db(), pl) if pl.status == "drawn" else []
    return render_template("plan_verify.html", plan=pl, view=view, problems=problems, kinds=KIND_NAMES,
                           names=org_names(s["agency"] for s in view["strata"]), section="sampling",
                           crumbs=[("抽查", url_for("web.plans")), (pl.name, url_for("web.plan", plan_id=pl.id)),
                                   ("验证说明", None)])


@bp.route("/sampling/<int:plan_id>/verify/<any(populations, result):what>.json")
def plan_verify_file(plan_id: int, what: str):
    pl = app.scoped_plan(caller(), plan_id)
    view = _view(pl)
    if what == "populations":
        body = {"plan": pl.id, "strata": [{"agency": s["agency"], "kind": s["kind"], "digest": s["digest"],
                                           "k": s["k"], "population": s["population"]} for s in view["strata"]]}
    else:
        body = {"plan": pl.id, "seed": pl.seed, "strata": [{"agency": s["agency"], "kind": s["kind"],
                                                            "sample": s["sample"]} for s in view["strata"]]}
    return Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/json", headers={
        "Content-Disposition": f"attachment; filename=plan-{pl.id}-{what}.json"})


@bp.route("/sampling/<int:plan_id>/results")
def plan_results(plan_id: int):
    """评查结果 per file, agency and district; the files whose reviewers disagree by more than
    the configured margin opened side by side."""
    pl = app.scoped_plan(caller(), plan_id)
    data = service.results(db(), pl, policy.plan_agencies(current()))
    margin = get_archive().config["REVIEW_DISAGREEMENT_POINTS"]
    reviews: dict[str, list[Review]] = {}
    q = select(Review).where(Review.plan_id == pl.id, Review.status == "submitted")
    agencies = policy.plan_agencies(current())
    if agencies is not None:
        q = q.where(Review.agency_code.in_(sorted(agencies)))
    for r in db().scalars(q.order_by(Review.id)):
        reviews.setdefault(r.case_id, []).append(r)
    disputed = {cid for cid, rs in reviews.items()
                if len(rs) > 1 and max(r.score or 0 for r in rs) - min(r.score or 0 for r in rs) > margin}
    audit_event("sample.results", "sampling_plan", str(plan_id), format="page", via="web")
    return render_template("plan_results.html", plan=pl, data=data, reviews=reviews, disputed=disputed,
                           margin=margin, section="sampling",
                           crumbs=[("抽查", url_for("web.plans")), (pl.name, url_for("web.plan", plan_id=pl.id)),
                                   ("评查结果", None)])
