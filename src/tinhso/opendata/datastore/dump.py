"""A datastore table as a file, at CKAN's path ``/datastore/dump/{resource_id}``: CSV (UTF-8
with a byte-order mark so Excel shows Vietnamese; ``bom=false`` without), JSON
(``{"fields", "records"}`` as CKAN dumps it) or XLSX (at most ``XLSX_MAX_ROWS`` rows).

Rows are read in ``_id`` order, a chunk at a time, into a temporary file, never all in
memory. In CSV and XLSX a text cell a spreadsheet would run as a formula is written with a
leading apostrophe (``core.text.neutralise_formula``); JSON keeps every value as stored.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any

from openpyxl import Workbook
from sqlalchemy import select

from tinhso.core.errors import InvalidInput
from tinhso.core.text import for_xlsx, neutralise_formula
from tinhso.opendata.datastore import tables
from tinhso.opendata.datastore.service import fields_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

    from tinhso.opendata.models import OpendataDatastore

DUMP_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX_MAX_ROWS = 200_000
_CHUNK = 5_000


def _vi(number: int) -> str:
    """A count written the Vietnamese way: 200.000."""
    return f"{number:,}".replace(",", ".")


def _rows(session: Session, store: OpendataDatastore) -> Iterator[list[Any]]:
    fields = fields_of(store)
    table = tables.readable(store.table_name, fields)
    columns = [table.c[item.column] for item in fields]
    last = 0
    while True:
        chunk = session.execute(
            select(table.c["_id"], *columns)
            .where(table.c["_id"] > last)
            .order_by(table.c["_id"])
            .limit(_CHUNK)
        ).all()
        if not chunk:
            return
        for row in chunk:
            yield list(row[1:])
        last = chunk[-1][0]


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise_formula(value)
    return value


def dump(
    session: Session, store: OpendataDatastore, file_format: str, *, bom: bool = True
) -> IO[bytes]:
    """The table as a file of ``file_format`` (a key of DUMP_FORMATS), rewound."""
    if file_format not in DUMP_FORMATS:
        raise InvalidInput(
            f"Định dạng {file_format[:20]} không có (chỉ csv, json, xlsx)",
            f"No format {file_format[:20]} (only csv, json, xlsx)",
            field="format",
        )
    if file_format == "xlsx" and store.row_count > XLSX_MAX_ROWS:
        raise InvalidInput(
            f"Bảng có {_vi(store.row_count)} dòng, quá {_vi(XLSX_MAX_ROWS)} dòng của một tệp XLSX: "
            "hãy tải CSV",
            f"The table has {store.row_count:,} rows, over the {XLSX_MAX_ROWS:,} of an XLSX "
            "file: download CSV",
            field="format",
        )
    names = [item.id for item in fields_of(store)]
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned
    if file_format == "csv":
        text = io.TextIOWrapper(output, encoding="utf-8-sig" if bom else "utf-8", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([neutralise_formula(name) for name in names])
        for row in _rows(session, store):
            writer.writerow(["" if value is None else _text(value) for value in row])
        text.flush()
        text.detach()
    elif file_format == "json":
        fields = [{"id": item.id, "type": item.type.value} for item in fields_of(store)]
        output.write(b'{"fields": ' + json.dumps(fields, ensure_ascii=False).encode())
        output.write(b', "records": [')
        for number, row in enumerate(_rows(session, store)):
            values = [v.isoformat() if isinstance(v, datetime | date) else v for v in row]
            output.write(
                (b", " if number else b"") + json.dumps(values, ensure_ascii=False).encode()
            )
        output.write(b"]}")
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Dữ liệu")
        sheet.append([for_xlsx(neutralise_formula(name)) for name in names])
        for row in _rows(session, store):
            sheet.append(
                [
                    for_xlsx(_text(value)) if isinstance(value, str) else _text(value)
                    for value in row
                ]
            )
        book.save(output)
    output.seek(0)
    return output
