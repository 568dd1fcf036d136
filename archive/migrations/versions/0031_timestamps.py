"""RFC 3161 timestamp tokens of the audit head and of transfer packages, kept write-once

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timestamp_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("token", sa.LargeBinary, nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_timestamp_tokens_kind", "timestamp_tokens", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_timestamp_tokens_kind", "timestamp_tokens")
    op.drop_table("timestamp_tokens")
