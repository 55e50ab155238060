"""The datastore of resources: load a file into it, describe it, drop it.

Loading is part of the caller's transaction: it first records the switch (the resource's
``datastore_active`` and its ``OpendataDatastore`` row), so the transaction is open before
any table is created (SQLite runs DDL inside an open transaction), then creates and fills
the new table, indexes it and drops the previous generation's. A refused file drops what it
began and raises; the caller rolls back and the previous table is untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.datastore import loading, tables
from tinhso.opendata.datastore.columns import Field, FieldType
from tinhso.opendata.datastore.reading import (
    TABULAR_FORMATS,
    FileRefused,
    open_tabular,
    refused,
)
from tinhso.opendata.models import OpendataDatastore, OpendataResource

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def fields_of(store: OpendataDatastore) -> list[Field]:
    return [
        Field(
            item["id"],
            FieldType(item["type"]),
            item["column"],
            NumberFormat(item["number_format"]) if item.get("number_format") else None,
        )
        for item in store.fields
    ]


def _field_dicts(fields: list[Field]) -> list[dict[str, str]]:
    return [
        {
            "id": item.id,
            "type": item.type.value,
            "column": item.column,
            "number_format": item.number_format.value if item.number_format else "",
        }
        for item in fields
    ]


MAX_COMPOSITES = 5


def _composites(fields: list[Field], declared: list[list[str]]) -> list[list[Field]]:
    """The declared composite indexes as fields; a name not in the table is refused."""
    by_id = {item.id: item for item in fields}
    if len(declared) > MAX_COMPOSITES:
        raise refused(
            f"tối đa {MAX_COMPOSITES} chỉ mục ghép", f"at most {MAX_COMPOSITES} composite indexes"
        )
    found: list[list[Field]] = []
    for names in declared:
        unknown = [name for name in names if name not in by_id]
        if unknown or not 1 <= len(names) <= 4:
            raise refused(
                f"chỉ mục {', '.join(names)[:200]}: cần 1 đến 4 trường có trong bảng",
                f"index {', '.join(names)[:200]}: needs 1 to 4 fields of the table",
            )
        found.append([by_id[name] for name in names])
    return found


def is_tabular(resource_format: str) -> bool:
    return resource_format.upper() in TABULAR_FORMATS


class DatastoreService:
    def find(self, session: Session, resource_id: str) -> OpendataDatastore | None:
        return session.get(OpendataDatastore, resource_id)

    def load(
        self,
        session: Session,
        resource: OpendataResource,
        content: bytes,
        *,
        overrides: Mapping[str, FieldType] | None = None,
        number_format: NumberFormat | None = None,
        indexes: list[list[str]] | None = None,
    ) -> OpendataDatastore:
        """Replace the resource's rows by the file's (in the caller's transaction).
        ``indexes``: composite indexes (field ids); None keeps the declared ones."""
        tabular = open_tabular(resource.format.upper(), content)
        found = loading.scan(tabular)
        fields = loading.settle_fields(found, overrides or {}, number_format)
        store = self.find(session, resource.id)
        declared = indexes if indexes is not None else (store.indexes if store else [])
        composites = _composites(fields, declared)
        previous = store.table_name if store is not None else None
        generation = store.generation + 1 if store is not None else 1
        if store is None:
            store = OpendataDatastore(resource_id=resource.id)
            session.add(store)
        name = tables.table_name(resource.id, generation)
        store.table_name = name
        store.generation = generation
        store.fields = _field_dicts(fields)
        store.indexes = [[item.id for item in columns] for columns in composites]
        store.number_format = number_format.value if number_format else ""
        store.loaded_at = utcnow()
        resource.datastore_active = True
        session.flush()  # opens the transaction the tables are created in
        table = tables.table_of(name, fields)
        tables.drop(session, name)  # a table a crashed load may have left
        tables.create(session, table)
        try:
            store.row_count = loading.fill(session, tabular, table, fields)
        except FileRefused:
            tables.drop(session, name)
            raise
        tables.add_indexes(session, table, fields, composites)
        if previous is not None and previous != name:
            tables.drop(session, previous)
        session.flush()
        return store

    def retype(
        self,
        session: Session,
        resource: OpendataResource,
        content: bytes,
        overrides: Mapping[str, FieldType],
        indexes: list[list[str]] | None = None,
    ) -> OpendataDatastore:
        """Load the resource's file again with some columns' types (and composite indexes)
        set by the publisher."""
        store = self.find(session, resource.id)
        declared = (
            NumberFormat(store.number_format) if store is not None and store.number_format else None
        )
        kept = {item.id: item.type for item in fields_of(store)} if store is not None else {}
        return self.load(
            session,
            resource,
            content,
            overrides={**kept, **overrides},
            number_format=declared,
            indexes=indexes,
        )

    def drop(self, session: Session, resource: OpendataResource) -> None:
        store = self.find(session, resource.id)
        resource.datastore_active = False
        if store is None:
            return
        session.delete(store)
        session.flush()
        tables.drop(session, store.table_name)

    def drop_all(self, session: Session, resource_ids: list[str]) -> None:
        """Drop the tables of these resources (their rows go with the resources)."""
        for store in session.scalars(
            select(OpendataDatastore).where(OpendataDatastore.resource_id.in_(resource_ids))
        ):
            session.delete(store)
            session.flush()
            tables.drop(session, store.table_name)

    def info(self, store: OpendataDatastore) -> dict[str, Any]:
        """``datastore_info``'s answer (CKAN 2.10's shape, with 2.9's ``schema`` too)."""
        fields = fields_of(store)
        return {
            "meta": {
                "id": store.resource_id,
                "count": store.row_count,
                "table_type": "BASE TABLE",
                "aliases": [],
                "generation": store.generation,
                "loaded_at": store.loaded_at.replace(tzinfo=None).isoformat(),
            },
            "fields": [
                {
                    "id": item.id,
                    "type": item.type.value,
                    "schema": {"native_type": item.type.value, "is_index": False},
                    "info": {"number_format": item.number_format.value}
                    if item.number_format
                    else {},
                }
                for item in fields
            ],
            "schema": {item.id: item.type.value for item in fields},
            "indexes": [",".join(names) for names in store.indexes],
        }


datastore_service = DatastoreService()
