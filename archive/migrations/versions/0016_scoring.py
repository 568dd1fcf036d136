"""performance thresholds per year; indexes for the monthly scoring

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 17:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_documents_uploaded_at", "documents", ["uploaded_at"]),
    ("ix_stages_completed_at", "stages", ["completed_at"]),
    ("ix_warnings_agency_opened", "warnings", ["agency_code", "opened_at"]),
    ("ix_cases_agency_opened", "cases", ["agency_code", "opened_on"]),
    ("ix_reviews_submitted_at", "reviews", ["submitted_at"]),
)


def upgrade() -> None:
    op.create_table(
        "performance_thresholds",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("threshold", sa.Numeric(5, 4), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("performance_thresholds")
