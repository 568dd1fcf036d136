"""Database engine, sessions and Alembic migrations."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, inspect, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def get_or_404(session: Session, model: type, key: Any, what: str) -> Any:
    """The row of ``model`` with primary key ``key``, or NotFound("no such <what>")."""
    from archive.errors import NotFound

    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no such {what}")
    return row


def changed_rows(session: Session, stmt: Any) -> int:
    """Execute an UPDATE and return how many rows it changed (a compare-and-set succeeded when
    its guarded UPDATE changed exactly one)."""
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


def insert_once(sessions: sessionmaker[Session], row: Any, found: Any) -> Any:
    """Insert ``row`` in a session of its own; when a unique constraint says another writer
    recorded the same thing first, that one (``found(session)``) stands and is returned."""
    from sqlalchemy.exc import IntegrityError

    with sessions() as s:
        s.add(row)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return found(s)
        s.refresh(row)
        return row


def compare_and_set(session: Session, stmt: Any) -> bool:
    """Run a guarded UPDATE (``… WHERE id = ? AND status = 'expected'``): True if it won.

    Under concurrency the database decides: PostgreSQL re-checks the guard after waiting for a
    competing writer's row lock, SQLite runs one writer at a time, so exactly one wins."""
    return changed_rows(session, stmt) == 1


def lock_row(session: Session, model: type, key: Any) -> bool:
    """Take the write lock of one row for the rest of the transaction; False if there is none.

    A no-op UPDATE locks the row on PostgreSQL and takes SQLite's single write lock, so the
    reads that follow it in the transaction see every change committed before the lock was
    granted, and no other writer of the row (or, on SQLite, of anything) can slip in between.
    """
    pk: Any = inspect(model).primary_key[0]
    return changed_rows(session, update(model).where(pk == key).values({pk.name: pk})) > 0


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def is_empty(engine: Engine) -> bool:
    """True when no case has been stored yet (used to decide on demo data)."""
    from sqlalchemy import func, select

    from archive.models import Case

    if not inspect(engine).has_table("cases"):
        return True
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Case)) == 0
