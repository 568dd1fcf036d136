"""Sampling plans, the frozen populations, the draw, its verification and the reviews."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive import audit
from archive.db import compare_and_set, get_or_404
from archive.errors import Conflict, Forbidden, REQUIRED, ValidationFailed
from archive.models import (
    AuditEntry, Case, Organisation, ReviewConflict, Review, SampleStratum, SamplingPlan, User,
)
from archive.sampling import scoring
from archive.sampling.draw import (
    DrawError, Reviewer, SampledFile, assign, population_digest, sample_size, select as draw_select,
)
from archive.clock import SHANGHAI, now as server_now

KINDS = ("penalty", "inspection")


class PoolTooSmall(ValidationFailed):
    """The reviewer pool cannot meet the plan's constraints; ``errors`` by stratum, and
    ``shortfalls`` the same as figures (``labels.reviewer_shortfall`` says them in Chinese)."""

    def __init__(self, message: str, errors: dict, shortfalls: dict) -> None:
        super().__init__(message, errors)
        self.shortfalls = shortfalls


def plan_problems(session: Session, data: dict) -> dict[str, list[str]]:
    """What is wrong with a plan across its fields, in Chinese and English ("中文 / English"),
    from whatever fields are present (the page shows these beside a missing field's message on
    the first submit)."""
    errors: dict[str, list[str]] = {}
    if "kinds" in data:
        kinds = list(dict.fromkeys(data.get("kinds") or []))
        if not kinds or set(kinds) - set(KINDS):
            errors["kinds"] = ["请至少选择一类案卷 / one or more of " + ", ".join(KINDS)]
    start, end, deadline = data.get("period_start"), data.get("period_end"), data.get("review_deadline")
    if start and end and end < start:
        errors["period_end"] = ["抽查期间的结束日期早于开始日期 / the period ends before it starts"]
    if (data.get("count") is None) == (data.get("rate") is None):
        errors["count"] = ["每层抽取份数与抽取比例请填写其一 / give either a count or a rate per stratum"]
    if data.get("rate") is not None and not 0 < data["rate"] <= 1:
        errors["rate"] = ["比例应大于 0、不超过 100% / a rate is more than 0 and at most 1"]
    if data.get("max_per_stratum") is not None and data["max_per_stratum"] < data.get("min_per_stratum", 0):
        errors["max_per_stratum"] = ["每层最多份数小于最少份数 / the maximum is below the minimum"]
    if deadline and end and deadline < end:
        errors["review_deadline"] = ["评查截止日期早于抽查期间的结束日期 / the review deadline is before the end of the period"]
    district = data.get("district")
    if district:
        org = session.get(Organisation, district)
        if org is None or org.level != "district":
            errors["district"] = [f"没有这个区（{district}）/ {district} is not a district"]
    return errors


def create_plan(session: Session, data: dict, by: str) -> SamplingPlan:
    """A plan in draft; validated so that a draw can always be computed from it."""
    kinds = list(dict.fromkeys(data.get("kinds") or []))
    district = data.get("district")
    errors = plan_problems(session, {**data, "kinds": kinds})
    if errors:
        raise ValidationFailed("the sampling plan is not valid", errors)
    plan = SamplingPlan(
        name=data["name"].strip(), period_start=data["period_start"], period_end=data["period_end"],
        kinds=json.dumps(kinds), district_code=district or None, count=data.get("count"), rate=data.get("rate"),
        min_per_stratum=data.get("min_per_stratum", 0), max_per_stratum=data.get("max_per_stratum"),
        reviewers_per_file=data.get("reviewers_per_file", 2), max_load=data.get("max_load", 10),
        review_deadline=data["review_deadline"], created_by=by, created_at=server_now())
    session.add(plan)
    session.flush()
    return plan


def get_plan(session: Session, plan_id: int) -> SamplingPlan:
    return get_or_404(session, SamplingPlan, plan_id, "sampling plan")


def plan_agencies(session: Session, plan: SamplingPlan) -> list[str]:
    """The agencies a plan covers: those of its district, or every agency of the city."""
    q = select(Organisation.code).where(Organisation.level == "agency")
    if plan.district_code:
        q = q.where(Organisation.parent_code == plan.district_code)
    return sorted(session.scalars(q).all())


def freeze(session: Session, plan: SamplingPlan, *, by: str, role: str | None = None) -> SamplingPlan:
    """Store each stratum's eligible population (cases of the agency and kind opened in the
    period) and its digest, and put the digests in the audit trail; before any seed exists.
    Cases stored later never enter a frozen population."""
    if plan.status != "draft":
        raise Conflict(f"the plan is {plan.status} already")
    now = server_now()
    # compare-and-set first: of concurrent freezes one stores the populations
    if not compare_and_set(session, update(SamplingPlan).where(SamplingPlan.id == plan.id, SamplingPlan.status == "draft")
                          .values(status="frozen", frozen_at=now)):
        session.rollback()
        raise Conflict("the plan is frozen already")
    session.refresh(plan)
    digests = {}
    for agency in plan_agencies(session, plan):
        for kind in json.loads(plan.kinds):
            numbers = sorted(session.scalars(select(Case.number).where(
                Case.agency_code == agency, Case.kind == kind, Case.opened_on >= plan.period_start,
                Case.opened_on <= plan.period_end)).all())
            k = sample_size(len(numbers), count=plan.count, rate=plan.rate, minimum=plan.min_per_stratum,
                            maximum=plan.max_per_stratum)
            digest = population_digest(numbers)
            session.add(SampleStratum(plan_id=plan.id, agency_code=agency, kind=kind,
                                      population=json.dumps(numbers, ensure_ascii=False), size=len(numbers),
                                      digest=digest, k=k))
            digests[f"{agency}/{kind}"] = {"size": len(numbers), "k": k, "digest": digest}
    audit.append(session, "sample.freeze", actor=by, role=role, target_type="sampling_plan",
                 target_id=str(plan.id), detail={"strata": digests})
    session.flush()
    return plan


def withdraw(session: Session, plan: SamplingPlan, *, by: str, role: str | None, reason: str) -> SamplingPlan:
    """Withdraw a frozen plan not yet drawn (the city office), with a reason: kept, never drawn,
    audited. A compare-and-set on the frozen status: a draw and a withdrawal never both happen."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请写明撤回理由 / a reason is required", {"reason": ["请写明撤回理由"]})
    if plan.status != "frozen":
        raise Conflict("只能撤回已冻结、尚未抽取的计划 / only a frozen plan not yet drawn is withdrawn")
    now = server_now()
    if not compare_and_set(session, update(SamplingPlan).where(SamplingPlan.id == plan.id, SamplingPlan.status == "frozen")
                          .values(status="withdrawn", withdrawn_at=now, withdrawn_by=by, withdraw_reason=reason[:2000])):
        session.rollback()
        raise Conflict("只能撤回已冻结、尚未抽取的计划 / only a frozen plan not yet drawn is withdrawn")
    audit.append(session, "sample.withdraw", actor=by, role=role, target_type="sampling_plan", target_id=str(plan.id),
                 detail={"reason": reason})
    session.commit()
    session.refresh(plan)
    return plan


