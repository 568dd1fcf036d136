"""OCR: the confidence and engine of recognised text, at most one open OCR job per document

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 14:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("ocr_confidence", sa.Float(), nullable=True))
        batch.add_column(sa.Column("ocr_engine", sa.String(64), nullable=True))
    where = sa.text("action = 'ocr' AND done_at IS NULL")
    op.create_index("ux_index_jobs_open_ocr", "index_jobs", ["document_id"], unique=True,
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ux_index_jobs_open_ocr", table_name="index_jobs")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("ocr_engine")
        batch.drop_column("ocr_confidence")
