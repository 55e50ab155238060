"""monitoring: a boundary's coarser geometry for the whole-country map, and who uploaded it

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitoring_unit_boundary", schema=None) as batch_op:
        # Null for boundaries stored before this revision: the map then uses ``geometry``.
        batch_op.add_column(sa.Column("geometry_overview", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("uploaded_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_monitoring_unit_boundary_uploaded_by_id_user_account"),
            "user_account",
            ["uploaded_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("monitoring_unit_boundary", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_monitoring_unit_boundary_uploaded_by_id_user_account"),
            type_="foreignkey",
        )
        batch_op.drop_column("uploaded_by_id")
        batch_op.drop_column("geometry_overview")
