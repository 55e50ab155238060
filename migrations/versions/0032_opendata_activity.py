"""opendata: every change of a dataset with the dataset as it was after it (its activity stream)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 04:54:18.923190
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_activity",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("activity_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_dataset.id"],
            name=op.f("fk_opendata_activity_dataset_id_opendata_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_opendata_activity_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_activity")),
    )
    with op.batch_alter_table("opendata_activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opendata_activity_dataset", ["dataset_id", "timestamp"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("opendata_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_activity_dataset")

    op.drop_table("opendata_activity")
