"""``archive examine``: identify the format of stored versions, check them against the format
policy and verify the signatures and seals inside them again (derived data)."""
from __future__ import annotations

import click


@click.command("examine")
@click.option("--missing", "which", flag_value="missing", help="current versions not examined yet")
@click.option("--all", "which", flag_value="all", help="every current version again (after new trust roots or a new policy)")
@click.option("--document", "doc_id", default=None, help="one document, by id")
@click.option("--queue-only", is_flag=True, help="queue the jobs for the workers instead of running them here")
def examine(which: str | None, doc_id: str | None, queue_only: bool) -> None:
    """Queue (and, unless --queue-only, run here) the examination of documents' current versions:
    format (PRONOM), encryption, format policy, signatures and seals."""
    from archive.cli.base import _archive, load_config, running_store
    from archive.services import examinations as service
    from archive.worker import Context, run_jobs

    if (which is None) == (doc_id is None):
        raise click.UsageError("give one of --missing, --all or --document ID")
    cfg = load_config()
    with running_store(cfg):
        archive = _archive(cfg)
        with archive.sessions() as session:
            n = service.queue(session, "document" if doc_id else which or "missing", doc_id)
        click.echo(f"queued {n} examinations")
        if queue_only or n == 0:
            return
        ctx = Context.of(archive)
        while run_jobs(ctx, "examine-cli", ("examine",), batch=50):
            pass
        with archive.sessions() as session:
            s = service.summary(session)
        click.echo(f"examined {s['examined']}, pending {s['pending']}, outside the format policy {s['outside_policy']}, "
                   f"encrypted or protected {s['protected']}, with a signature not verified {s['signatures_not_verified']}")
