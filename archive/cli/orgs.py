"""``archive`` commands — organisations and demo data."""
from __future__ import annotations



import click

from archive.cli.base import _archive, load_config, main, running_store


@main.group()
def orgs() -> None:
    """Organisations: city → district → agency."""


@orgs.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def orgs_import(file: str) -> None:
    """Load organisations from CSV (code,level,parent,name) or JSON."""
    cfg = load_config()
    from archive.db import make_engine, make_sessionmaker, upgrade
    from archive.errors import ArchiveError
    from archive.services.orgs import import_orgs, parse_org_file

    engine = make_engine(cfg["DATABASE_URL"])
    upgrade(engine)
    try:
        rows = parse_org_file(file)
        with make_sessionmaker(engine)() as session:
            n = import_orgs(session, rows)
            session.commit()
    except (ArchiveError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {n} organisations")


@orgs.command("list")
def orgs_list() -> None:
    """One organisation per line: code, level, parent code, name (tab-separated)."""
    cfg = load_config()
    from archive.db import make_engine, make_sessionmaker, upgrade
    from archive.services.orgs import list_orgs

    engine = make_engine(cfg["DATABASE_URL"])
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        for o in list_orgs(session):
            click.echo(f"{o.code}\t{o.level}\t{o.parent_code or ''}\t{o.name}")


@main.command()
@click.option("--cases", type=int, default=36, help="how many cases")
def demo(cases: int) -> None:
    """Load demo data (武清区, its agencies, cases with Chinese DOCX and PDF documents)."""
    cfg = load_config()
    from archive.db import is_empty
    from archive.demo import load_demo

    with running_store(cfg):
        archive = _archive(cfg)
        if not is_empty(archive.engine):
            raise click.ClickException("the database already holds cases; demo data goes into an empty instance")
        n = load_demo(archive, cases=cases, echo=click.echo)
    click.echo(f"demo data loaded: {cases} cases, {n} documents")