def eligible_reviewers(session: Session, agencies: list[str]) -> dict[str, int]:
    """For each agency, how many active reviewers could review its files: not of the agency,
    no conflict declared with it (the load limit is the draw's to apply)."""
    pool = reviewer_pool(session)
    return {a: sum(1 for r in pool if r.agency != a and a not in r.conflict_agencies) for a in agencies}


def default_reviewers_per_file(session: Session) -> int:
    """Two reviewers a file where the pool allows it for every agency, else what it allows (at least one)."""
    from archive.models import Organisation

    agencies = list(session.scalars(select(Organisation.code).where(Organisation.level == "agency")))
    counts = eligible_reviewers(session, agencies).values()
    return max(1, min([2, *counts]))


def reviewer_pool(session: Session) -> list[Reviewer]:
    """Active reviewers with their home agency and declared conflicts, by username."""
    conflicts: dict[str, tuple[set[str], set[str]]] = {}
    for c in session.scalars(select(ReviewConflict)):
        agencies, cases = conflicts.setdefault(c.username, (set(), set()))
        if c.agency_code:
            agencies.add(c.agency_code)
        if c.case_number:
            cases.add(c.case_number)
    users = session.scalars(select(User).where(User.role == "reviewer", User.active.is_(True))
                            .order_by(User.username)).all()
    return [Reviewer(u.username, u.scope_code, frozenset(conflicts.get(u.username, (set(), set()))[0]),
                     frozenset(conflicts.get(u.username, (set(), set()))[1])) for u in users]


