"""opendata: datasets, resources, tags, themes (groups) and licences of the open data catalogue

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title_vi", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=True),
        sa.Column("description_vi", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_group")),
        sa.UniqueConstraint("name", name=op.f("uq_opendata_group_name")),
    )
    op.create_table(
        "opendata_licence",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("title_vi", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("attribution_vi", sa.Text(), nullable=False),
        sa.Column("attribution_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_licence")),
    )
    op.create_table(
        "opendata_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_opendata_tag_name")),
    )
    op.create_table(
        "opendata_dataset",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title_vi", sa.String(length=500), nullable=False),
        sa.Column("title_en", sa.String(length=500), nullable=True),
        sa.Column("notes_vi", sa.Text(), nullable=False),
        sa.Column("notes_en", sa.Text(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("licence_id", sa.String(length=100), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "deleted",
                name="opendata_dataset_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("update_frequency", sa.String(length=32), nullable=False),
        sa.Column("temporal_start", sa.Date(), nullable=True),
        sa.Column("temporal_end", sa.Date(), nullable=True),
        sa.Column("spatial_unit_set", sa.String(length=16), nullable=False),
        sa.Column("spatial_unit_code", sa.String(length=16), nullable=False),
        sa.Column("contact_point", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("search_title", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"],
            ["opendata_licence.id"],
            name=op.f("fk_opendata_dataset_licence_id_opendata_licence"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_opendata_dataset_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_dataset")),
        sa.UniqueConstraint("name", name=op.f("uq_opendata_dataset_name")),
    )
    op.create_index(
        "ix_opendata_dataset_organisation", "opendata_dataset", ["organisation_id"], unique=False
    )
    op.create_index(
        "ix_opendata_dataset_state_private", "opendata_dataset", ["state", "private"], unique=False
    )

    op.create_table(
        "opendata_dataset_group",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_dataset.id"],
            name=op.f("fk_opendata_dataset_group_dataset_id_opendata_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["opendata_group.id"],
            name=op.f("fk_opendata_dataset_group_group_id_opendata_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "group_id", name=op.f("pk_opendata_dataset_group")),
    )
    op.create_index(
        "ix_opendata_dataset_group_group", "opendata_dataset_group", ["group_id"], unique=False
    )

    op.create_table(
        "opendata_dataset_tag",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_dataset.id"],
            name=op.f("fk_opendata_dataset_tag_dataset_id_opendata_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["opendata_tag.id"],
            name=op.f("fk_opendata_dataset_tag_tag_id_opendata_tag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "tag_id", name=op.f("pk_opendata_dataset_tag")),
    )
    op.create_index("ix_opendata_dataset_tag_tag", "opendata_dataset_tag", ["tag_id"], unique=False)

    op.create_table(
        "opendata_resource",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("stored_path", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_dataset.id"],
            name=op.f("fk_opendata_resource_dataset_id_opendata_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_resource")),
    )
    op.create_index(
        "ix_opendata_resource_dataset", "opendata_resource", ["dataset_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_opendata_resource_dataset", table_name="opendata_resource")

    op.drop_table("opendata_resource")
    op.drop_index("ix_opendata_dataset_tag_tag", table_name="opendata_dataset_tag")

    op.drop_table("opendata_dataset_tag")
    op.drop_index("ix_opendata_dataset_group_group", table_name="opendata_dataset_group")

    op.drop_table("opendata_dataset_group")
    op.drop_index("ix_opendata_dataset_state_private", table_name="opendata_dataset")
    op.drop_index("ix_opendata_dataset_organisation", table_name="opendata_dataset")

    op.drop_table("opendata_dataset")
    op.drop_table("opendata_tag")
    op.drop_table("opendata_licence")
    op.drop_table("opendata_group")
