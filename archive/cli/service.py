"""``archive`` commands — serve and worker: the embedded all-in-one, the job worker, the index rebuild."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from archive.cli.base import _archive, _sessions, load_config, main, running_store


@main.command()
@click.option("--host", default=None, help="address to bind (ARCHIVE_HOST)")
@click.option("--port", type=int, default=None, help="port (ARCHIVE_PORT)")
@click.option("--data-dir", default=None, help="data directory (ARCHIVE_DATA_DIR)")
@click.option("--threads", type=int, default=8, help="web server threads")
def serve(host: str | None, port: int | None, data_dir: str | None, threads: int) -> None:
    """Run everything: SeaweedFS (embedded default), migrations, demo data if empty, the index
    worker and the web server."""
    overrides = {k: v for k, v in {"HOST": host, "PORT": port, "DATA_DIR": data_dir}.items() if v is not None}
    cfg = load_config(overrides)
    from archive.config import InsecureConfiguration, check_production

    try:
        check_production(cfg)
    except InsecureConfiguration as exc:
        raise click.ClickException(str(exc)) from exc
    from waitress import create_server

    from archive.db import is_empty
    from archive.factory import create_app
    from archive.worker import Worker, examine_settings, render_settings

    with running_store(cfg):
        archive = _archive(cfg)
        if cfg["DEMO"] and is_empty(archive.engine):
            click.echo("empty database: loading demo data (武清区, 36 cases) …")
            from archive.demo import load_demo

            n = load_demo(archive, echo=click.echo)
            click.echo(f"demo data loaded: {n} documents")
        from archive.auth.bootstrap import bootstrap_users

        with archive.sessions() as session:
            created = bootstrap_users(session, demo=cfg["DEMO"])
        worker = Worker(archive.sessions, archive.store, archive.index, archive.extract_limits,
                        cfg["WORKER_POLL_SECONDS"], cfg["CHECKS_EVERY_SECONDS"], cfg["FIXITY_PERIOD_DAYS"],
                        archive.ingest_settings, render_settings(cfg), examine_settings(cfg), cfg)
        worker.start()
        ocr_worker = _ocr_worker(archive)
        app = create_app(cfg, archive=archive)
        server = create_server(app, host=cfg["HOST"], port=cfg["PORT"], threads=threads)
        url = f"http://{cfg['HOST']}:{cfg['PORT']}"
        if created:
            accounts, passwords = created
            click.echo("\nfirst start: these accounts were created; the passwords are shown only now:")
            from archive.auth.bootstrap import DISPLAY_NAMES

            for username, role, scope in accounts:
                click.echo(f"  {username:10} {role:18} {scope or ('(assigned files)' if role == 'reviewer' else '(system)' if role.endswith('admin') else '(whole city)'):12} "
                           f"{passwords[username]}  {DISPLAY_NAMES.get(username, '')}")
            click.echo("  三权分立: 系统管理员 sysadmin (accounts, organisations, calendar), 安全管理员 secadmin (roles, "
                       "unlocks, second factors), 审计管理员 auditadmin (reads and verifies the audit trail)")
            click.echo("  (each account sets its own password at its first login: 首次登录需修改密码)")
        click.echo("\n".join([
            "", "行政执法案卷归档 case-file archive is running", f"  data directory: {cfg['DATA_DIR']}",
            f"  log in:         {url}/login",
            f"  object store:   S3 at {cfg['S3_ENDPOINT'] or '127.0.0.1:%d (embedded SeaweedFS)' % cfg['S3_PORT']}",
            f"  OCR:            {cfg['OCR_ENGINE']} (scans and photographs, read in the background)",
            f"  API:            {url}/api/  (Authorization: Bearer <token from `{_command(cfg)} tokens issue USER`>)",
            f"  OpenAPI:        {url}/api/openapi.json", f"  health:         {url}/api/health",
            "  stop with Ctrl-C", ""]))
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            worker.stop()
            worker.join(10)
            if ocr_worker is not None:
                ocr_worker.stop()


def _ocr_worker(archive):
    """Start the OCR worker thread (its engine runs in a process of its own), unless OCR is off."""
    if archive.config["OCR_ENGINE"] == "off":
        return None
    from archive.ocr.jobs import OcrWorker

    ocr_worker = OcrWorker(archive.sessions, archive.store, archive.ocr_runner, archive.config["WORKER_POLL_SECONDS"])
    ocr_worker.start()
    return ocr_worker


def _command(cfg: dict) -> str:
    """How to run an ``archive`` command on this instance, as it can be typed."""
    wrapper = Path(__file__).resolve().parents[1] / "bin" / "archive"
    if not wrapper.exists():
        return f"ARCHIVE_DATA_DIR={cfg['DATA_DIR']} {Path(sys.executable).parent / 'archive'}"
    if Path(cfg["DATA_DIR"]) == wrapper.parents[1] / "data":
        return "bin/archive"
    return f"ARCHIVE_DATA_DIR={cfg['DATA_DIR']} bin/archive"


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


@main.command()
@click.option("--once", is_flag=True, help="drain the queue and exit")
@click.option("--status", is_flag=True, help="show waiting and failing jobs and exit (exit 1 if any failed)")
def worker(once: bool, status: bool) -> None:
    """Drain the index queue (the one index writer), forever or --once."""
    cfg = load_config()
    from archive.worker import drain, examine_settings, render_settings

    if status:
        from archive.jobs import job_status

        with _sessions(cfg)() as session:
            report = job_status(session)
        click.echo(f"pending {report['pending']}, failed {report['failed']} (failed jobs are retried "
                   f"at most hourly until their cause is gone)")
        click.echo("open by kind: " + (", ".join(f"{k} {n}" for k, n in sorted(report["by_kind"].items())) or "none"))
        for job in report["held"]:
            click.echo(f"  job {job['id']} {job['kind']} {job['subject']}: held by {job['holder']} until {job['until']}")
        for job in report["jobs"]:
            click.echo(f"  job {job['id']} {job['action']} {job['subject']}: {job['attempts']} attempts, "
                       f"next {job['next_attempt_at'] or 'now'}: {job['last_error'] or ''}")
        sys.exit(1 if report["failed"] else 0)

    with running_store(cfg):
        archive = _archive(cfg)
        if once:
            n = drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings,
                      render_settings(cfg), examine_settings(cfg))
            if cfg["OCR_ENGINE"] != "off":
                from archive.ocr.jobs import drain_ocr

                try:
                    read = drain_ocr(archive.sessions, archive.store, archive.ocr_runner)
                finally:
                    archive.ocr_runner.close()
                if read:
                    click.echo(f"read {read} documents by OCR")
                    n += drain(archive.sessions, archive.store, archive.index, archive.extract_limits,
                               archive.ingest_settings, examine=examine_settings(cfg))
            click.echo(f"indexed {n} jobs")
            return
        from archive.worker import Worker

        loop = Worker(archive.sessions, archive.store, archive.index, archive.extract_limits,
                      cfg["WORKER_POLL_SECONDS"], cfg["CHECKS_EVERY_SECONDS"], cfg["FIXITY_PERIOD_DAYS"],
                      archive.ingest_settings, render_settings(cfg), examine_settings(cfg), cfg)
        ocr_worker = _ocr_worker(archive)  # OCR jobs in a thread of their own beside the index queue
        try:
            loop.run()  # in this thread: the index queue, and deadline checks on a schedule
        except KeyboardInterrupt:
            return
        finally:
            if ocr_worker is not None:
                ocr_worker.stop()


@main.command()
@click.option("--re-extract", is_flag=True, help="read every object again and re-extract its text")
@click.option("--engine", type=click.Choice(["tantivy", "whoosh"]), default=None,
              help="build this engine's index (default: ARCHIVE_SEARCH_ENGINE); switch engines by "
                   "building first, then changing the setting")
def reindex(re_extract: bool, engine: str | None) -> None:
    """Rebuild the whole index into a new directory beside the live one and swap it in
    (search stays up; an interrupted build leaves the live index as it was)."""
    cfg = load_config()
    from archive.indexing.engines import make_index, remove_legacy_layout
    from archive.indexing.queue import Progress, reindex as do_reindex

    with running_store(cfg):
        archive = _archive(cfg)
        index = archive.index if engine in (None, cfg["SEARCH_ENGINE"]) else make_index(engine, cfg["INDEX_DIR"])
        n = do_reindex(archive.sessions, archive.store, index, re_extract=re_extract,
                       limits=archive.extract_limits, procs=cfg["INDEX_PROCS"],
                       progress=Progress(lambda line: click.echo(line, err=True)))
        remove_legacy_layout(cfg["INDEX_DIR"])
    click.echo(f"reindexed {n} documents ({index.engine}) into {index.current_dir()}")
