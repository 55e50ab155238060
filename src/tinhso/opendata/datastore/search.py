"""``datastore_search``: the rows of one datastore table, filtered, searched, sorted, paged.

Parameters as CKAN takes them: ``filters`` (a JSON object, field → value or list of
values, each read as the field's type), ``q`` (a text every row must contain, word by word,
without regard to case or diacritics; or an object field → text), ``limit`` (default 100,
at most ``LIMIT_MAX``), ``offset``, ``sort`` (``"field desc, other"``, a field name with a
comma or a space in double quotes), ``fields`` (a list or comma-separated names),
``include_total`` (default true) and ``records_format`` (``objects``, ``lists``, ``csv``,
``tsv``). Rows are always ordered last by ``_id``, so pages never overlap. A field that is
not in the table, or a value that is not of its type, is a validation error naming it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import and_, func, select

from tinhso.core.errors import FieldError, InvalidInput, Message
from tinhso.core.generations import GenerationCache
from tinhso.core.text import fold
from tinhso.opendata.datastore import tables
from tinhso.opendata.datastore.columns import CellProblem, Field, FieldType, convert
from tinhso.opendata.datastore.service import fields_of

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.orm import Session

    from tinhso.opendata.models import OpendataDatastore

LIMIT_DEFAULT = 100
LIMIT_MAX = 32_000  # CKAN's ckan.datastore.search.rows_max
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")
ID_FIELD = Field("_id", FieldType.INT, "_id")
_SORT_PART = re.compile(
    r'^\s*(?:"((?:[^"]|"")+)"|([^",]+?))\s*(?:\s(asc|desc))?\s*$', re.IGNORECASE
)


def _invalid(name: str, vi: str, en: str) -> InvalidInput:
    return InvalidInput(
        f"Tham số {name} không hợp lệ: {vi}",
        f"Invalid {name}: {en}",
        errors=[FieldError(name, Message(vi, en))],
    )


@dataclass(frozen=True)
class DatastoreQuery:
    filters: dict[str, Any]
    q: str | dict[str, str]
    limit: int
    offset: int
    sort: str
    fields: list[str] | None
    include_total: bool
    records_format: str


def _split_sort(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


class _Columns:
    def __init__(self, fields: list[Field]) -> None:
        self.fields = [ID_FIELD, *fields]
        self.by_id = {item.id: item for item in self.fields}

    def get(self, parameter: str, name: object) -> Field:
        if isinstance(name, str) and name in self.by_id:
            return self.by_id[name]
        shown = str(name)[:60]
        raise _invalid(
            parameter, f"không có trường «{shown}» trong bảng", f'field "{shown}" not in table'
        )


def _filter_value(item: Field, value: object) -> Any:
    if isinstance(value, bool | dict | list):
        raise _invalid(
            "filters", f"giá trị của «{item.id}» không hợp lệ", f"bad value for {item.id}"
        )
    if isinstance(value, int | float) and item.type is FieldType.TEXT:
        value = str(value)
    try:
        return convert(value, item.type, None)
    except CellProblem as problem:
        raise _invalid(
            "filters", f"«{item.id}»: {problem.message.vi}", f"{item.id}: {problem.message.en}"
        ) from None


def _conditions(
    table: Table, columns: _Columns, query: DatastoreQuery
) -> tuple[list[ColumnElement[bool]], Hashable]:
    """The WHERE clause's conditions, and what they test as a key (column, values or words)."""
    found: list[ColumnElement[bool]] = []
    tested: list[tuple[str, str, tuple[Any, ...]]] = []
    for name, wanted in query.filters.items():
        item = columns.get("filters", name)
        column = table.c[item.column]
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            raise _invalid(
                "filters", f"danh sách rỗng cho «{item.id}»", f"empty list for {item.id}"
            )
        converted = [_filter_value(item, value) for value in values[:1000]]
        found.append(column.in_(converted) if len(converted) > 1 else column == converted[0])
        tested.append(("=", item.column, tuple(converted)))
    if isinstance(query.q, dict):
        for name, text in query.q.items():
            item = columns.get("q", name)
            if not isinstance(text, str):
                raise _invalid("q", f"«{item.id}» cần một chuỗi", f"{item.id} needs a string")
            words = tuple(fold(text).split())
            found.extend(
                func.lower(table.c[item.column]).contains(word, autoescape=True) for word in words
            )
            tested.append(("q", item.column, words))
    elif query.q:
        words = tuple(fold(query.q).split())
        found.extend(table.c["_search"].contains(word, autoescape=True) for word in words)
        tested.append(("q", "_search", words))
    return found, tuple(tested)


