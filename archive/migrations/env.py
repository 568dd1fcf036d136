"""Alembic environment: runs against the connection handed over by archive.db.upgrade."""
from __future__ import annotations

from alembic import context

from archive.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through archive.db.upgrade
    raise RuntimeError("run migrations through `archive db upgrade`")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
