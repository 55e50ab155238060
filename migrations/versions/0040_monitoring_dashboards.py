"""monitoring: dashboards of the operations centre and their ordered panels

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-05 17:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_dashboard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title_vi", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("rotation_seconds", sa.Integer(), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["administrative_unit.id"],
            name=op.f("fk_monitoring_dashboard_unit_id_administrative_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_monitoring_dashboard_owner_organisation_id_organisation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_dashboard")),
        sa.UniqueConstraint("slug", name=op.f("uq_monitoring_dashboard_slug")),
    )
    op.create_table(
        "monitoring_dashboard_panel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title_vi", sa.String(length=200), nullable=True),
        sa.Column("title_en", sa.String(length=200), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["monitoring_dashboard.id"],
            name=op.f("fk_monitoring_dashboard_panel_dashboard_id_monitoring_dashboard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_dashboard_panel")),
    )
    with op.batch_alter_table("monitoring_dashboard_panel", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_dashboard_panel_dashboard_id"),
            ["dashboard_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("monitoring_dashboard_panel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_dashboard_panel_dashboard_id"))
    op.drop_table("monitoring_dashboard_panel")
    op.drop_table("monitoring_dashboard")
