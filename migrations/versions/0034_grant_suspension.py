"""exchange: a grant can be suspended (with its reason and who) and resumed

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 05:14:18.406686
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("suspended_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suspended_by_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_exchange_grant_suspended_by_user_id_user_account"),
            "user_account",
            ["suspended_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_grant", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_exchange_grant_suspended_by_user_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("suspended_by_user_id")
        batch_op.drop_column("suspended_reason")
        batch_op.drop_column("suspended_at")
