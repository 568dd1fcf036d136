"""complaint handling log (complaint_steps), attachments (complaint_attachments) and the
complainant's contact

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 08:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("contact", sa.String(200), nullable=True))
    op.create_table(
        "complaint_steps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_complaint_steps_complaint_id", "complaint_steps", ["complaint_id"])
    op.create_table(
        "complaint_attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("version_id", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_complaint_attachments_complaint_id", "complaint_attachments", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_complaint_attachments_complaint_id", "complaint_attachments")
    op.drop_table("complaint_attachments")
    op.drop_index("ix_complaint_steps_complaint_id", "complaint_steps")
    op.drop_table("complaint_steps")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("contact")
