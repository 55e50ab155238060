"""exchange: services get their code, names and descriptions folded for the catalogue's search
("ho so suc khoe" finds "Hồ sơ sức khỏe")

Revision ID: 0025
Revises: 0027
Create Date: 2026-12-04 23:20:00
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0027"
branch_labels = None
depends_on = None

_FIELDS = ("code", "name_vi", "name_en", "description_vi", "description_en")


def _fold(text: str) -> str:
    # tinhso.core.text.fold as it is at this revision (revisions import no app code).
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.lower().split())


def upgrade() -> None:
    with op.batch_alter_table("exchange_service") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    services = sa.table(
        "exchange_service",
        sa.column("id", sa.Integer),
        sa.column("search_text", sa.Text),
        *(sa.column(name, sa.Text) for name in _FIELDS),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(services.c.id, *(services.c[name] for name in _FIELDS))
    ).all()
    changes = [
        {
            "service_id": row.id,
            "folded": _fold(" ".join(str(row._mapping[n]) for n in _FIELDS if row._mapping[n])),
        }
        for row in rows
    ]
    statement = (
        services.update()
        .where(services.c.id == sa.bindparam("service_id"))
        .values(search_text=sa.bindparam("folded"))
    )
    for start in range(0, len(changes), 2000):
        connection.execute(statement, changes[start : start + 2000])
    with op.batch_alter_table("exchange_service") as batch:
        batch.alter_column("search_text", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("exchange_service") as batch:
        batch.drop_column("search_text")
