"""``archive powers``: the enforcement powers (职权) of the agencies' basic information."""
from __future__ import annotations

import click


@click.group("powers")
def powers() -> None:
    """Enforcement powers (职权) of the agencies, for the performance ratio."""


@powers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def powers_import(file: str) -> None:
    """Load powers from CSV (UTF-8) or XLSX with the columns agency, code, name, category,
    legal_basis; a file with a bad row changes nothing and every bad row is named."""
    from archive.cli import load_config
    from archive.db import make_engine, make_sessionmaker, upgrade
    from archive.errors import ArchiveError
    from archive.services.powers import import_powers, read_rows

    engine = make_engine(load_config()["DATABASE_URL"])
    upgrade(engine)
    try:
        rows = read_rows(file)
        with make_sessionmaker(engine)() as session:
            n = import_powers(session, rows)
            session.commit()
    except ArchiveError as exc:
        for row, why in exc.errors.items():
            click.echo(f"{row}: {'; '.join(why)}", err=True)
        raise click.ClickException(exc.message) from exc
    click.echo(f"imported {n} powers")
