"""one durable queue for all background work: ``jobs`` (kind, subject, payload, priority,
attempts, next attempt, lease holder and expiry) replaces ``index_jobs``

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 20:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OPEN_OCR = "kind = 'ocr' AND done_at IS NULL"
OPEN_SCHEDULED = "kind IN ('checks', 'fixity') AND done_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_holder", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_jobs_due", "jobs", ["done_at", "kind", "priority", "id"])
    op.create_index("ux_jobs_open_ocr", "jobs", ["subject"], unique=True,
                    sqlite_where=sa.text(OPEN_OCR), postgresql_where=sa.text(OPEN_OCR))
    op.create_index("ux_jobs_open_scheduled", "jobs", ["kind"], unique=True,
                    sqlite_where=sa.text(OPEN_SCHEDULED), postgresql_where=sa.text(OPEN_SCHEDULED))
    # Every job carries over, in order; the index kinds keep their names, OCR waits as before.
    op.execute("INSERT INTO jobs (kind, subject, payload, priority, created_at, attempts, last_error, done_at, "
               "next_attempt_at) SELECT action, document_id, NULL, CASE action WHEN 'hold' THEN 10 "
               "WHEN 'amend' THEN 10 WHEN 'ocr' THEN 70 ELSE 40 END, created_at, attempts, last_error, "
               "done_at, next_attempt_at FROM index_jobs ORDER BY id")
    op.drop_index("ux_index_jobs_open_ocr", table_name="index_jobs")
    op.drop_table("index_jobs")


def downgrade() -> None:
    op.create_table(
        "index_jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_index_jobs_pending", "index_jobs", ["done_at", "id"])
    op.create_index("ux_index_jobs_open_ocr", "index_jobs", ["document_id"], unique=True,
                    sqlite_where=sa.text("action = 'ocr' AND done_at IS NULL"),
                    postgresql_where=sa.text("action = 'ocr' AND done_at IS NULL"))
    op.execute("INSERT INTO index_jobs (document_id, action, created_at, attempts, last_error, done_at, "
               "next_attempt_at) SELECT subject, kind, created_at, attempts, last_error, done_at, "
               "next_attempt_at FROM jobs WHERE kind IN ('upsert', 'versions', 'delete', 'amend', 'hold', 'ocr') "
               "ORDER BY id")
    op.drop_index("ux_jobs_open_scheduled", table_name="jobs")
    op.drop_index("ux_jobs_open_ocr", table_name="jobs")
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_table("jobs")