def _pool_json(pool: list[Reviewer]) -> str:
    return json.dumps([{"username": r.username, "agency": r.agency, "conflict_agencies": sorted(r.conflict_agencies),
                        "conflict_cases": sorted(r.conflict_cases)} for r in pool], ensure_ascii=False)


def _pool_from_json(text: str) -> list[Reviewer]:
    return [Reviewer(r["username"], r["agency"], frozenset(r["conflict_agencies"]), frozenset(r["conflict_cases"]))
            for r in json.loads(text)]


@dataclass
class Outcome:
    """What a draw gives: per stratum the selection, and the assignments."""

    selected: dict[int, list[str]] = field(default_factory=dict)  # stratum id -> numbers
    assignments: list = field(default_factory=list)


def compute(plan: SamplingPlan, strata: list[SampleStratum], seed: str, pool: list[Reviewer]) -> Outcome:
    """The draw from stored facts only (what ``verify`` recomputes)."""
    out = Outcome()
    files: list[SampledFile] = []
    for s in sorted(strata, key=lambda s: (s.agency_code, s.kind)):
        chosen = draw_select(seed, json.loads(s.population), s.k)
        out.selected[s.id] = chosen
        files.extend(SampledFile(f"{s.agency_code}/{s.kind}", n, s.agency_code) for n in chosen)
    out.assignments = assign(seed, files, pool, plan.reviewers_per_file, plan.max_load).assignments
    return out


def draw(session: Session, plan: SamplingPlan, seed: str, *, by: str, role: str | None = None) -> SamplingPlan:
    """Fix the seed and draw. A draft plan is frozen first (its own commit, so the digests are
    in the audit trail before the seed). A pool that cannot meet the constraints refuses the
    draw, saying which stratum and why; the refusal is audited."""
    seed = (seed or "").strip()
    if not seed or len(seed) > 200:
        raise ValidationFailed("enter the seed (for example the lottery numbers), at most 200 characters",
                               {"seed": ["required, at most 200 characters"]})
    if plan.status == "drawn":
        raise Conflict("the plan has been drawn already; a draw is never repeated")
    if plan.status == "withdrawn":
        raise Conflict("计划已撤回，不能抽取 / the plan was withdrawn")
    if plan.status == "draft":
        freeze(session, plan, by=by, role=role)
        session.commit()
    pool = reviewer_pool(session)
    try:
        outcome = compute(plan, list(plan.strata), seed, pool)
    except DrawError as exc:
        session.rollback()
        audit.append(session, "sample.draw_refused", actor=by, role=role, target_type="sampling_plan",
                     target_id=str(plan.id), detail={"seed": seed, "problems": exc.details})
        session.commit()
        raise PoolTooSmall(exc.message, exc.details, exc.shortfalls) from None
    # compare-and-set: of concurrent draws exactly one moves the plan from frozen to drawn
    if not compare_and_set(session, update(SamplingPlan).where(SamplingPlan.id == plan.id, SamplingPlan.status == "frozen")
                          .values(status="drawn", seed=seed, drawn_at=server_now(), drawn_by=by,
                                  pool=_pool_json(pool))):
        session.rollback()
        raise Conflict("the plan has been drawn already; a draw is never repeated")
    session.refresh(plan)
    numbers = {n for chosen in outcome.selected.values() for n in chosen}
    cases = {c.number: c for c in session.scalars(select(Case).where(Case.number.in_(sorted(numbers))))}
    for s in plan.strata:
        s.selected = json.dumps(outcome.selected[s.id], ensure_ascii=False)
    for a in outcome.assignments:
        case = cases[a.number]
        session.add(Review(plan_id=plan.id, case_id=case.id, case_number=a.number, agency_code=case.agency_code,
                           reviewer=a.reviewer, rank=a.rank, due_on=plan.review_deadline))
    audit.append(session, "sample.draw", actor=by, role=role, target_type="sampling_plan", target_id=str(plan.id),
                 detail={"seed": seed, "sample": {f"{s.agency_code}/{s.kind}": outcome.selected[s.id]
                                                  for s in plan.strata},
                         "assignments": len(outcome.assignments)})
    session.flush()
    return plan


