"""calendar alert: a missing holiday calendar is one system alert, not a warning on every case;
the per-case calendar warnings stored before are closed as resolved (their history stays)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 07:40:00
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

from archive.models import UTCDateTime


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    warnings = sa.table("warnings", sa.column("rule", sa.String), sa.column("status", sa.String),
                        sa.column("handled_at", UTCDateTime), sa.column("handled_by", sa.String),
                        sa.column("handled_note", sa.Text))
    op.execute(warnings.update().where(warnings.c.rule == "calendar_missing", warnings.c.status == "open")
               .values(status="resolved", handled_at=dt.datetime.now(dt.timezone.utc), handled_by="系统",
                       handled_note="缺少节假日安排改为向市级发出的系统提醒（calendar alert）"))


def downgrade() -> None:
    pass
