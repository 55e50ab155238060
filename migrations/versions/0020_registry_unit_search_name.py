"""registry: administrative units get a folded name for search ("bich dong" finds Bích Động)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _fold(text: str) -> str:
    # tinhso.core.text.fold as it is at this revision (revisions import no app code).
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.lower().split())


def upgrade() -> None:
    with op.batch_alter_table("administrative_unit") as batch:
        batch.add_column(
            sa.Column("search_name", sa.String(length=200), nullable=False, server_default="")
        )
    units = sa.table(
        "administrative_unit",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("search_name", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(units.c.id, units.c.name)).all()
    changes = [{"unit_id": row.id, "folded": _fold(row.name)} for row in rows]
    statement = (
        units.update()
        .where(units.c.id == sa.bindparam("unit_id"))
        .values(search_name=sa.bindparam("folded"))
    )
    for start in range(0, len(changes), 2000):
        connection.execute(statement, changes[start : start + 2000])
    with op.batch_alter_table("administrative_unit") as batch:
        batch.alter_column("search_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("administrative_unit") as batch:
        batch.drop_column("search_name")