def verify(session: Session, plan: SamplingPlan) -> list[str]:
    """Recompute the draw from the stored populations, seed and pool; every difference found."""
    if plan.status != "drawn" or plan.seed is None or plan.pool is None:
        return [f"plan {plan.id} has not been drawn"]
    problems = []
    for s in plan.strata:
        numbers = json.loads(s.population)
        if population_digest(numbers) != s.digest:
            problems.append(f"{s.agency_code}/{s.kind}: population digest differs from the one recorded")
        if len(numbers) != s.size:
            problems.append(f"{s.agency_code}/{s.kind}: population size differs")
        k = sample_size(len(numbers), count=plan.count, rate=plan.rate, minimum=plan.min_per_stratum,
                        maximum=plan.max_per_stratum)
        if k != s.k:
            problems.append(f"{s.agency_code}/{s.kind}: sample size {s.k} recorded, {k} by the plan")
    recorded = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "sample.draw", AuditEntry.target_id == str(plan.id))).all()
    if not recorded or json.loads(recorded[-1].detail).get("seed") != plan.seed:
        problems.append("the seed differs from the one in the audit trail")
    try:
        outcome = compute(plan, list(plan.strata), plan.seed, _pool_from_json(plan.pool))
    except DrawError as exc:
        return problems + [f"the stored pool cannot give the draw: {exc.details}"]
    for s in plan.strata:
        stored = json.loads(s.selected or "[]")
        if stored != outcome.selected[s.id]:
            problems.append(f"{s.agency_code}/{s.kind}: sample {stored} recorded, {outcome.selected[s.id]} recomputed")
    stored_pairs = sorted((r.case_number, r.reviewer) for r in session.scalars(
        select(Review).where(Review.plan_id == plan.id)))
    computed_pairs = sorted((a.number, a.reviewer) for a in outcome.assignments)
    if stored_pairs != computed_pairs:
        extra = sorted(set(stored_pairs) - set(computed_pairs))
        lacking = sorted(set(computed_pairs) - set(stored_pairs))
        problems.append(f"assignments differ: recorded but not drawn {extra}, drawn but not recorded {lacking}")
    return problems


