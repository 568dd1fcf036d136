"""The ``archive`` command line. Every command reads the same configuration (ARCHIVE_* variables)."""
from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Iterator

import click

from archive.config import load_config

log = logging.getLogger("archive")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_store(cfg: dict) -> Iterator[None]:
    """Make sure an S3 server answers: the configured one, the embedded one already running for
    this data directory, or an embedded one started for the length of the command."""
    if cfg["S3_ENDPOINT"]:
        yield
        return
    from archive.storage.seaweed import EmbeddedSeaweed, owner_of, stop_stale

    data_dir = Path(cfg["DATA_DIR"]) / "seaweedfs"
    stop_stale(data_dir)  # one left running by a crashed command holds the port: not ours any more
    owner = owner_of(data_dir)
    if owner is not None and owner[1] == cfg["S3_PORT"] and _port_open(cfg["S3_PORT"]):
        yield  # this data directory's store, started by another archive command still running
        return
    if _port_open(cfg["S3_PORT"]):
        raise click.ClickException(
            f"port {cfg['S3_PORT']} is taken by a program that is not this data directory's SeaweedFS "
            f"({cfg['DATA_DIR']}): set ARCHIVE_S3_PORT to a free port (another instance), or "
            "ARCHIVE_S3_ENDPOINT to use that server on purpose")
    weed = EmbeddedSeaweed(data_dir, cfg["S3_PORT"], cfg["S3_ACCESS_KEY"], cfg["S3_SECRET_KEY"])
    try:
        weed.start()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield
    finally:
        weed.stop()


def _archive(cfg: dict):
    from archive.extension import build_archive

    archive = build_archive(cfg)
    archive.prepare()
    return archive


def failure(message: str) -> click.ClickException:
    """A command's error that names the data directory and database it used: an error about a
    missing user or case on the wrong (or a new, empty) data directory explains itself."""
    import os

    from sqlalchemy.engine import make_url

    cfg = load_config()
    try:
        database = make_url(cfg["DATABASE_URL"]).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for the message
        database = "?"
    lines = [message, f"  data directory: {cfg['DATA_DIR']}", f"  database: {database}"]
    if not os.environ.get("ARCHIVE_DATA_DIR") and not os.environ.get("ARCHIVE_DATABASE_URL"):
        lines.append("  (ARCHIVE_DATA_DIR is not set: the default ./data of the current directory was used; "
                     "bin/archive uses the data directory bin/serve uses)")
    return click.ClickException("\n".join(lines))


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log more")
def main(verbose: bool) -> None:
    """行政执法案卷归档: the case-file archive."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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
    from archive.indexing.queue import Worker

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
                        cfg["WORKER_POLL_SECONDS"], cfg["CHECKS_EVERY_SECONDS"], cfg["FIXITY_PERIOD_DAYS"])
        worker.start()
        ocr_worker = _ocr_worker(archive)
        app = create_app(cfg, archive=archive)
        server = create_server(app, host=cfg["HOST"], port=cfg["PORT"], threads=threads)
        url = f"http://{cfg['HOST']}:{cfg['PORT']}"
        if created:
            accounts, password = created
            click.echo("\nfirst start: these accounts were created; the password is shown only now:")
            for username, role, scope in accounts:
                click.echo(f"  {username:10} {role:18} {scope or ('(assigned files)' if role == 'reviewer' else '(whole city)')}")
            click.echo(f"  password for all of them: {password}")
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
    from archive.indexing.queue import drain

    if status:
        from archive.indexing.queue import job_status

        with _sessions(cfg)() as session:
            report = job_status(session)
        click.echo(f"pending {report['pending']}, failed {report['failed']} (failed jobs are retried "
                   f"at most hourly until their cause is gone)")
        for job in report["jobs"]:
            click.echo(f"  job {job['id']} {job['action']} {job['subject']}: {job['attempts']} attempts, "
                       f"next {job['next_attempt_at'] or 'now'}: {job['last_error'] or ''}")
        sys.exit(1 if report["failed"] else 0)

    with running_store(cfg):
        archive = _archive(cfg)
        if once:
            n = drain(archive.sessions, archive.store, archive.index, archive.extract_limits)
            if cfg["OCR_ENGINE"] != "off":
                from archive.ocr.jobs import drain_ocr

                try:
                    read = drain_ocr(archive.sessions, archive.store, archive.ocr_runner)
                finally:
                    archive.ocr_runner.close()
                if read:
                    click.echo(f"read {read} documents by OCR")
                    n += drain(archive.sessions, archive.store, archive.index, archive.extract_limits)
            click.echo(f"indexed {n} jobs")
            return
        from archive.indexing.queue import Worker

        loop = Worker(archive.sessions, archive.store, archive.index, archive.extract_limits,
                      cfg["WORKER_POLL_SECONDS"], cfg["CHECKS_EVERY_SECONDS"], cfg["FIXITY_PERIOD_DAYS"])
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


def _sessions(cfg: dict):
    """Sessions on a migrated database (no object store needed)."""
    from archive.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(cfg["DATABASE_URL"])
    upgrade(engine)
    return make_sessionmaker(engine)


@main.group()
def users() -> None:
    """Accounts: a role and a scope each."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(
    ["agency_clerk", "agency_legal", "district_office", "city_office", "reviewer", "complaint_handler", "auditor"]))
