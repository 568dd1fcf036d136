"""等保 level three: TOTP second factor and recovery codes, idle sessions (last seen, address,
browser), the audit chain's digest per entry (SM3 segments), security alerts

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 16:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("totp_enrolled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_code"),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ip", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(200), nullable=True))
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("alg", sa.String(8), nullable=False, server_default="sha256"))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("alg", sa.String(8), nullable=False, server_default="sha256"))
    op.create_table(
        "security_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("fact_key", sa.String(120), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.UniqueConstraint("kind", "fact_key", name="uq_security_alert_fact"),
    )


def downgrade() -> None:
    op.drop_table("security_alerts")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("alg")
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("alg")
    with op.batch_alter_table("web_sessions") as batch:
        for c in ("user_agent", "ip", "last_seen_at"):
            batch.drop_column(c)
    op.drop_index("ix_recovery_codes_user_id", "recovery_codes")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("users") as batch:
        for c in ("totp_last_step", "totp_enrolled_at", "totp_secret"):
            batch.drop_column(c)
