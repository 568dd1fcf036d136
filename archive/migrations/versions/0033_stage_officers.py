"""Officers on every stage (执法人员), suspended certificates, training records and exams

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04 22:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_officers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stage_id", sa.Integer, sa.ForeignKey("stages.id"), nullable=False),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("certificate_no", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.UniqueConstraint("stage_id", "certificate_no", name="uq_stage_officer"),
    )
    op.create_index("ix_stage_officers_case_id", "stage_officers", ["case_id"])
    op.create_index("ix_stage_officers_certificate_no", "stage_officers", ["certificate_no"])
    op.add_column("officers", sa.Column("suspended_from", sa.Date, nullable=True))
    op.add_column("officers", sa.Column("suspended_until", sa.Date, nullable=True))
    op.create_table(
        "training_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("certificate_no", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("organiser", sa.String(200), nullable=False, server_default=""),
        sa.Column("start_on", sa.Date, nullable=False),
        sa.Column("end_on", sa.Date, nullable=False),
        sa.Column("hours", sa.Numeric(6, 1), nullable=False),
        sa.UniqueConstraint("certificate_no", "course", "start_on", name="uq_training_record"),
    )
    op.create_index("ix_training_records_agency_code", "training_records", ["agency_code"])
    op.create_table(
        "certificate_exams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_number", sa.String(32), nullable=False),
        sa.Column("exam_on", sa.Date, nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("application", sa.String(16), nullable=False, server_default=""),
        sa.Column("certificate_no", sa.String(64), nullable=False, server_default=""),
        sa.UniqueConstraint("id_number", "exam_on", name="uq_certificate_exam"),
    )
    op.create_index("ix_certificate_exams_agency_code", "certificate_exams", ["agency_code"])


def downgrade() -> None:
    op.drop_index("ix_certificate_exams_agency_code", "certificate_exams")
    op.drop_table("certificate_exams")
    op.drop_index("ix_training_records_agency_code", "training_records")
    op.drop_table("training_records")
    op.drop_column("officers", "suspended_until")
    op.drop_column("officers", "suspended_from")
    op.drop_index("ix_stage_officers_certificate_no", "stage_officers")
    op.drop_index("ix_stage_officers_case_id", "stage_officers")
    op.drop_table("stage_officers")
