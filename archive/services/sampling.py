"""Sampling (抽查) as the caller may do it: plans, freeze, withdrawal, the draw and reviews. The
draw itself (strata, digests, the seeded order) is ``archive.sampling``; this layer adds who may,
the commit and the audit entry."""
from __future__ import annotations

from archive.auth import policy
from archive.errors import NotFound
from archive.models import Review, SamplingPlan
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


def _committed(c: Caller, work):
    try:
        out = work()
        c.session.commit()
        return out
    except Exception:
        c.session.rollback()
        raise


def create_plan(c: Caller, data: dict) -> SamplingPlan:
    """Set a sampling plan (city office only); audited."""
    if not policy.sets_plans(c.principal):
        c.refuse("sampling_plan", "new", visible=True, why="the city office sets sampling plans")
    plan = _committed(c, lambda: service.create_plan(c.session, data, c.username))
    c.audit("sample.plan", "sampling_plan", str(plan.id), name=plan.name)
    return plan


def freeze(c: Caller, plan_id: int) -> SamplingPlan:
    """Freeze the eligible populations and record their digests (before any seed is known)."""
    plan = scoped_plan(c, plan_id)
    may_draw(c, plan)
    _committed(c, lambda: service.freeze(c.session, plan, by=c.username, role=c.principal.role))
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
    _committed(c, lambda: service.draw(c.session, plan, seed, by=c.username, role=c.principal.role))
    return plan


def scoped_review(c: Caller, review_id: int) -> Review:
    """The review if the caller may read it (its reviewer, or the scope over its agency)."""
    review = c.session.get(Review, review_id)
    if review is None:
        raise NotFound("no such review")
    if not policy.reads_review(c.principal, review.reviewer, review.agency_code):
        c.refuse("review", str(review_id), visible=False, why="not your review")
    return review
