"""monitoring: alert rules on field reports' late share (kind reports_late_share, no
indicator, a window in days)

Revision ID: 0043
Revises: 0041
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

_OLD = ("behind_trajectory", "threshold", "missing_value")
_NEW = (*_OLD, "reports_late_share")
_CHECK = "ck_monitoring_alert_rule_alert_kind"


def _kind(*values: str) -> sa.Enum:
    return sa.Enum(*values, name="alert_kind", native_enum=False, create_constraint=True, length=32)


def _change(kinds: tuple[str, ...], was: tuple[str, ...], *, nullable: bool) -> None:
    # SQLite: the table is copied with the column's new CHECK; PostgreSQL: ALTERs in place.
    with op.batch_alter_table("monitoring_alert_rule", schema=None) as batch_op:
        if op.get_bind().dialect.name == "sqlite":
            batch_op.alter_column("kind", existing_type=_kind(*was), type_=_kind(*kinds))
        else:
            batch_op.drop_constraint(op.f(_CHECK), type_="check")
            listed = ", ".join(f"'{kind}'" for kind in kinds)
            batch_op.create_check_constraint(op.f(_CHECK), sa.text(f"kind IN ({listed})"))
        batch_op.alter_column("indicator_id", existing_type=sa.Integer(), nullable=nullable)


def upgrade() -> None:
    _change(_NEW, _OLD, nullable=True)
    with op.batch_alter_table("monitoring_alert_rule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM monitoring_alert_rule WHERE kind = 'reports_late_share'")
    with op.batch_alter_table("monitoring_alert_rule", schema=None) as batch_op:
        batch_op.drop_column("window_days")
    _change(_OLD, _NEW, nullable=False)
