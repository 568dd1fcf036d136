"""``archive`` commands — integrity: reconcile the catalog with the store, rebuild from storage, fixity, migrations."""
from __future__ import annotations

import sys

import click

from archive.cli.base import _archive, _run, load_config, main, running_store


@main.command()
@click.option("--repair", is_flag=True, help="recreate rows for orphans from their metadata and rewrite stale case manifests")
def reconcile(repair: bool) -> None:
    """Report stored objects without a database row (orphans) and rows whose object is missing;
    with --repair, catalogue the orphans (queued for indexing) and rewrite case manifests."""
    cfg = load_config()
    from archive.services.reconcile import reconcile as do_reconcile, repair as do_repair

    with running_store(cfg):
        archive = _archive(cfg)
        with archive.sessions() as session:
            report = do_reconcile(session, archive.store)
            if repair:
                fixed = do_repair(session, archive.store, archive.ingest_settings, report)
                for line in fixed:
                    click.echo(f"repaired\t{line}")
                report = do_reconcile(session, archive.store)
    click.echo(f"checked {report.checked_objects} objects and {report.checked_rows} rows")
    for o in report.orphans:
        meta = o["metadata"]
        click.echo(f"orphan\t{o['key']}\t{o['version_id']}\t{meta.get('case-number', '')}\t"
                   f"{meta.get('filename', '')}\t{meta.get('sha256', '')}")
    for m in report.missing:
        click.echo(f"missing\t{m['key']}\t{m['version_id']}\tdocument {m['document_id']}")
    if report.orphans or report.missing:
        sys.exit(1)
    click.echo("consistent")


@main.command()
@click.option("--from-storage", "from_storage", is_flag=True, required=True,
              help="read the catalog from the object store's metadata and case manifests")
def rebuild(from_storage: bool) -> None:
    """Disaster recovery: recreate organisations, cases, stages, documents and their versions in
    an EMPTY database from the object store alone, then rebuild the index."""
    from archive.indexing.queue import reindex
    from archive.services.rebuild import rebuild as do_rebuild

    cfg = load_config()
    with running_store(cfg):
        archive = _archive(cfg)
        with archive.sessions() as session:
            try:
                report = do_rebuild(session, archive.store)
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from exc
        click.echo(f"rebuilt {report.cases} cases, {report.documents} documents ({report.versions} versions), "
                   f"{report.renditions} renditions")
        for p in report.problems:
            click.echo(f"problem: {p}", err=True)
        n = reindex(archive.sessions, archive.store, archive.index, re_extract=True, limits=archive.extract_limits,
                    procs=cfg["INDEX_PROCS"])
    click.echo(f"reindexed {n} index entries")


@main.command()
@click.option("--sample", "sample_n", type=click.IntRange(min=1), default=None, help="check N documents drawn at random")
@click.option("--all", "check_all", is_flag=True, help="check every document (all versions)")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="without --all or --sample: the N least recently checked documents")
def fixity(sample_n: int | None, check_all: bool, limit: int) -> None:
    """Re-read stored objects and compare their SHA-256 with the catalog and their metadata;
    every check is recorded, failures become warnings; exit 1 if any failed."""
    from archive.deadlines.rules import load_rules
    from archive.deadlines.store import load_calendar
    from archive.services import fixity as service
    from archive.clock import now

    cfg = load_config()
    with running_store(cfg):
        archive = _archive(cfg)
        with archive.sessions() as session:
            report = _run(lambda: service.run(session, archive.store, load_rules(), load_calendar(session), now(),
                                              sample=sample_n, limit=None if (check_all or sample_n) else limit))
    click.echo(f"checked {report.checked} object versions: {report.ok} ok, {len(report.failures)} failed")
    for f in report.failures:
        click.echo(f"{f['result'].upper()}: document {f['document_id']} {f['key']} version {f['version_id']}: "
                   f"{f['detail']}")
    if report.failures:
        sys.exit(1)


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest."""
    from archive.db import make_engine, upgrade

    upgrade(make_engine(load_config()["DATABASE_URL"]))
    click.echo("database schema is current")
