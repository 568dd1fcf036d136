"""``archive`` commands — working-day calendars and deadline warnings."""
from __future__ import annotations



import click

from archive.cli.base import _sessions, failure, load_config, main


@main.group()
def calendar() -> None:
    """Working-day calendars: statutory holidays and make-up working days per year."""


@calendar.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def calendar_load(file: str) -> None:
    """Load (or replace) one year from a JSON file {"year", "holidays": [...], "workdays": [...]}."""
    from archive.deadlines.calendar import load_file
    from archive.errors import ArchiveError

    try:
        cal = load_file(file)
    except ArchiveError as exc:
        raise failure(exc.message) from exc
    from archive.deadlines.service import load_year

    with _sessions(load_config())() as session:
        load_year(session, cal, by="cli", via="cli")
    click.echo(f"calendar {cal.year} loaded: {len(cal.holidays)} holidays, {len(cal.workdays)} make-up working days")


@calendar.command("show")
@click.argument("year", type=int, required=False)
def calendar_show(year: int | None) -> None:
    """One line per year (year, source, holidays, make-up days), or the days of YEAR."""
    from archive.deadlines.store import load_calendar

    with _sessions(load_config())() as session:
        cal = load_calendar(session)
    if year is None:
        for y in sorted(cal.years):
            c = cal.years[y]
            click.echo(f"{y}\t{c.source}\t{len(c.holidays)} holidays\t{len(c.workdays)} make-up working days")
        return
    if year not in cal.years:
        raise click.ClickException(f"calendar missing for {year}: load it with `archive calendar load FILE`")
    c = cal.years[year]
    click.echo(f"{year} ({c.source})")
    click.echo("holidays: " + " ".join(d.isoformat() for d in sorted(c.holidays)))
    click.echo("make-up working days: " + " ".join(d.isoformat() for d in sorted(c.workdays)))


@main.group()
def warnings() -> None:
    """Warnings: scan cases for them, escalate unhandled ones (replayable with --now)."""


def _now_option(now: str | None):
    import datetime as dt

    from archive.clock import SHANGHAI, now as server_now

    if not now:
        return server_now()
    value = dt.datetime.fromisoformat(now)
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


@warnings.command("scan")
@click.option("--now", default=None, help="ISO time to evaluate at (default: the clock)")
@click.option("--incremental", is_flag=True, help="only cases changed or due since they were last checked")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="processes, each scanning a range of case ids")
def warnings_scan(now: str | None, incremental: bool, workers: int) -> None:
    """Evaluate the cases and store new warnings (once per fact)."""
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import parallel_scan, scan

    config = load_config()
    with _sessions(config)() as session:
        calendar = load_calendar(session)
        if workers == 1:
            report = scan(session, load_rules(), calendar, _now_option(now), incremental=incremental)
    if workers > 1:
        report = parallel_scan(config["DATABASE_URL"], load_rules(), calendar, _now_option(now), workers,
                               incremental=incremental)
    click.echo(f"scanned {report.cases} cases: {report.new} new warnings")


@warnings.command("escalate")
@click.option("--now", default=None, help="ISO time to escalate at (default: the clock)")
def warnings_escalate(now: str | None) -> None:
    """Move unhandled warnings up a level when their time to be handled has passed."""
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.deadlines.warnings import escalate

    with _sessions(load_config())() as session:
        moved = escalate(session, load_rules(), load_calendar(session), _now_option(now))
    click.echo(f"escalated {moved} warnings")
