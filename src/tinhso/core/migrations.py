"""Run and check Alembic migrations from code (CLI, app start-up checks, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Engine


def migrations_dir() -> Path:
    """Where the Alembic revisions live: inside the wheel, or at the source tree's top."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def head_revisions(engine: Engine) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def is_up_to_date(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions(engine)


# Tables a domain makes at run time, which no revision knows: the open data datastore's
# tables (one per loaded resource, tinhso.opendata.datastore.tables) and their indexes.
RUNTIME_TABLE_PREFIXES = ("ds_",)
# Full-text indexes a revision makes but no model declares, as they exist on one database
# only (migration 0038, tinhso.opendata.catalogue.search): SQLite's FTS5 table, its shadow
# and vocabulary tables; PostgreSQL's generated tsvector column and its GIN index.
UNMODELLED_PREFIXES = ("opendata_dataset_fts",)
UNMODELLED_NAMES = {
    ("column", "search_vector"),
    ("index", "ix_opendata_dataset_search_vector"),
}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any
) -> bool:
    """Alembic's filter: leave out the tables made at run time (and their indexes), and the
    full-text indexes no model declares."""
    if not reflected:
        return True
    if (type_, name) in UNMODELLED_NAMES:
        return False
    left_out = (*RUNTIME_TABLE_PREFIXES, *UNMODELLED_PREFIXES)
    if type_ == "table":
        return not (name or "").startswith(left_out)
    table = getattr(obj, "table", None)
    return table is None or not str(table.name).startswith(left_out)


def model_drift(engine: Engine, metadata: MetaData) -> list[Any]:
    """Differences between the models and the migrated schema (empty when they agree).

    ``metadata`` is every domain's tables (``tinhso.models.metadata``); core does not import
    the domains itself.
    """
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "render_as_batch": engine.dialect.name == "sqlite",
                "include_object": include_object,
            },
        )
        return list(compare_metadata(context, metadata))
