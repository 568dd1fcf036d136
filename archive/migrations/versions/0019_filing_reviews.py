"""major-case 备案 reviews by the district office

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filing_reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False, unique=True),
        sa.Column("agency_code", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("certificate", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(64), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("supervision_tasks.id"), nullable=True),
    )
    op.create_index("ix_filing_reviews_agency_code", "filing_reviews", ["agency_code"])


def downgrade() -> None:
    op.drop_index("ix_filing_reviews_agency_code", table_name="filing_reviews")
    op.drop_table("filing_reviews")