def plan_view(session: Session, plan: SamplingPlan, *, detail: bool = True,
              agencies: frozenset[str] | None = None) -> dict:
    """The plan; with ``detail``, its strata (populations, digests, samples) and assignments.
    ``agencies`` (None: all) limits whose case numbers and reviewers are shown: other strata
    keep their size and digest (public for verification) without their populations."""
    view = {
        "id": plan.id, "name": plan.name, "period_start": plan.period_start, "period_end": plan.period_end,
        "kinds": json.loads(plan.kinds), "district": plan.district_code, "count": plan.count, "rate": plan.rate,
        "min_per_stratum": plan.min_per_stratum, "max_per_stratum": plan.max_per_stratum,
        "reviewers_per_file": plan.reviewers_per_file, "max_load": plan.max_load,
        "review_deadline": plan.review_deadline, "status": plan.status, "created_by": plan.created_by,
        "created_at": plan.created_at, "frozen_at": plan.frozen_at, "seed": plan.seed, "drawn_at": plan.drawn_at,
        "drawn_by": plan.drawn_by, "withdrawn_at": plan.withdrawn_at, "withdrawn_by": plan.withdrawn_by,
        "withdraw_reason": plan.withdraw_reason,
    }
    if not detail:  # a list of plans reads neither populations nor reviews
        return view
    q = select(Review).where(Review.plan_id == plan.id).order_by(Review.id)
    if agencies is not None:
        q = q.where(Review.agency_code.in_(sorted(agencies)))
    reviews = session.scalars(q).all()

    def shown(s: SampleStratum) -> bool:
        return agencies is None or s.agency_code in agencies

    return view | {
        "strata": [{"agency": s.agency_code, "kind": s.kind, "population_size": s.size, "digest": s.digest,
                    "k": s.k, "population": json.loads(s.population) if shown(s) else None,
                    "sample": json.loads(s.selected) if s.selected is not None and shown(s) else None}
                   for s in plan.strata],
        "assignments": [{"review_id": r.id, "case_id": r.case_id, "case_number": r.case_number,
                         "agency": r.agency_code, "reviewer": r.reviewer, "rank": r.rank, "status": r.status}
                        for r in reviews],
    }


# -- reviewers ---------------------------------------------------------------------------------

def today() -> dt.date:
    return server_now().astimezone(SHANGHAI).date()


def active_assignment(session: Session, username: str, case_id: str, on: dt.date | None = None) -> Review | None:
    """The reviewer's assignment to the case that is still open for reading (deadline not passed)."""
    return session.scalars(select(Review).where(Review.reviewer == username, Review.case_id == case_id,
                                                Review.due_on >= (on or today())).limit(1)).first()


def readable_cases(session: Session, username: str, on: dt.date | None = None) -> list[str]:
    """Ids of the cases a reviewer may read now (assigned, review deadline not passed)."""
    return sorted(set(session.scalars(select(Review.case_id).where(
        Review.reviewer == username, Review.due_on >= (on or today())))))


def declare_conflict(session: Session, username: str, *, agency: str | None, case_number: str | None,
                     reason: str) -> ReviewConflict:
    if not (agency or case_number) or not reason.strip():
        raise ValidationFailed("name the agency or the case, and the reason",
                               {"reason": [REQUIRED], "agency": ["agency or case_number required"]})
    c = ReviewConflict(username=username, agency_code=agency or None, case_number=case_number or None,
                       reason=reason.strip(), declared_at=server_now())
    session.add(c)
    session.flush()
    return c


def submit(session: Session, review: Review, *, by: str, vetoed: list[str], deductions: list[dict],
           note: str = "", form: dict | None = None) -> Review:
    """The assigned reviewer (``by``; who may: ``policy.scores_review``) scores the file once,
    before the review deadline: a compare-and-set on the status, so of concurrent submissions
    (two tabs, a double click) exactly one is recorded and the others are refused."""
    if review.status == "submitted":
        raise Conflict("this review has been submitted already")
    if today() > review.due_on:
        raise Forbidden("the review deadline has passed / 评查期限已过", {"review": ["deadline passed"]})
    result = scoring.score(form or scoring.load_form(), vetoed, deductions)
    if not compare_and_set(session, update(Review).where(Review.id == review.id, Review.status == "assigned").values(
            vetoed=json.dumps(result.vetoed), deductions=json.dumps(result.deductions, ensure_ascii=False),
            form_score=result.form_score, content_score=result.content_score, score=result.score,
            grade=result.grade, note=note.strip() or None, status="submitted", submitted_at=server_now())):
        session.rollback()
        raise Conflict("this review has been submitted already")
    session.refresh(review)
    return review


