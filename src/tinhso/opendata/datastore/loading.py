"""Loading a tabular file into a new datastore table: check, type, convert, insert.

The file is read twice. The first pass checks the header and the shape of every row and
collects what each column's cells allow; the fields are then settled (the publisher's
types, else the inferred ones). The second pass converts every cell and inserts the rows
in chunks into a new table; the first cell that does not fit stops the inserts, and the
pass goes on only to report up to ``MAX_REPORTED`` problems. A refused file raises
``FileRefused`` after dropping the table it had begun, so nothing is half-loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tinhso.core.errors import FieldError, Message
from tinhso.core.text import fold
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.datastore import tables
from tinhso.opendata.datastore.columns import (
    CellProblem,
    ColumnEvidence,
    Field,
    FieldType,
    convert,
    infer_type,
    whole_numbers_in,
)
from tinhso.opendata.datastore.reading import (
    MAX_COLUMNS,
    MAX_HEADER_LENGTH,
    MAX_REPORTED,
    ErrorCell,
    FileRefused,
    TabularFile,
    cell_error,
    refused,
)

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.orm import Session

MAX_ROWS = 2_000_000
CHUNK_ROWS = 5_000


@dataclass
class Scan:
    header: list[str]
    evidence: list[ColumnEvidence]
    rows: int = 0
    problems: list[FieldError] = field(default_factory=list)

    def problem(self, row: int, position: int, message: Message) -> None:
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(cell_error(row, position, message))


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _header(cells: list[object]) -> list[str]:
    while cells and _blank(cells[-1]):
        cells = cells[:-1]
    if not cells:
        raise refused("dòng đầu (tiêu đề) trống", "the first (header) row is empty")
    if len(cells) > MAX_COLUMNS:
        raise refused(
            f"có {len(cells)} cột, quá {MAX_COLUMNS}", f"{len(cells)} columns, over {MAX_COLUMNS}"
        )
    header: list[str] = []
    problems: list[FieldError] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells):
        name = "" if cell is None else str(cell).strip()
        message = None
        if not name:
            message = Message("cột không có tên", "the column has no name")
        elif name.startswith("_"):
            message = Message(
                f"tên cột «{name[:40]}» không được bắt đầu bằng «_» (dành cho hệ thống)",
                f"the column name «{name[:40]}» must not start with «_» (reserved)",
            )
        elif len(name) > MAX_HEADER_LENGTH:
            message = Message(
                f"tên cột dài quá {MAX_HEADER_LENGTH} ký tự",
                f"the column name is longer than {MAX_HEADER_LENGTH} characters",
            )
        elif name.casefold() in seen:
            message = Message(
                f"tên cột «{name[:40]}» bị trùng", f"the column name «{name[:40]}» is repeated"
            )
        if message is not None:
            problems.append(cell_error(1, position, message))
        seen.add(name.casefold())
        header.append(name)
    if problems:
        raise _refused(problems)
    return header


def _refused(problems: list[FieldError]) -> FileRefused:
    return FileRefused(
        f"Không nạp được tệp vào kho dữ liệu: {len(problems)} lỗi (xem từng dòng, cột)",
        f"The file cannot be loaded into the datastore: {len(problems)} problems "
        "(see each row and column)",
        errors=problems,
    )


def scan(tabular: TabularFile) -> Scan:
    """The first pass: the header, every row's shape and what each column may be."""
    found: Scan | None = None
    for number, cells in tabular.rows():
        if found is None:
            header = _header(cells)
            found = Scan(header, [ColumnEvidence() for _ in header])
            continue
        if all(_blank(cell) for cell in cells):
            continue
        found.rows += 1
        if found.rows > MAX_ROWS:
            raise refused(f"quá {MAX_ROWS:,} dòng".replace(",", "."), f"over {MAX_ROWS:,} rows")
        width = len(found.header)
        if len(cells) < width or any(not _blank(cell) for cell in cells[width:]):
            found.problem(
                number,
                min(len(cells), width),
                Message(
                    f"dòng có {len(cells)} ô, dòng tiêu đề có {width} cột",
                    f"the row has {len(cells)} cells, the header has {width} columns",
                ),
            )
            continue
        for position, cell in enumerate(cells[:width]):
            if isinstance(cell, ErrorCell):
                found.problem(number, position, Message(f"ô lỗi {cell}", f"an error cell {cell}"))
                continue
            found.evidence[position].see(number, cell)
    if found is None:
        raise refused("tệp không có dòng nào", "the file has no rows")
    if found.problems:
        raise _refused(found.problems)
    return found


def settle_fields(
    found: Scan,
    overrides: Mapping[str, FieldType],
    declared: NumberFormat | None,
) -> list[Field]:
    """Each column's field: its type and, for numbers, the format that reads it."""
    unknown = [name for name in overrides if name not in found.header]
    if unknown:
        raise refused(
            f"không có cột {', '.join(unknown)[:200]} trong tệp",
            f"no column {', '.join(unknown)[:200]} in the file",
        )
    formats = {fmt for evidence in found.evidence for fmt in evidence.formats}
    file_format = next(iter(formats)) if len(formats) == 1 else None
    fields: list[Field] = []
    problems: list[FieldError] = []
    for position, (name, evidence) in enumerate(zip(found.header, found.evidence, strict=True)):
        kind = overrides.get(name) or infer_type(evidence)
        number_format = None
        if kind in (FieldType.INT, FieldType.NUMERIC):
            number_format = declared or evidence.settled_format() or file_format
            if number_format is None and evidence.ambiguous is not None:
                row, reading = evidence.ambiguous
                problems.append(cell_error(row, position, reading.both_readings()))
            elif (
                number_format is not None
                and kind is FieldType.INT
                and name not in overrides
                and not whole_numbers_in(evidence, number_format)
            ):
                kind = FieldType.NUMERIC
        fields.append(Field(name, kind, f"c{position}", number_format))
    if problems:
        raise _refused(problems)
    return fields


def fill(session: Session, tabular: TabularFile, table: Table, fields: list[Field]) -> int:
    """The second pass: convert and insert every row; the number of rows, or FileRefused."""
    problems: list[FieldError] = []
    chunk: list[dict[str, Any]] = []
    count = 0
    rows = tabular.rows()
    next(rows)  # the header
    for number, cells in rows:
        if all(_blank(cell) for cell in cells):
            continue
        count += 1
        record: dict[str, Any] = {"_id": count}
        words: list[str] = []
        for position, item in enumerate(fields):
            cell = cells[position] if position < len(cells) else None
            try:
                value = convert(cell, item.type, item.number_format)
            except CellProblem as problem:
                if len(problems) < MAX_REPORTED:
                    problems.append(cell_error(number, position, _in_column(item, problem)))
                continue
            record[item.column] = value
            if value is not None:
                words.append(str(value))
        if problems:
            if len(problems) >= MAX_REPORTED:
                break
            continue
        record["_search"] = fold(" ".join(words))[:4000]
        chunk.append(record)
        if len(chunk) >= CHUNK_ROWS:
            tables.insert_rows(session, table, chunk)
            chunk = []
    if problems:
        raise _refused(problems)
    tables.insert_rows(session, table, chunk)
    return count


def _in_column(item: Field, problem: CellProblem) -> Message:
    return Message(
        f"cột «{item.id[:60]}» ({item.type.value}): {problem.message.vi}",
        f"column «{item.id[:60]}» ({item.type.value}): {problem.message.en}",
    )