def _order(table: Table, columns: _Columns, sort: str) -> list[Any]:
    """The sort's columns, then ``_id`` in the last one's direction (a composite index on the
    filter and sort columns, which ends with ``_id``, is then read in one direction)."""
    order: list[Any] = []
    descending = False
    for part in _split_sort(sort):
        matched = _SORT_PART.match(part)
        if matched is None:
            raise _invalid(
                "sort", f"không hiểu «{part.strip()[:60]}»", f"cannot read {part.strip()[:60]}"
            )
        name = (matched[1] or "").replace('""', '"') or (matched[2] or "").strip()
        column = table.c[columns.get("sort", name).column]
        descending = (matched[3] or "asc").lower() == "desc"
        order.append(column.desc() if descending else column.asc())
    order.append(table.c["_id"].desc() if descending else table.c["_id"].asc())
    return order


def _rows(result: Iterable[Sequence[Any]], shown: list[Field]) -> list[list[Any]]:
    """The rows as JSON values: dates and timestamps in ISO 8601, the rest as read."""
    dated = [
        position
        for position, item in enumerate(shown)
        if item.type in (FieldType.DATE, FieldType.TIMESTAMP)
    ]
    rows = [list(row) for row in result]
    if dated:
        for row in rows:
            for position in dated:
                value = row[position]
                if isinstance(value, date | datetime):
                    row[position] = value.isoformat()
    return rows


# The total of a table's filtered rows, by the table's load and the conditions: a table's
# rows never change once loaded (a new upload fills a new table, with a new ``loaded_at``),
# so a total is exact for as long as its key can be asked, and is counted once.
TOTALS: GenerationCache[int] = GenerationCache((), max_weight=20_000)


def _delimited(rows: list[list[Any]], delimiter: str) -> str:
    output = io.StringIO()
    writer = csv.writer(output, delimiter=delimiter, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return output.getvalue()


def search_rows(
    session: Session, store: OpendataDatastore, query: DatastoreQuery, action_path: str
) -> dict[str, Any]:
    fields = fields_of(store)
    columns = _Columns(fields)
    shown = (
        [columns.get("fields", name) for name in query.fields] if query.fields else columns.fields
    )
    table = tables.readable(store.table_name, fields)
    conditions, tested = _conditions(table, columns, query)
    where = and_(*conditions) if conditions else None
    order = _order(table, columns, query.sort)
    # The page's _ids first (read from the filter and sort columns' index alone when one
    # covers them, the rows an offset skips never read), then those rows: PostgreSQL would
    # otherwise fetch and sort every filtered row for a deep offset.
    page = select(table.c["_id"])
    if where is not None:
        page = page.where(where)
    chosen = page.order_by(*order).limit(query.limit).offset(query.offset).subquery()
    statement = (
        select(*(table.c[item.column] for item in shown))
        .join(chosen, chosen.c["_id"] == table.c["_id"])
        .order_by(*order)
    )
    rows = _rows(session.execute(statement), shown)
    result: dict[str, Any] = {
        "include_total": query.include_total,
        "resource_id": store.resource_id,
        "fields": [{"id": item.id, "type": item.type.value} for item in shown],
        "records_format": query.records_format,
        "limit": query.limit,
        "offset": query.offset,
    }
    if query.records_format == "objects":
        names = [item.id for item in shown]
        result["records"] = [dict(zip(names, row, strict=True)) for row in rows]
    elif query.records_format == "lists":
        result["records"] = rows
    else:
        result["records"] = _delimited(rows, "," if query.records_format == "csv" else "\t")
    if query.include_total:
        if where is None:
            result["total"] = store.row_count
        else:
            counting = select(func.count()).select_from(table).where(where)
            key = (store.table_name, store.generation, store.loaded_at, tested)
            result["total"] = TOTALS.get(session, key, lambda: session.scalar(counting) or 0)
        result["total_was_estimated"] = False
    for name in ("filters", "q", "sort"):
        value = getattr(query, name)
        if value:
            result[name] = value
    result["_links"] = _links(store.resource_id, query, action_path)
    return result


def _links(resource_id: str, query: DatastoreQuery, action_path: str) -> dict[str, str]:
    params: dict[str, Any] = {"resource_id": resource_id}
    if query.filters:
        params["filters"] = json.dumps(query.filters, ensure_ascii=False)
    if query.q:
        params["q"] = (
            query.q if isinstance(query.q, str) else json.dumps(query.q, ensure_ascii=False)
        )
    if query.sort:
        params["sort"] = query.sort
    if query.limit != LIMIT_DEFAULT:
        params["limit"] = query.limit
    start = f"{action_path}?{urlencode(params)}"
    return {
        "start": start,
        "next": f"{action_path}?{urlencode({**params, 'offset': query.offset + query.limit})}",
    }
