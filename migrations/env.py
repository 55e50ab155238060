"""Alembic environment: the engine is handed in by tinhso.core.migrations."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from tinhso.core.db import UTCDateTime
from tinhso.core.migrations import include_object
from tinhso.models import metadata


def render_item(type_: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones, so revisions do not import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - always run through tinhso.core.migrations
    msg = "run migrations with `tinhso db upgrade`, which supplies the engine"
    raise RuntimeError(msg)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
