"""daily-use tracking: when a warning was first looked at; logins found by action and time

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("warnings") as batch:
        batch.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_seen_by", sa.String(64), nullable=True))
    op.create_index("ix_audit_entries_action_at", "audit_entries", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_action_at", table_name="audit_entries")
    with op.batch_alter_table("warnings") as batch:
        batch.drop_column("first_seen_by")
        batch.drop_column("first_seen_at")
