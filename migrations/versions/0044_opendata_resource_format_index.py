"""opendata: the resources' index on (dataset_id, format) in place of (dataset_id)

The search counts its format facet over the matching datasets' resources; with the format in
the index those counts are read from the index alone (the dataset's resources are still
found through its first column).

Revision ID: 0044
Revises: 0041
"""

from __future__ import annotations

from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_opendata_resource_dataset_format",
        "opendata_resource",
        ["dataset_id", "format"],
        unique=False,
    )
    op.drop_index("ix_opendata_resource_dataset", table_name="opendata_resource")


def downgrade() -> None:
    op.create_index(
        "ix_opendata_resource_dataset", "opendata_resource", ["dataset_id"], unique=False
    )
    op.drop_index("ix_opendata_resource_dataset_format", table_name="opendata_resource")
