"""Shared parts of the ``archive`` command line: the top-level group, the store the commands
need, error messages that name the data directory, sessions."""
from __future__ import annotations

import contextlib
import logging
import socket
from pathlib import Path
from typing import Iterator

import click

from archive.config import load_config

__all__ = ["main", "load_config", "running_store", "failure", "_archive", "_sessions", "_run", "log"]

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




def _sessions(cfg: dict):
    """Sessions on a migrated database (no object store needed)."""
    from archive.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(cfg["DATABASE_URL"])
    upgrade(engine)
    return make_sessionmaker(engine)




def _run(action):
    """Run a service call; a domain error becomes a CLI error with its details."""
    from archive.errors import ArchiveError

    try:
        return action()
    except ArchiveError as exc:
        details = "".join(f"\n  {k}: {'; '.join(map(str, v))}" for k, v in (exc.errors or {}).items())
        raise click.ClickException(exc.message + details) from exc
