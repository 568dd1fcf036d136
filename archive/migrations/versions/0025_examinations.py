"""examinations: format, encryption, format policy and verified signatures of each stored version

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 18:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "examinations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("version_id", sa.String(255), nullable=False),
        sa.Column("puid", sa.String(32), nullable=False),
        sa.Column("format_name", sa.String(255), nullable=False),
        sa.Column("format_version", sa.String(64), nullable=False),
        sa.Column("format_mime", sa.String(120), nullable=False),
        sa.Column("format_basis", sa.String(500), nullable=False),
        sa.Column("format_class", sa.String(16), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("policy_reason", sa.Text, nullable=False),
        sa.Column("protection", sa.String(16), nullable=False),
        sa.Column("signatures", sa.Text, nullable=False),
        sa.Column("signatures_failed", sa.Integer, nullable=False),
        sa.Column("examined_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("document_id", "version_id", name="uq_examination_version"),
    )
    op.create_index("ix_examinations_document_id", "examinations", ["document_id"])
    op.create_index("ix_examinations_policy", "examinations", ["policy"])


def downgrade() -> None:
    op.drop_index("ix_examinations_policy", "examinations")
    op.drop_index("ix_examinations_document_id", "examinations")
    op.drop_table("examinations")
