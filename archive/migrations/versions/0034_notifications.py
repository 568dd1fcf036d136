"""Notifications (消息) in the app and by e-mail, with each user's choice per kind

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-04 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(200), nullable=True))
    # when a warning was stored (its opened_at is the fact's time, often earlier): notices look at it
    with op.batch_alter_table("warnings") as batch:
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True,
                                   server_default=sa.text("CURRENT_TIMESTAMP")))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_key", sa.String(120), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("link", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mailed", sa.String(16), nullable=False, server_default=""),
        sa.UniqueConstraint("username", "event_key", name="uq_notification_event"),
    )
    op.create_index("ix_notifications_unread", "notifications", ["username", "read_at"])
    op.create_index("ix_notifications_mail", "notifications", ["mailed", "username"])
    op.create_table(
        "notification_prefs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.UniqueConstraint("username", "kind", name="uq_notification_pref"),
    )
    op.create_table(
        "outgoing_emails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("dedupe_key", sa.String(160), nullable=False, unique=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_table(
        "briefing_publications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("publisher_org", sa.String(64), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("version_id", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("publisher_org", "month", name="uq_briefing_publication"),
    )
    op.create_table(
        "briefing_recipients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("publication_id", sa.Integer, sa.ForeignKey("briefing_publications.id"), nullable=False),
        sa.Column("org_code", sa.String(64), nullable=False),
        sa.Column("read_by", sa.String(64), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("publication_id", "org_code", name="uq_briefing_recipient"),
    )
    op.create_index("ix_briefing_recipients_org_code", "briefing_recipients", ["org_code"])
    op.create_table(
        "notify_marks",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notify_marks")
    op.drop_index("ix_briefing_recipients_org_code", "briefing_recipients")
    op.drop_table("briefing_recipients")
    op.drop_table("briefing_publications")
    op.drop_table("outgoing_emails")
    op.drop_table("notification_prefs")
    op.drop_index("ix_notifications_mail", "notifications")
    op.drop_index("ix_notifications_unread", "notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("warnings") as batch:
        batch.drop_column("created_at")
    op.drop_column("users", "email")
