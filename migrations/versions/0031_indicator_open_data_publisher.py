"""monitoring: the organisation that publishes an indicator as open data (None: not published)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 04:27:06.583905
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_data_publisher_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_indicator_open_data_publisher_id_organisation"),
            "organisation",
            ["open_data_publisher_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_indicator_open_data_publisher_id_organisation"), type_="foreignkey"
        )
        batch_op.drop_column("open_data_publisher_id")
