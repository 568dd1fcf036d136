"""Sampling (抽查) as the caller may do it: plans, freeze, withdrawal, the draw and reviews. The
draw itself (strata, digests, the seeded order) is ``archive.sampling``; this layer adds who may,
the commit and the audit entry."""
from __future__ import annotations

from archive.auth import policy
from archive.errors import NotFound, ValidationFailed
from archive.models import Organisation, Review, SamplingPlan
from archive.sampling import service
from archive.services.caller import Caller


def scoped_plan(c: Caller, plan_id: int) -> SamplingPlan:
    """The plan if the caller may see it; else the 404 a missing id gets."""
    plan = service.get_plan(c.session, plan_id)
    if not policy.reads_plan(c.principal, plan.district_code):
        c.refuse("sampling_plan", str(plan_id), visible=False, why="outside your scope")
    return plan


def view_plan(c: Caller, plan_id: int) -> SamplingPlan:
    plan = scoped_plan(c, plan_id)
    c.audit("sample.view", "sampling_plan", str(plan_id))
    return plan


def may_draw(c: Caller, plan: SamplingPlan) -> None:
    """The city office, or the office of the plan's district, freezes and draws (else 403)."""
    if not policy.draws_plan(c.principal, plan.district_code):
        c.refuse("sampling_plan", str(plan.id), visible=True,
                 why="the city office, or the office of the plan's district, freezes and draws")


def create_plan(c: Caller, data: dict) -> SamplingPlan:
    """Set a sampling plan (city office only); audited."""
    if not policy.sets_plans(c.principal):
        c.refuse("sampling_plan", "new", visible=True, why="the city office sets sampling plans")
    plan = _in(c, lambda: service.create_plan(c.session, data, c.username))
    c.audit("sample.plan", "sampling_plan", str(plan.id), name=plan.name)
    return plan


def freeze(c: Caller, plan_id: int) -> SamplingPlan:
    """Freeze the eligible populations and record their digests (before any seed is known)."""
    plan = scoped_plan(c, plan_id)
    may_draw(c, plan)
    _in(c, lambda: service.freeze(c.session, plan, by=c.username, role=c.principal.role))
    return plan


def withdraw(c: Caller, plan_id: int, reason: str) -> SamplingPlan:
    """Withdraw a frozen plan not yet drawn (the city office), with a reason; it is kept."""
    plan = scoped_plan(c, plan_id)
    if not policy.sets_plans(c.principal):
        c.refuse("sampling_plan", str(plan.id), visible=True, why="the city office withdraws plans")
    try:
        service.withdraw(c.session, plan, by=c.username, role=c.principal.role, reason=reason)
    except Exception:
        c.session.rollback()
        raise
    return plan


def draw(c: Caller, plan_id: int, seed: str) -> SamplingPlan:
    """Draw with the seed entered now; freezes first if needed (``PoolTooSmall`` names the
    strata whose constraints the reviewer pool cannot meet)."""
    plan = scoped_plan(c, plan_id)
    may_draw(c, plan)
    _in(c, lambda: service.draw(c.session, plan, seed, by=c.username, role=c.principal.role))
    return plan


def scoped_review(c: Caller, review_id: int) -> Review:
    """The review if the caller may read it (its reviewer, or the scope over its agency)."""
    review = c.session.get(Review, review_id)
    if review is None:
        raise NotFound("no such review")
    if not policy.reads_review(c.principal, review.reviewer, review.agency_code):
        c.refuse("review", str(review_id), visible=False, why="not your review")
    return review


def _mine(c: Caller, review_id: int) -> Review:
    review = scoped_review(c, review_id)
    if not policy.scores_review(c.principal, review.reviewer):
        c.refuse("review", str(review_id), visible=True, why="only the assigned reviewer scores this file")
    return review


def submit_review(c: Caller, review_id: int, *, vetoed: list[str], deductions: list[dict], note: str) -> Review:
    """The assigned reviewer submits the score: failed veto items, deductions with reasons (once,
    before the deadline)."""
    review = _mine(c, review_id)
    _in(c, lambda: service.submit(c.session, review, by=c.username, vetoed=vetoed, deductions=deductions,
                                         note=note))
    c.audit("review.submit", "review", str(review_id), score=review.score, grade=review.grade)
    return review


def save_review_draft(c: Caller, review_id: int, draft: dict) -> Review:
    """The reviewer's work in progress, kept until submitted."""
    review = _mine(c, review_id)
    _in(c, lambda: service.save_draft(c.session, review, draft=draft))
    c.audit("review.draft", "review", str(review_id))
    return review


def declare_conflict(c: Caller, *, agency: str | None, case_number: str | None, reason: str):
    """A reviewer declares a conflict of interest with an agency or a case (回避)."""
    if not policy.declares_conflicts(c.principal):
        c.refuse("review_conflict", "new", visible=True, why="reviewers declare their own conflicts")
    if agency and c.session.get(Organisation, agency) is None:
        raise ValidationFailed("unknown agency", {"agency": ["no such organisation"]})
    conflict = _in(c, lambda: service.declare_conflict(c.session, c.username, agency=agency,
                                                              case_number=case_number, reason=reason))
    c.audit("review.conflict", "review_conflict", str(conflict.id), agency=conflict.agency_code,
            case=conflict.case_number)
    return conflict


def _in(c: Caller, work):
    """``work()`` in the caller's transaction; its result."""
    with c.transaction():
        return work()
