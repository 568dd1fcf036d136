"""enforcement powers (职权) of each agency's basic information

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 15:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "powers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.UniqueConstraint("agency_code", "code", name="uq_powers_agency_code"),
    )
    op.create_index("ix_powers_agency_code", "powers", ["agency_code"])


def downgrade() -> None:
    op.drop_index("ix_powers_agency_code", table_name="powers")
    op.drop_table("powers")
