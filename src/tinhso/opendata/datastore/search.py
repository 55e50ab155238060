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
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import and_, func, select

from tinhso.core.errors import FieldError, InvalidInput, Message
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
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
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
    if isinstance(query.q, dict):
        for name, text in query.q.items():
            item = columns.get("q", name)
            if not isinstance(text, str):
                raise _invalid("q", f"«{item.id}» cần một chuỗi", f"{item.id} needs a string")
            found.extend(
                func.lower(table.c[item.column]).contains(word, autoescape=True)
                for word in fold(text).split()
            )
    elif query.q:
        found.extend(
            table.c["_search"].contains(word, autoescape=True) for word in fold(query.q).split()
        )
    return found


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


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


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
    table = tables.table_of(store.table_name, fields)
    conditions = _conditions(table, columns, query)
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
    rows = [[_json_value(value) for value in row] for row in session.execute(statement)]
    result: dict[str, Any] = {
        "include_total": query.include_total,
        "resource_id": store.resource_id,
        "fields": [{"id": item.id, "type": item.type.value} for item in shown],
        "records_format": query.records_format,
        "limit": query.limit,
        "offset": query.offset,
    }
    if query.records_format == "objects":
        result["records"] = [
            dict(zip((item.id for item in shown), row, strict=True)) for row in rows
        ]
    elif query.records_format == "lists":
        result["records"] = rows
    else:
        result["records"] = _delimited(rows, "," if query.records_format == "csv" else "\t")
    if query.include_total:
        if where is None:
            result["total"] = store.row_count
        else:
            result["total"] = session.scalar(select(func.count()).select_from(table).where(where))
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
