"""renditions: the PDF/A copy of each version of an editable document

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "renditions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("source_version_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("object_key", sa.String(255), nullable=True),
        sa.Column("version_id", sa.String(255), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("pages", sa.Integer, nullable=True),
        sa.Column("pdfa_valid", sa.Boolean, nullable=True),
        sa.Column("pdfa_problems", sa.Text, nullable=False),
        sa.Column("text_equal", sa.Boolean, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("document_id", "source_version_id", name="uq_rendition_source"),
    )
    op.create_index("ix_renditions_document_id", "renditions", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_renditions_document_id", "renditions")
    op.drop_table("renditions")
