"""core: the outbox of e-mail every domain sends (core_mail)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 23:48:10.164306
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link_path", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_mail")),
    )
    with op.batch_alter_table("core_mail", schema=None) as batch_op:
        batch_op.create_index("ix_core_mail_pending", ["sent_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("core_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_core_mail_pending")

    op.drop_table("core_mail")
