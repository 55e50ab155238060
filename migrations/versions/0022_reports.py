"""reports: field report categories, routing, reports, their timeline and photos, Open311 API keys

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 23:48:05.486261
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_report_api_key_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_report_api_key_name")),
    )
    op.create_table(
        "report_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_vi", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description_vi", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("group_vi", sa.String(length=200), nullable=False),
        sa.Column("keywords", sa.String(length=500), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "urgent",
                "normal",
                "complex",
                name="report_severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("duplicate_radius_m", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_category")),
        sa.UniqueConstraint("code", name=op.f("uq_report_category_code")),
    )
    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("unit_as_typed", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "api",
                "hotline",
                name="report_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.String(length=200), nullable=False),
        sa.Column("reporter_email", sa.String(length=254), nullable=False),
        sa.Column("reporter_phone", sa.String(length=32), nullable=False),
        sa.Column("reporter_public", sa.Boolean(), nullable=False),
        sa.Column("reporter_key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "urgent",
                "normal",
                "complex",
                name="report_severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "submitted",
                "accepted",
                "refused",
                "assigned",
                "in_progress",
                "resolved",
                "duplicate",
                "reopened",
                name="report_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("accept_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column(
            "rating",
            sa.Enum(
                "satisfied",
                "unsatisfied",
                name="report_rating",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("rating_comment", sa.Text(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(description) <= 4000",
            name=op.f("ck_report_description_at_most_4000_characters"),
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["report_api_key.id"],
            name=op.f("fk_report_api_key_id_report_api_key"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_report_assignee_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["report_category.id"],
            name=op.f("fk_report_category_id_report_category"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["report.id"],
            name=op.f("fk_report_duplicate_of_id_report"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_report_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["administrative_unit.id"],
            name=op.f("fk_report_unit_id_administrative_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("code", name=op.f("uq_report_code")),
    )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index("ix_report_category_state", ["category_id", "state"], unique=False)
        batch_op.create_index("ix_report_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_report_organisation_state", ["organisation_id", "state"], unique=False
        )
        batch_op.create_index("ix_report_unit", ["unit_id"], unique=False)

    op.create_table(
        "report_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "category_id IS NOT NULL OR unit_id IS NOT NULL",
            name=op.f("ck_report_route_route_names_something"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["report_category.id"],
            name=op.f("fk_report_route_category_id_report_category"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_report_route_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["administrative_unit.id"],
            name=op.f("fk_report_route_unit_id_administrative_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_route")),
        sa.UniqueConstraint("category_id", "unit_id", name="uq_report_route_category_unit"),
    )
    op.create_table(
        "report_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "submitted",
                "accepted",
                "refused",
                "assigned",
                "in_progress",
                "resolved",
                "duplicate",
                "reopened",
                name="report_event_from_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "submitted",
                "accepted",
                "refused",
                "assigned",
                "in_progress",
                "resolved",
                "duplicate",
                "reopened",
                name="report_event_to_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_report_event_actor_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_report_event_organisation_id_organisation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_event_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_event")),
    )
    with op.batch_alter_table("report_event", schema=None) as batch_op:
        batch_op.create_index("ix_report_event_report", ["report_id", "id"], unique=False)

    op.create_table(
        "report_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(length=300), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redacted_path", sa.String(length=300), nullable=True),
        sa.Column("redacted_by_id", sa.Integer(), nullable=True),
        sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["redacted_by_id"],
            ["user_account.id"],
            name=op.f("fk_report_photo_redacted_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_photo_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_photo")),
    )
    with op.batch_alter_table("report_photo", schema=None) as batch_op:
        batch_op.create_index("ix_report_photo_report", ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_photo", schema=None) as batch_op:
        batch_op.drop_index("ix_report_photo_report")

    op.drop_table("report_photo")
    with op.batch_alter_table("report_event", schema=None) as batch_op:
        batch_op.drop_index("ix_report_event_report")

    op.drop_table("report_event")
    op.drop_table("report_route")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_unit")
        batch_op.drop_index("ix_report_organisation_state")
        batch_op.drop_index("ix_report_created")
        batch_op.drop_index("ix_report_category_state")

    op.drop_table("report")
    op.drop_table("report_category")
    op.drop_table("report_api_key")
