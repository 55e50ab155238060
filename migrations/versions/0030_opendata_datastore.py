"""opendata: the datastore (where a tabular resource's rows are), a resource's last change

The datastore's own tables (``ds_…``) are made at run time, one per loaded resource; a
downgrade leaves them (drop them by hand if you go back before this revision).

Revision ID: 0030
Revises: 0025
Create Date: 2026-12-05 04:18:16.399066
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_datastore",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("table_name", sa.String(length=80), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("indexes", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("number_format", sa.String(length=2), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["opendata_resource.id"],
            name=op.f("fk_opendata_datastore_resource_id_opendata_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_opendata_datastore")),
    )
    with op.batch_alter_table("opendata_resource", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("datastore_active", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("opendata_resource", schema=None) as batch_op:
        batch_op.drop_column("datastore_active")
        batch_op.drop_column("last_modified")

    op.drop_table("opendata_datastore")
