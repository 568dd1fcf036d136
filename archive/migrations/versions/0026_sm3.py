"""sm3: the SM3 digest of each stored version beside its SHA-256

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 18:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

TABLES = ("documents", "document_versions", "amendments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("sm3", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sm3")
