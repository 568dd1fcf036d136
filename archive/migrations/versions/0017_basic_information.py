"""basic information: officers, inspection plans, change requests approved by the district
office; a warning may concern an agency rather than a case (case_id NULL)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("certificate_no", sa.String(64), nullable=False, unique=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=False),
    )
    op.create_index("ix_officers_agency_code", "officers", ["agency_code"])
    op.create_table(
        "inspection_plans",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("power_code", sa.String(64), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=True),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.UniqueConstraint("agency_code", "code", name="uq_inspection_plans_agency_code"),
    )
    op.create_index("ix_inspection_plans_agency_code", "inspection_plans", ["agency_code"])
    op.create_table(
        "basic_info_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
    )
    op.create_index("ix_basic_info_changes_agency_code", "basic_info_changes", ["agency_code"])
    with op.batch_alter_table("warnings") as batch:
        batch.alter_column("case_id", existing_type=sa.String(32), nullable=True)
    op.create_index("ux_warnings_fact_without_case", "warnings", ["rule", "fact_key"], unique=True,
                    sqlite_where=sa.text("case_id IS NULL"), postgresql_where=sa.text("case_id IS NULL"))


def downgrade() -> None:
    op.drop_index("ux_warnings_fact_without_case", table_name="warnings")
    with op.batch_alter_table("warnings") as batch:
        batch.alter_column("case_id", existing_type=sa.String(32), nullable=False)
    for table in ("basic_info_changes", "inspection_plans", "officers"):
        op.drop_index(f"ix_{table}_agency_code", table_name=table)
        op.drop_table(table)
