"""Alembic migrations (env.py and versions/)."""
