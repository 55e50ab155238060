"""opendata: full-text indexes of the datasets' folded search columns

SQLite: an FTS5 table ``opendata_dataset_fts`` (the dataset's id unindexed, ``title`` from
``search_title``, ``body`` from ``search_text``; ``unicode61 remove_diacritics 2``, prefix
indexes of 2 and 3 characters) kept in step with ``opendata_dataset`` by three triggers, and
``opendata_dataset_fts_vocab`` (fts5vocab) listing its words for typo tolerance.
PostgreSQL: a stored generated column ``search_vector`` (``search_title`` weight A,
``search_text`` weight B, the ``simple`` configuration: the columns are already folded) with
a GIN index; the pg_trgm index of migration 0035 stays for typo tolerance.
Both are filled from the existing rows here. The models do not declare them
(``tinhso.core.migrations.include_object`` leaves them out of the comparison).

A later batch migration of ``opendata_dataset`` on SQLite drops its triggers with the old
table: it must create them again (``sqlite_triggers`` below).

Revision ID: 0038
Revises: 0037
"""

from __future__ import annotations

from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

# Written out in full (no names pasted into SQL).
sqlite_triggers = (
    """CREATE TRIGGER opendata_dataset_fts_insert AFTER INSERT ON opendata_dataset BEGIN
        INSERT INTO opendata_dataset_fts(dataset_id, title, body)
        VALUES (new.id, new.search_title, new.search_text);
    END""",
    """CREATE TRIGGER opendata_dataset_fts_update
    AFTER UPDATE OF id, search_title, search_text ON opendata_dataset BEGIN
        DELETE FROM opendata_dataset_fts WHERE dataset_id = old.id;
        INSERT INTO opendata_dataset_fts(dataset_id, title, body)
        VALUES (new.id, new.search_title, new.search_text);
    END""",
    """CREATE TRIGGER opendata_dataset_fts_delete AFTER DELETE ON opendata_dataset BEGIN
        DELETE FROM opendata_dataset_fts WHERE dataset_id = old.id;
    END""",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE opendata_dataset ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple'::regconfig, search_title), 'A') || "
            "setweight(to_tsvector('simple'::regconfig, search_text), 'B')) STORED"
        )
        op.execute(
            "CREATE INDEX ix_opendata_dataset_search_vector "
            "ON opendata_dataset USING gin (search_vector)"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE opendata_dataset_fts USING fts5(dataset_id UNINDEXED, title, body, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    op.execute(
        "CREATE VIRTUAL TABLE opendata_dataset_fts_vocab "
        "USING fts5vocab(opendata_dataset_fts, 'row')"
    )
    op.execute(
        "INSERT INTO opendata_dataset_fts(dataset_id, title, body) "
        "SELECT id, search_title, search_text FROM opendata_dataset"
    )
    for statement in sqlite_triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_opendata_dataset_search_vector")
        op.execute("ALTER TABLE opendata_dataset DROP COLUMN IF EXISTS search_vector")
        return
    op.execute("DROP TRIGGER IF EXISTS opendata_dataset_fts_insert")
    op.execute("DROP TRIGGER IF EXISTS opendata_dataset_fts_update")
    op.execute("DROP TRIGGER IF EXISTS opendata_dataset_fts_delete")
    op.execute("DROP TABLE IF EXISTS opendata_dataset_fts_vocab")
    op.execute("DROP TABLE IF EXISTS opendata_dataset_fts")
