"""hardening: one pending amendment and one open suspension (partial unique indexes), index job
back-off, server-side web sessions, agency case-number patterns

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 04:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_amendment_pending", "amendments", ["document_id"], unique=True,
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    op.create_index("uq_open_suspension", "case_periods", ["case_id"], unique=True,
                    sqlite_where=sa.text("kind = 'suspension' AND end_on IS NULL"),
                    postgresql_where=sa.text("kind = 'suspension' AND end_on IS NULL"))
    with op.batch_alter_table("index_jobs") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("case_number_pattern", sa.String(length=120), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("case_number_pattern")
    with op.batch_alter_table("index_jobs") as batch:
        batch.drop_column("next_attempt_at")
    op.drop_index("uq_open_suspension", table_name="case_periods")
    op.drop_index("uq_amendment_pending", table_name="amendments")
