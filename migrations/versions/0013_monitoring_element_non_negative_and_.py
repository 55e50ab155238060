"""monitoring: element non_negative and allows_estimates

A data element may be declared non-negative (negative values are refused) and may allow
estimates (values for periods that have not ended); both are false for existing elements.

Revision ID: 0013
Revises: 0012", "0005_monitoring_collection
Create Date: 2026-12-04 08:12:31.418536
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
# It alters a monitoring table: it also follows the monitoring branch (a merge point).
down_revision = ("0012", "0005_monitoring_collection")
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite supports it with a constant default): the table is not copied.
    for name in ("non_negative", "allows_estimates"):
        op.add_column(
            "data_element",
            sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False),
        )


def downgrade() -> None:
    with op.batch_alter_table("data_element", schema=None) as batch_op:
        batch_op.drop_column("allows_estimates")
        batch_op.drop_column("non_negative")
