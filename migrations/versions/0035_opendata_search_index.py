"""opendata: a trigram index (pg_trgm) of the datasets' folded search text on PostgreSQL

Search matches each word at a word start (``LIKE '% word%'``); a GIN trigram index finds the
candidate rows without reading the whole catalogue. SQLite keeps a plain index of the column.
``pg_trgm`` is a trusted extension: the database's owner may create it (PostgreSQL 13+).

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_opendata_dataset_search_text",
        "opendata_dataset",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_opendata_dataset_search_text", table_name="opendata_dataset")
