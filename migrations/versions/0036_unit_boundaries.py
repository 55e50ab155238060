"""monitoring: units' boundaries for the maps (uploaded or synthetic)

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-05 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_unit_boundary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["administrative_unit.id"],
            name=op.f("fk_monitoring_unit_boundary_unit_id_administrative_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_unit_boundary")),
        sa.UniqueConstraint("unit_id", name="uq_monitoring_unit_boundary_unit"),
    )


def downgrade() -> None:
    op.drop_table("monitoring_unit_boundary")
