"""``archive renditions``: make the PDF/A renditions of editable documents again (derived data)."""
from __future__ import annotations

import click


@click.command("renditions")
@click.option("--missing", "which", flag_value="missing", help="documents whose current version has no rendition")
@click.option("--all", "which", flag_value="all", help="every editable document (failed ones are tried again)")
@click.option("--document", "doc_id", default=None, help="one document, by id")
@click.option("--queue-only", is_flag=True, help="queue the jobs for the workers instead of running them here")
def renditions(which: str | None, doc_id: str | None, queue_only: bool) -> None:
    """Queue (and, unless --queue-only, make here) the PDF/A renditions of DOCX, DOC, ODT, RTF and
    WPS documents; a rendition already made is never replaced."""
    from archive.cli.base import _archive, failure, load_config, running_store
    from archive.services import renditions as service
    from archive.worker import Context, render_settings, run_jobs

    if (which is None) == (doc_id is None):
        raise click.UsageError("give one of --missing, --all or --document ID")
    cfg = load_config()
    with running_store(cfg):
        archive = _archive(cfg)
        with archive.sessions() as session:
            n = service.queue(session, "document" if doc_id else which or "missing", doc_id)
        if doc_id is not None and n == 0:
            click.echo(f"document {doc_id}: no rendition to make (not editable, unknown, or made already)")
        else:
            click.echo(f"queued {n} renditions")
        if queue_only or n == 0:
            return
        render = render_settings(cfg)
        if render is None:
            raise failure("LibreOffice is not installed (or ARCHIVE_LIBREOFFICE=off): the workers that have it make them")
        ctx = Context.of(archive)
        done = 0
        while True:
            k = run_jobs(ctx, "renditions-cli", ("render",), batch=10)
            done += k
            if k == 0:
                break
            click.echo(f"{done}/{n} made", err=True)
        with archive.sessions() as session:
            s = service.summary(session)
        click.echo(f"renditions: {s['done']} made, {s['failed']} failed, {s['pending']} pending")
