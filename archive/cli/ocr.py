"""``archive ocr``: read documents again (stored before OCR existed, or after a model change)."""
from __future__ import annotations

import time

import click


@click.command("ocr")
@click.option("--missing", "which", flag_value="missing", help="images and scans that have no text yet")
@click.option("--all", "which", flag_value="all", help="every image and scan (after a model change)")
@click.option("--document", "doc_id", default=None, help="one document, by id")
def ocr(which: str | None, doc_id: str | None) -> None:
    """Recognise the text of scanned PDFs and images, with progress; the index worker (or
    `archive worker --once`) then indexes what was read."""
    from archive.cli.base import _archive, failure, load_config, running_store
    from archive.ocr.jobs import drain_ocr, enqueue_ocr, select_documents
    from archive.models import Job

    if (which is None) == (doc_id is None):
        raise click.UsageError("give one of --missing, --all or --document ID")
    cfg = load_config()
    if cfg["OCR_ENGINE"] == "off":
        raise click.ClickException("OCR is off (ARCHIVE_OCR_ENGINE=off)")
    with running_store(cfg):
        archive = _archive(cfg)
        runner = archive.ocr_runner
        try:
            click.echo(f"OCR engine: {runner.check()}", err=True)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        from sqlalchemy import select

        with archive.sessions() as session:
            ids = select_documents(session, missing=which == "missing", every=which == "all", doc_id=doc_id)
            if doc_id is not None and not ids:
                raise failure(f"no such document: {doc_id}")
            enqueue_ocr(session, ids)
            session.commit()
            job_ids = session.scalars(select(Job.id).where(
                Job.kind == "ocr", Job.done_at.is_(None), Job.subject.in_(ids))).all()
        total = len(job_ids)
        started = time.monotonic()
        counts: dict[str, int] = {}

        def progress(done: int, outcome) -> None:
            status = getattr(outcome, "status", "retry later")
            counts[status] = counts.get(status, 0) + 1
            rate = done / max(time.monotonic() - started, 1e-9)
            left = (total - done) / rate if rate else 0
            click.echo(f"{done}/{total} documents, {rate * 60:.1f}/min, {int(left // 60)} min {int(left % 60)} s left"
                       f" — last: {status}", err=True)

        try:
            n = drain_ocr(archive.sessions, archive.store, runner, job_ids, progress)
        finally:
            runner.close()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do"
    click.echo(f"read {n} of {total} documents ({summary}); the index worker indexes them")
