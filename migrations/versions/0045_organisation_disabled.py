"""registry: an organisation can be disabled (its systems are then not usable anywhere)

Revision ID: 0045
Revises: 0044
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place on both databases: a batch on SQLite would copy the table and drop the old one,
    # which the foreign keys pointing at organisations refuse once any exist
    op.add_column(
        "organisation",
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # a batch would copy the table and drop the old one, which the foreign keys pointing at
        # organisations refuse; SQLite (3.35+) drops a plain column in place
        op.execute("ALTER TABLE organisation DROP COLUMN disabled")
        return
    op.drop_column("organisation", "disabled")
