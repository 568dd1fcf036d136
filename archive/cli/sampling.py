"""``archive`` commands — sampling plans: freeze, draw, verify."""
from __future__ import annotations

import sys

import click

from archive.cli.base import _run, _sessions, load_config, main


@main.group()
def sample() -> None:
    """Sampling plans: freeze the populations, draw with a seed, verify a draw."""


@sample.command("freeze")
@click.argument("plan_id", type=int)
@click.option("--by", default="cli", show_default=True, help="who freezes (recorded in the audit trail)")
def sample_freeze(plan_id: int, by: str) -> None:
    """Freeze the eligible populations and record their digests (before the seed is known)."""
    from archive.sampling import service

    with _sessions(load_config())() as session:
        plan = _run(lambda: service.freeze(session, service.get_plan(session, plan_id), by=by))
        session.commit()
        for s in plan.strata:
            click.echo(f"{s.agency_code}/{s.kind}: {s.size} files, take {s.k}, sha256 {s.digest}")


@sample.command("draw")
@click.argument("plan_id", type=int)
@click.option("--seed", required=True, help="the value entered at the draw, e.g. public lottery numbers")
@click.option("--by", default="cli", show_default=True, help="who draws (recorded in the audit trail)")
def sample_draw(plan_id: int, seed: str, by: str) -> None:
    """Draw the sample and the reviewers with SEED (freezes first if needed)."""
    import json

    from archive.models import Review
    from archive.sampling import service

    with _sessions(load_config())() as session:
        plan = _run(lambda: service.draw(session, service.get_plan(session, plan_id), seed, by=by))
        session.commit()
        for s in plan.strata:
            click.echo(f"{s.agency_code}/{s.kind}: {s.size} files, sha256 {s.digest}, "
                       f"sample {' '.join(json.loads(s.selected or '[]')) or '(none)'}")
        from sqlalchemy import select

        for r in session.scalars(select(Review).where(Review.plan_id == plan.id).order_by(Review.id)):
            click.echo(f"  {r.case_number} → {r.reviewer}")


@sample.command("verify")
@click.argument("plan_id", type=int)
def sample_verify(plan_id: int) -> None:
    """Recompute the draw from the stored populations, seed and pool; exit 1 on any difference."""
    from archive.sampling import service

    with _sessions(load_config())() as session:
        plan = _run(lambda: service.get_plan(session, plan_id))
        problems = service.verify(session, plan)
    if problems:
        for p in problems:
            click.echo(f"DIFFERS: {p}", err=True)
        sys.exit(1)
    click.echo(f"plan {plan_id}: the draw recomputes exactly (seed {plan.seed!r}, "
               f"{sum(s.k for s in plan.strata)} files)")
