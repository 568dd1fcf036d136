"""``archive report monthly``: the monthly briefing (月度简报) as DOCX, CSV or XLSX."""
from __future__ import annotations

from pathlib import Path

import click


@click.group("report")
def report() -> None:
    """Reports for the district and city offices."""


@report.command("monthly")
@click.option("--month", required=True, help="YYYY-MM, e.g. 2026-10")
@click.option("--district", default=None, help="only this district's agencies (default: all)")
@click.option("--format", "fmt", type=click.Choice(["docx", "csv", "xlsx"]), default="docx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="file to write (default: 月度简报-<area>-<month>.<format> here)")
def report_monthly(month: str, district: str | None, fmt: str, output: str | None) -> None:
    """The month's briefing: summary figures, the ranking of the agencies with each scoring
    component, charts (DOCX), and the warnings that climbed to level 2 or 3."""
    from archive.cli.base import load_config
    from archive.db import make_engine, make_sessionmaker, upgrade
    from archive.models import Organisation
    from archive.services import briefing
    from archive.clock import now
    from archive.clock import check_month

    try:
        check_month(month)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    config = load_config()
    engine = make_engine(config["DATABASE_URL"])
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        if district is not None:
            org = session.get(Organisation, district)
            if org is None or org.level != "district":
                raise click.BadParameter(f"no district {district}", param_hint="--district")
            title = org.name
        else:
            from sqlalchemy import select

            title = session.scalar(select(Organisation.name).where(Organisation.level == "city")
                                   .order_by(Organisation.code)) or "全市"
        data = briefing.monthly(session, month, None, config, now(), district=district, title=title)
    body = briefing.render(data, fmt)
    path = Path(output or briefing.filename(data, fmt))
    path.write_bytes(body)
    s = data["summary"]
    click.echo(f"{path}: {len(data['agencies'])} agencies, {s['scored']} scored, mean {s['mean_score']}, "
               f"{s['warnings_opened']} warnings opened ({len(body)} bytes)")
