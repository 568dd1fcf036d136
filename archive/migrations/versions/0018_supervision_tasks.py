"""supervision tasks (交办/转办): tasks, the cases they concern, their steps and attachments

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("assigner_org", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee_org", sa.String(64), sa.ForeignKey("organisations.code"), nullable=False),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id"), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    for col in ("assigner_org", "assignee_org", "status", "complaint_id"):
        op.create_index(f"ix_supervision_tasks_{col}", "supervision_tasks", [col])
    op.create_table(
        "task_cases",
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("supervision_tasks.id"), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), primary_key=True),
    )
    op.create_index("ix_task_cases_case_id", "task_cases", ["case_id"])
    op.create_table(
        "task_steps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("supervision_tasks.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_task_steps_task_id", "task_steps", ["task_id"])
    op.create_table(
        "task_attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("supervision_tasks.id"), nullable=False),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("task_steps.id"), nullable=False),
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("version_id", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_task_attachments_task_id", "task_attachments", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_task_attachments_task_id", table_name="task_attachments")
    op.drop_table("task_attachments")
    op.drop_index("ix_task_steps_task_id", table_name="task_steps")
    op.drop_table("task_steps")
    op.drop_index("ix_task_cases_case_id", table_name="task_cases")
    op.drop_table("task_cases")
    for col in ("assigner_org", "assignee_org", "status", "complaint_id"):
        op.drop_index(f"ix_supervision_tasks_{col}", table_name="supervision_tasks")
    op.drop_table("supervision_tasks")
