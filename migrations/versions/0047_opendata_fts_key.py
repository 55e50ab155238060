"""opendata (SQLite): each dataset's full-text row found through a key table

Migration 0038's triggers found a dataset's full-text row by ``dataset_id``, a column FTS5
does not index: every change or deletion of a dataset read the whole full-text table. A
small table ``opendata_dataset_fts_key`` now gives each dataset (its UUID) an integer that is
the rowid of its full-text row, and the triggers find the row by it (two b-tree lookups).
The dataset table's own rowid is not used: SQLite may renumber it on VACUUM, as its primary
key is not an integer. PostgreSQL is unchanged (its index is a generated column).

Revision ID: 0047
Revises: 0046
"""

from __future__ import annotations

from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None

_TRIGGERS = (
    "opendata_dataset_fts_insert",
    "opendata_dataset_fts_update",
    "opendata_dataset_fts_delete",
)

# Written out in full (no names pasted into SQL).
_BY_KEY = (
    """CREATE TRIGGER opendata_dataset_fts_insert AFTER INSERT ON opendata_dataset BEGIN
        INSERT INTO opendata_dataset_fts_key(dataset_id) VALUES (new.id);
        INSERT INTO opendata_dataset_fts(rowid, dataset_id, title, body)
        VALUES (
            (SELECT id FROM opendata_dataset_fts_key WHERE dataset_id = new.id),
            new.id, new.search_title, new.search_text
        );
    END""",
    """CREATE TRIGGER opendata_dataset_fts_update
    AFTER UPDATE OF id, search_title, search_text ON opendata_dataset BEGIN
        DELETE FROM opendata_dataset_fts
        WHERE rowid = (SELECT id FROM opendata_dataset_fts_key WHERE dataset_id = old.id);
        UPDATE opendata_dataset_fts_key SET dataset_id = new.id WHERE dataset_id = old.id;
        INSERT INTO opendata_dataset_fts(rowid, dataset_id, title, body)
        VALUES (
            (SELECT id FROM opendata_dataset_fts_key WHERE dataset_id = new.id),
            new.id, new.search_title, new.search_text
        );
    END""",
    """CREATE TRIGGER opendata_dataset_fts_delete AFTER DELETE ON opendata_dataset BEGIN
        DELETE FROM opendata_dataset_fts
        WHERE rowid = (SELECT id FROM opendata_dataset_fts_key WHERE dataset_id = old.id);
        DELETE FROM opendata_dataset_fts_key WHERE dataset_id = old.id;
    END""",
)

_BY_DATASET_ID = (
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


def _replace(triggers: tuple[str, ...]) -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in triggers:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE opendata_dataset_fts_key ("
        "id INTEGER PRIMARY KEY, dataset_id VARCHAR(36) NOT NULL UNIQUE)"
    )
    op.execute("INSERT INTO opendata_dataset_fts_key(dataset_id) SELECT id FROM opendata_dataset")
    op.execute("DELETE FROM opendata_dataset_fts")
    op.execute(
        "INSERT INTO opendata_dataset_fts(rowid, dataset_id, title, body) "
        "SELECT k.id, d.id, d.search_title, d.search_text "
        "FROM opendata_dataset AS d JOIN opendata_dataset_fts_key AS k ON k.dataset_id = d.id"
    )
    _replace(_BY_KEY)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _replace(_BY_DATASET_ID)
    op.execute("DROP TABLE IF EXISTS opendata_dataset_fts_key")
