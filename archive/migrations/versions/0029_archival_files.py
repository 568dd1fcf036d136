"""归档: archival files with 档号 and 保管期限, their counters, the four-property checks

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 17:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archival_counters",
        sa.Column("agency_code", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("retention", sa.String(8), primary_key=True),
        sa.Column("last", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "archival_files",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("agency_code", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("retention", sa.String(8), nullable=False),
        sa.Column("piece", sa.Integer, nullable=False),
        sa.Column("archival_no", sa.String(120), nullable=False, unique=True),
        sa.Column("retain_until", sa.Date, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="filed"),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(64), nullable=False),
        sa.Column("metadata_json", sa.Text, nullable=False, server_default="{}"),
        sa.UniqueConstraint("agency_code", "year", "retention", "piece", name="uq_archival_piece"),
    )
    op.create_table(
        "archival_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_archival_checks_case_id", "archival_checks", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_archival_checks_case_id", "archival_checks")
    op.drop_table("archival_checks")
    op.drop_table("archival_files")
    op.drop_table("archival_counters")
