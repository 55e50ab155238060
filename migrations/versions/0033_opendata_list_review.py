"""opendata: the reviews of each agency's open-data list (due every six months)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 04:57:37.756561
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_list_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_opendata_list_review_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["user_account.id"],
            name=op.f("fk_opendata_list_review_reviewed_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_list_review")),
    )
    with op.batch_alter_table("opendata_list_review", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opendata_list_review_organisation", ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("opendata_list_review", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_list_review_organisation")

    op.drop_table("opendata_list_review")
