"""exchange: audit records keep only the time index

Every audit commit rewrites the pages of each index of ``exchange_audit_record``; no query uses
the service/time and consumer/time indexes (statistics, export and replay read time ranges).
Plain DROP/CREATE INDEX (no batch mode): the table is never copied.

Revision ID: 0008_exchange_audit_indexes
Revises: 0007_exchange_client_lockout
Create Date: 2026-11-22 03:27:12.862598
"""

from __future__ import annotations

from alembic import op

revision = "0008_exchange_audit_indexes"
down_revision = "0007_exchange_client_lockout"
branch_labels = None
depends_on = None

TABLE = "exchange_audit_record"


def upgrade() -> None:
    op.drop_index("ix_exchange_audit_record_consumer_time", table_name=TABLE)
    op.drop_index("ix_exchange_audit_record_service_time", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_exchange_audit_record_service_time", TABLE, ["service", "recorded_at"])
    op.create_index("ix_exchange_audit_record_consumer_time", TABLE, ["consumer", "recorded_at"])
