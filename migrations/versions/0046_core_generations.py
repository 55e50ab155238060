"""core: data generations, one counter per group of tables moved on by each commit writing them

Revision ID: 0046
Revises: 0045
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_generation",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_core_generation")),
    )


def downgrade() -> None:
    op.drop_table("core_generation")