def save_draft(session: Session, review: Review, *, draft: dict) -> Review:
    """Keep the reviewer's unsubmitted work (vetoes with reasons, deductions, note) to go on
    later; nothing is scored. Refused once submitted or after the deadline."""
    if review.status == "submitted":
        raise Conflict("this review has been submitted already")
    if today() > review.due_on:
        raise Forbidden("the review deadline has passed / 评查期限已过", {"review": ["deadline passed"]})
    if not compare_and_set(session, update(Review).where(Review.id == review.id, Review.status == "assigned").values(
            draft=json.dumps(draft, ensure_ascii=False), draft_saved_at=server_now())):
        session.rollback()
        raise Conflict("this review has been submitted already")
    session.refresh(review)
    return review


def review_view(r: Review) -> dict:
    return {"id": r.id, "plan_id": r.plan_id, "case_id": r.case_id, "case_number": r.case_number,
            "agency": r.agency_code, "reviewer": r.reviewer, "due_on": r.due_on, "status": r.status,
            "submitted_at": r.submitted_at, "vetoed": json.loads(r.vetoed) if r.vetoed else [],
            "deductions": json.loads(r.deductions) if r.deductions else [], "form_score": r.form_score,
            "content_score": r.content_score, "score": r.score, "grade": r.grade, "note": r.note}


# -- results -----------------------------------------------------------------------------------

def results(session: Session, plan: SamplingPlan, agencies: frozenset[str] | None = None) -> dict:
    """Per file (mean of its submitted reviews; any veto makes it 不合格 with 0), then per
    agency and per district: files, reviewed, mean score and the count of each grade."""
    form = scoring.load_form()
    grades = [g["grade"] for g in form["grades"]]
    orgs = {o.code: o for o in session.scalars(select(Organisation))}
    by_case: dict[str, list[Review]] = {}
    for r in session.scalars(select(Review).where(Review.plan_id == plan.id).order_by(Review.case_number)):
        if agencies is None or r.agency_code in agencies:
            by_case.setdefault(r.case_id, []).append(r)
    files = []
    for case_id, rs in by_case.items():
        done = [r for r in rs if r.status == "submitted"]
        score = grade = None
        if done and len(done) == len(rs):
            if any(r.grade == scoring.FAIL and r.vetoed and json.loads(r.vetoed) for r in done):
                score, grade = 0.0, scoring.FAIL
            else:
                score = round(sum(r.score or 0.0 for r in done) / len(done), 2)
                grade = scoring.grade_for(form, score)
        agency = rs[0].agency_code
        district = orgs[agency].parent_code if agency in orgs else None
        files.append({"case_id": case_id, "case_number": rs[0].case_number, "agency": agency,
                      "agency_name": orgs[agency].name if agency in orgs else agency, "district": district,
                      "reviews": len(rs), "submitted": len(done), "score": score, "grade": grade,
                      "reviewers": [r.reviewer for r in rs]})

    def roll(key: str) -> list[dict]:
        groups: dict[str, list[dict]] = {}
        for f in files:
            groups.setdefault(str(f[key] or ""), []).append(f)
        out = []
        for code, fs in sorted(groups.items()):
            scored = [f["score"] for f in fs if f["score"] is not None]
            out.append({"code": code, "name": orgs[code].name if code in orgs else code, "files": len(fs),
                        "scored": len(scored), "mean_score": round(sum(scored) / len(scored), 2) if scored else None,
                        "grades": {g: sum(1 for f in fs if f["grade"] == g) for g in grades}})
        return out

    return {"plan_id": plan.id, "name": plan.name, "status": plan.status, "files": files,
            "agencies": roll("agency"), "districts": roll("district")}