@click.option("--scope", default=None, help="organisation code the role acts for")
@click.option("--name", default="", help="display name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_add(username: str, role: str, scope: str | None, name: str, password_stdin: bool) -> None:
    """Create a user; the last line printed is a new API token (shown once)."""
    from archive import audit
    from archive.auth.accounts import create_user, issue_token
    from archive.errors import ArchiveError

    cfg = load_config()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _sessions(cfg)() as session:
        try:
            user = create_user(session, username, role, scope, password=password, display_name=name)
            token = issue_token(session, user, days=cfg["TOKEN_DAYS"])
            audit.append(session, "user.create", actor="cli", target_type="user", target_id=username,
                         detail={"role": role, "scope": scope, "token_id": token.token_id})
            session.commit()
        except ArchiveError as exc:
            raise failure(exc.message) from exc
    click.echo(f"created {username} ({role}{' @ ' + scope if scope else ''}); "
               f"{'password set' if password else 'no password: API token only'}")
    click.echo(f"token {token.token_id} expires {token.expires_at.date().isoformat()}:")
    click.echo(token.token)


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="read the new password from standard input")
def users_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password; every open web session of the user ends at once."""
    from archive import audit
    from archive.auth.accounts import find_user, set_password
    from archive.errors import ArchiveError

    password = sys.stdin.readline().rstrip("\n")
    with _sessions(load_config())() as session:
        try:
            set_password(session, find_user(session, username), password)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "user.password", actor="cli", target_type="user", target_id=username)
        session.commit()
    click.echo(f"password of {username} changed; its web sessions have ended")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account: its web sessions end and its tokens are revoked at once."""
    from archive import audit
    from archive.auth.accounts import disable_user, find_user
    from archive.errors import ArchiveError

    with _sessions(load_config())() as session:
        try:
            disable_user(session, find_user(session, username))
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "user.disable", actor="cli", target_type="user", target_id=username)
        session.commit()
    click.echo(f"{username} disabled; its sessions and tokens no longer work")


@main.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer …)."""


@tokens.command("issue")
@click.argument("username")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="lifetime in days, 1–3650 (ARCHIVE_TOKEN_DAYS)")
def tokens_issue(username: str, days: int | None) -> None:
    """Issue a new token for USERNAME; printed once, on the last line."""
    from archive import audit
    from archive.auth.accounts import find_user, issue_token
    from archive.errors import ArchiveError

    cfg = load_config()
    with _sessions(cfg)() as session:
        try:
            token = issue_token(session, find_user(session, username),
                                days=cfg["TOKEN_DAYS"] if days is None else days)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "token.issue", actor="cli", target_type="token", target_id=token.token_id,
                     detail={"user": username})
        session.commit()
    click.echo(f"token {token.token_id} for {username} expires {token.expires_at.date().isoformat()}:")
    click.echo(token.token)


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (the part after arc_)."""
    from archive import audit
    from archive.auth.accounts import revoke_token
    from archive.errors import ArchiveError

    with _sessions(load_config())() as session:
        try:
            revoke_token(session, token_id)
        except ArchiveError as exc:
            raise failure(exc.message) from exc
        audit.append(session, "token.revoke", actor="cli", target_type="token", target_id=token_id)
        session.commit()
    click.echo(f"token {token_id} revoked")


