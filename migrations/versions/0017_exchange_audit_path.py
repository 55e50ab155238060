"""exchange: audit records keep the request path as received

Beside ``path_template`` (what the path matched), ``path`` is the raw path the consumer sent
(percent-encoding kept). Existing records keep NULL; their hash leaves the column out, so
chains written before this revision still verify. Plain ADD COLUMN (no batch mode): the table
is never copied.

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-04 08:14:08.445864
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "exchange_audit_record"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("path", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("path")
