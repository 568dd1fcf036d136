"""``archive powers`` and ``archive basic-info``: the agencies' basic information from tables."""
from __future__ import annotations

import click


def _import_table(kind: str, file: str) -> dict[str, int]:
    """Check and apply one table (all or nothing); every bad row is printed before the error."""
    from archive.cli.base import load_config
    from archive.db import make_engine, make_sessionmaker, upgrade
    from archive.errors import ArchiveError
    from archive.services import basicinfo

    engine = make_engine(load_config()["DATABASE_URL"])
    upgrade(engine)
    try:
        rows = basicinfo.read_file(file, kind)
        with make_sessionmaker(engine)() as session:
            counts = basicinfo.import_rows(session, kind, rows)
            session.commit()
    except ArchiveError as exc:
        for row, why in exc.errors.items():
            click.echo(f"{row}: {'; '.join(why)}", err=True)
        raise click.ClickException(exc.message) from exc
    return counts


@click.group("powers")
def powers() -> None:
    """Enforcement powers (职权) of the agencies, for the performance ratio."""


@powers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def powers_import(file: str) -> None:
    """Load powers from CSV (UTF-8) or XLSX with the columns agency, code, name, category,
    legal_basis; a file with a bad row changes nothing and every bad row is named."""
    click.echo(f"imported {sum(_import_table('powers', file).values())} powers")


@click.group("basic-info")
def basic_info() -> None:
    """Basic information of the agencies: powers, officers, inspection plans."""


@basic_info.command("import")
@click.argument("kind", type=click.Choice(["powers", "officers", "plans"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def basic_info_import(kind: str, file: str) -> None:
    """Load powers, officers or inspection plans from CSV (UTF-8) or XLSX (columns: see
    `GET /api/basic-info/<kind>` or the template on the 基础信息 page); all or nothing, every
    bad row named; a row with action remove deletes its entry."""
    counts = _import_table(kind, file)
    click.echo(f"{kind}: {counts['added']} added, {counts['updated']} updated, {counts['removed']} removed")