@main.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain; name the first entry that was edited, deleted, inserted or moved."""
    from archive.audit import verify_chain

    with _sessions(load_config())() as session:
        report = verify_chain(session)
    if report.first_bad is not None:
        click.echo(f"audit trail BROKEN at entry {report.first_bad}: {report.reason} "
                   f"({report.entries} entries verified before it)")
        sys.exit(1)
    click.echo(f"audit trail intact: {report.entries} entries")


@main.group()
def calendar() -> None:
    """Working-day calendars: statutory holidays and make-up working days per year."""


@calendar.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def calendar_load(file: str) -> None:
    """Load (or replace) one year from a JSON file {"year", "holidays": [...], "workdays": [...]}."""
    from archive import audit
    from archive.deadlines.calendar import load_file
    from archive.deadlines.store import save_year
    from archive.errors import ArchiveError

    try:
        cal = load_file(file)
    except ArchiveError as exc:
        raise failure(exc.message) from exc
    with _sessions(load_config())() as session:
        save_year(session, cal)
        from sqlalchemy import update

        from archive.models import Case

        session.execute(update(Case).values(checked_at=None))  # deadlines may now be computable
        audit.append(session, "calendar.load", actor="cli", target_type="calendar", target_id=str(cal.year),
                     detail={"holidays": len(cal.holidays), "workdays": len(cal.workdays), "file": cal.source})
        session.commit()
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


def _run(action):
    """Run a service call; a domain error becomes a CLI error with its details."""
    from archive.errors import ArchiveError

    try:
        return action()
    except ArchiveError as exc:
        details = "".join(f"\n  {k}: {'; '.join(map(str, v))}" for k, v in (exc.errors or {}).items())
        raise click.ClickException(exc.message + details) from exc


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
        click.echo(f"rebuilt {report.cases} cases, {report.documents} documents ({report.versions} versions)")
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
    from archive.services.clock import now

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


@main.group()
def sample() -> None:
    """Sampling plans: freeze the populations, draw with a seed, verify a draw."""


@sample.command("freeze")
@click.argument("plan_id", type=int)
@click.option("--by", default="cli", show_default=True, help="who freezes (recorded in the audit trail)")
def sample_freeze(plan_id: int, by: str) -> None:
    """Freeze the eligible populations and record their digests (before the seed is known)."""
    from archive.sampling import service

    with _sessions(load_config())() as session:
        plan = _run(lambda: service.freeze(session, service.get_plan(session, plan_id), by=by))
        session.commit()
        for s in plan.strata:
            click.echo(f"{s.agency_code}/{s.kind}: {s.size} files, take {s.k}, sha256 {s.digest}")


@sample.command("draw")
@click.argument("plan_id", type=int)
@click.option("--seed", required=True, help="the value entered at the draw, e.g. public lottery numbers")
@click.option("--by", default="cli", show_default=True, help="who draws (recorded in the audit trail)")
def sample_draw(plan_id: int, seed: str, by: str) -> None:
    """Draw the sample and the reviewers with SEED (freezes first if needed)."""
    import json

    from archive.models import Review
    from archive.sampling import service

    with _sessions(load_config())() as session:
        plan = _run(lambda: service.draw(session, service.get_plan(session, plan_id), seed, by=by))
        session.commit()
        for s in plan.strata:
            click.echo(f"{s.agency_code}/{s.kind}: {s.size} files, sha256 {s.digest}, "
                       f"sample {' '.join(json.loads(s.selected or '[]')) or '(none)'}")
        from sqlalchemy import select

        for r in session.scalars(select(Review).where(Review.plan_id == plan.id).order_by(Review.id)):
            click.echo(f"  {r.case_number} → {r.reviewer}")


@sample.command("verify")
@click.argument("plan_id", type=int)
def sample_verify(plan_id: int) -> None:
    """Recompute the draw from the stored populations, seed and pool; exit 1 on any difference."""
    from archive.sampling import service

    with _sessions(load_config())() as session:
        plan = _run(lambda: service.get_plan(session, plan_id))
        problems = service.verify(session, plan)
    if problems:
        for p in problems:
            click.echo(f"DIFFERS: {p}", err=True)
        sys.exit(1)
    click.echo(f"plan {plan_id}: the draw recomputes exactly (seed {plan.seed!r}, "
               f"{sum(s.k for s in plan.strata)} files)")


@main.group()
def warnings() -> None:
    """Warnings: scan cases for them, escalate unhandled ones (replayable with --now)."""


def _now_option(now: str | None):
    import datetime as dt

    from archive.services.clock import SHANGHAI, now as server_now

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


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest."""
    from archive.db import make_engine, upgrade

    upgrade(make_engine(load_config()["DATABASE_URL"]))
    click.echo("database schema is current")


def _register_commands() -> None:
    from archive.commands.powers import basic_info, powers
    from archive.commands.report import report
    from archive.ocr.command import ocr

    main.add_command(ocr)
    main.add_command(powers)
    main.add_command(basic_info)
    main.add_command(report)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
