"""鉴定与销毁: appraisal decisions (keep longer, dispose) and disposed documents

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appraisals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("archival_no", sa.String(120), nullable=False),
        sa.Column("retention_before", sa.String(8), nullable=False),
        sa.Column("until_before", sa.Date, nullable=True),
        sa.Column("retention_after", sa.String(8), nullable=True),
        sa.Column("until_after", sa.Date, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("proposed_role", sa.String(32), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_role", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False, server_default=""),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting", sa.Text, nullable=False, server_default=""),
        sa.Column("register", sa.Text, nullable=False, server_default="{}"),
        sa.Column("register_sha256", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_appraisals_case_id", "appraisals", ["case_id"])
    op.create_index("ux_appraisals_open_disposal", "appraisals", ["case_id"], unique=True,
                    sqlite_where=sa.text("kind = 'dispose' AND status IN ('proposed', 'approved', 'disposed')"),
                    postgresql_where=sa.text("kind = 'dispose' AND status IN ('proposed', 'approved', 'disposed')"))
    op.add_column("documents", sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "disposed_at")
    op.drop_index("ux_appraisals_open_disposal", "appraisals")
    op.drop_index("ix_appraisals_case_id", "appraisals")
    op.drop_table("appraisals")
