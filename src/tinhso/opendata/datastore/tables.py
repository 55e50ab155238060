"""The physical tables of the datastore: one per ingestion of a resource.

A table is named ``ds_<resource id without dashes>_<generation>`` and has ``_id`` (the
row's number in the file, from 1), one column per field (``c0``, ``c1``…, typed) and
``_search`` (the row's text folded: lower case, no diacritics, đ → d) for ``q``. Columns
are indexed after the rows are in (up to ``INDEXED_COLUMNS`` of them), so filters and
sorts deep in a large table use an index. Nothing here commits: the caller's transaction
creates, fills and switches tables together.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    MetaData,
    Table,
    Text,
    insert,
    text,
)

from tinhso.opendata.datastore.columns import Field, FieldType

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from sqlalchemy.types import TypeEngine

INDEXED_COLUMNS = 30
_TYPES: dict[FieldType, type[TypeEngine[Any]]] = {
    FieldType.INT: BigInteger,
    FieldType.NUMERIC: Float,
    FieldType.DATE: Date,
    FieldType.TIMESTAMP: DateTime,
    FieldType.TEXT: Text,
}

# PostgreSQL's names of the columns' types, for COPY's fixed dumpers
_COPY_TYPES: dict[type[TypeEngine[Any]], str] = {
    BigInteger: "int8",
    Float: "float8",
    Date: "date",
    DateTime: "timestamp",
    Text: "text",
}


def table_name(resource_id: str, generation: int) -> str:
    return f"ds_{resource_id.replace('-', '')[:32]}_{generation}"


def table_of(name: str, fields: Sequence[Field]) -> Table:
    """The SQLAlchemy table for ``name`` (built in its own metadata, never the app's)."""
    return Table(
        name,
        MetaData(),
        Column("_id", BigInteger, primary_key=True, autoincrement=False),
        *(Column(item.column, _TYPES[item.type]()) for item in fields),
        Column("_search", Text, nullable=False, default=""),
    )


def readable(name: str, fields: Sequence[Field]) -> Table:
    """The table for ``name`` to read: one object per name and columns in the process, so
    SQLAlchemy compiles a search's statements once, not at every request (it keys its
    compiled statements on the table object). Never given indexes: loading builds its own
    with :func:`table_of`."""
    return _readable(name, tuple((item.column, item.type) for item in fields))


@lru_cache(maxsize=256)
def _readable(name: str, columns: tuple[tuple[str, FieldType], ...]) -> Table:
    return table_of(name, [Field(column, kind, column) for column, kind in columns])


def create(session: Session, table: Table) -> None:
    table.create(session.connection())


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Add rows to a table this transaction created. On PostgreSQL by ``COPY ... FREEZE``:
    the rows are written frozen and their pages marked all-visible, so an index-only scan
    (a filter's total, a deep offset's page) reads no table page from the first search on,
    instead of one per row until a VACUUM has passed."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = [column.name for column in table.columns]
    types = [_COPY_TYPES[type(column.type)] for column in table.columns]
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN (FREEZE)') as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row([row.get(name) for name in names])
    finally:
        cursor.close()


def add_indexes(
    session: Session,
    table: Table,
    fields: Sequence[Field],
    composites: Sequence[Sequence[Field]] = (),
) -> None:
    """One index per column (the first ``INDEXED_COLUMNS``), and each declared composite
    index with ``_id`` last, so a filter on its first columns sorted by the next is read in
    order from the index; then the planner's statistics (PostgreSQL)."""
    connection = session.connection()
    for position, item in enumerate(fields[:INDEXED_COLUMNS]):
        Index(f"ix_{table.name}_{position}", table.c[item.column]).create(connection)
    for number, columns in enumerate(composites):
        Index(
            f"ix_{table.name}_c{number}",
            *(table.c[item.column] for item in columns),
            table.c["_id"],
        ).create(connection)
    if connection.dialect.name == "postgresql":
        connection.execute(text(f'ANALYZE "{table.name}"'))


def drop(session: Session, name: str) -> None:
    """Drop the table if it exists (its indexes go with it)."""
    Table(name, MetaData()).drop(session.connection(), checkfirst=True)
