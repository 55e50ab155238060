"""monitoring: alert rules and the alerts they open (open and resolved, kept as history)

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-05 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "monitoring_alert_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_vi", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=True),
        sa.Column(
            "kind",
            _enum("alert_kind", "behind_trajectory", "threshold", "missing_value"),
            nullable=False,
        ),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("scope_unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "scope_level", _enum("unit_level", "province", "district", "commune"), nullable=True
        ),
        sa.Column("period", sa.String(length=10), nullable=True),
        sa.Column("operator", _enum("comparison", "<=", "<", ">=", ">", "=="), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("cooldown_hours", sa.Integer(), nullable=False),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("recipient_roles", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_monitoring_alert_rule_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_unit_id"],
            ["administrative_unit.id"],
            name=op.f("fk_monitoring_alert_rule_scope_unit_id_administrative_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_alert_rule")),
        sa.UniqueConstraint("code", name=op.f("uq_monitoring_alert_rule_code")),
    )
    op.create_table(
        "monitoring_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("state", _enum("alert_state", "open", "resolved"), nullable=False),
        sa.Column("value_seen", sa.Float(), nullable=True),
        sa.Column("status_seen", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["monitoring_alert_rule.id"],
            name=op.f("fk_monitoring_alert_rule_id_monitoring_alert_rule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["administrative_unit.id"],
            name=op.f("fk_monitoring_alert_unit_id_administrative_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_alert")),
    )
    op.create_index(
        op.f("ix_monitoring_alert_rule_id"), "monitoring_alert", ["rule_id"], unique=False
    )
    op.create_index(
        "ix_monitoring_alert_unit_state", "monitoring_alert", ["unit_id", "state"], unique=False
    )
    # One open alert per (rule, unit, period): the de-duplication holds even for two workers.
    op.create_index(
        "uq_monitoring_alert_open",
        "monitoring_alert",
        ["rule_id", "unit_id", "period"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("uq_monitoring_alert_open", table_name="monitoring_alert")
    op.drop_index("ix_monitoring_alert_unit_state", table_name="monitoring_alert")
    op.drop_index(op.f("ix_monitoring_alert_rule_id"), table_name="monitoring_alert")
    op.drop_table("monitoring_alert")
    op.drop_table("monitoring_alert_rule")
