"""Import and export of values: CSV and XLSX files with Vietnamese (or English) headers.

Import
------
A file holds one value per row under these headers (Vietnamese or English, any case,
with or without diacritics; other columns, such as names, are ignored):

======================================  ===========================  ==========
Vietnamese                              English                      required
======================================  ===========================  ==========
Mã chỉ tiêu dữ liệu                     Data element code            yes
Mã đơn vị hành chính                    Administrative unit code     yes
Bộ đơn vị (hiện hành/cũ)                Unit set (current/legacy)    no: period's
Kỳ báo cáo                              Period                       yes
Giá trị                                 Value                        yes
Ghi chú                                 Comment                      no
======================================  ===========================  ==========

Numbers are read as `tinhso.monitoring.values.number_format` says: a number that can mean only
one thing is taken as written (``47,85``, ``0.125``, ``1.380,5``); one that can be read
two ways (``1.380``, ``1,380``) follows the file's declared format: the value column's
header declares it (``Giá trị``: Vietnamese, ``1.380`` is one thousand three hundred and
eighty; ``Value``: English, ``1.380`` is 1.38), unless the import names one. XLSX cells
are read by their type: a percentage cell as the percentage it shows (0.855 shown as
85,5 % is 85.5, as the text ``85,5%`` is); booleans, dates and error cells in the value
column are refused with the cell's address. An empty unit set means the set of the
period (ending before 01/07/2025: legacy; later: current); a code missing from it is
refused naming the set used. Periods may be written ``2025``, ``2025-Q3``, ``2025-07``, or the
Vietnamese way (``Năm 2025``, ``Quý 3/2025``, ``Quý III/2025``, ``07/2025``, ``Tháng 7/2025``);
an Excel date cell means its month. Unit codes whose leading zeros Excel dropped
(``4`` for ``00004``) are restored when exactly one unit of the set matches.

The file is checked whole before anything is written: every row is parsed, then the
values go through the monitoring value service (element type and bounds, period type,
unit, validation rules, duplicates), and any failure rejects the file with a list of
``{row, column, value, message{vi, en}}`` (row numbers as the spreadsheet shows them,
the header being row 1). Values are written with source ``file``, the file name as the
source reference and the importing official; a value that differs from the stored one
is a correction kept in the value's history.
Validation rules between values are reported once every row is otherwise valid. Limits:
10 MB and 50,000 rows per file; old ``.xls`` and other types are refused (415); a CSV
must be UTF-8 (``,``, ``;`` or tab separated).

Modules
-------
This module reads files and cells; `transfer.file_import` checks and writes the values,
`transfer.export` writes tables (CSV: UTF-8 with a byte-order mark so Excel shows
Vietnamese correctly, numbers in the headers' format so they import back the same; XLSX;
text a spreadsheet would run as a formula is neutralised) and the template, `transfer.tables` builds the
exported tables from the domain's services, `transfer.dhis2` maps DHIS2
``dataValueSets`` JSON, and `transfer.api` holds the routes. An export of values starts
with the import columns, so an exported file can be edited and imported again.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from tinhso.core.errors import DomainError, FieldError, InvalidInput, Message
from tinhso.core.i18n import Locale
from tinhso.core.text import fold
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.values.number_format import (
    NumberFormat,
    Reading,
    percent_of_fraction,
    read_number,
)
from tinhso.registry.models import UnitSet
from tinhso.registry.unit_catalogue import CURRENT_VALID_FROM

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000
FileFormat = Literal["csv", "xlsx"]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATA_SHEET = "Số liệu"


# --- errors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CellError(FieldError):
    """A problem with one cell (or row) of an imported file."""

    row: int
    column: str
    value: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message.as_dict(),
        }


class ImportRejected(InvalidInput):
    code = "import_rejected"


class UnsupportedFileType(DomainError):
    status = 415
    code = "unsupported_media_type"


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"


def rejected(errors: list[CellError]) -> ImportRejected:
    shown = errors[:MAX_REPORTED_ERRORS]
    more_vi = f" (chỉ liệt kê {len(shown)} lỗi đầu)" if len(errors) > len(shown) else ""
    more_en = f" (only the first {len(shown)} are listed)" if len(errors) > len(shown) else ""
    return ImportRejected(
        f"Tệp có {len(errors)} lỗi, không có số liệu nào được ghi{more_vi}",
        f"The file has {len(errors)} errors; nothing was written{more_en}",
        errors=list(shown),
    )


# --- columns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    vi: str
    en: str
    kind: Literal["text", "number"] = "text"

    def title(self, lang: Locale) -> str:
        return self.vi if lang == "vi" else self.en


IMPORT_COLUMNS = (
    Column("element_code", "Mã chỉ tiêu dữ liệu", "Data element code"),
    Column("unit_code", "Mã đơn vị hành chính", "Administrative unit code"),
    Column("unit_set", "Bộ đơn vị (hiện hành/cũ)", "Unit set (current/legacy)"),
    Column("period", "Kỳ báo cáo", "Period"),
    Column("value", "Giá trị", "Value", "number"),
    Column("comment", "Ghi chú", "Comment"),
)
REQUIRED = ("element_code", "unit_code", "period", "value")
_ALIASES = {
    "element_code": ("ma chi tieu", "chi tieu du lieu", "element code", "element", "data element"),
    "unit_code": (
        "ma don vi",
        "don vi hanh chinh",
        "unit code",
        "unit",
        "administrative unit",
        "org unit",
        "orgunit",
    ),
    "unit_set": ("bo don vi", "bo don vi hien hanh cu", "unit set", "unit set current legacy"),
    "period": ("ky", "period"),
    "value": ("value",),
    "comment": ("ghi chu", "comment", "note", "notes"),
}


def normalise_header(text: str) -> str:
    """Lower case, no diacritics (đ -> d), words separated by single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


_HEADER_KEYS: dict[str, str] = {}
for _column in IMPORT_COLUMNS:
    for _name in (_column.vi, _column.en, _column.key, *_ALIASES[_column.key]):
        _HEADER_KEYS[normalise_header(_name)] = _column.key


# --- cell parsing ----------------------------------------------------------------------

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


@dataclass(frozen=True)
class ErrorCell:
    """A spreadsheet error value (``#DIV/0!``, ``#N/A``): never a number."""

    text: str

    def __str__(self) -> str:
        return self.text


def declared_number_format(value_title: str | None) -> NumberFormat | None:
    """The number format a file declares by its value column's header: «Giá trị» (the
    Vietnamese template) is Vietnamese, «Value» (the English one) English."""
    key = normalise_header(value_title or "")
    if key == normalise_header("Giá trị"):
        return NumberFormat.VI
    if key == "value":
        return NumberFormat.EN
    return None


def parse_number(raw: object, declared: NumberFormat | None = None) -> Reading | None:
    """What a value cell means as a number: a typed number as it is, a text as `read_number`
    reads it (``declared`` settles ``1.380``), anything else (booleans, dates, error
    cells) None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        number = float(raw)
        return Reading(str(raw), number) if math.isfinite(number) else None
    if not isinstance(raw, str):
        return None
    return read_number(raw, declared)


def parse_period_cell(raw: object) -> str | None:
    """The period code (``2025``, ``2025-Q3``, ``2025-07``) a cell means, or None."""
    if isinstance(raw, datetime | date):
        return f"{raw.year:04d}-{raw.month:02d}"
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, float) and raw.is_integer():
        raw = str(int(raw))
    if not isinstance(raw, str):
        return None
    text = normalise_header(raw)  # "Quý III/2025" -> "quy iii 2025"
    for prefix in ("nam ", "year "):
        text = text.removeprefix(prefix)
    patterns: list[tuple[str, Callable[[re.Match[str]], str]]] = [
        (r"^(\d{4})$", lambda m: m[1]),
        (r"^(\d{4}) ?q([1-4])$", lambda m: f"{m[1]}-Q{m[2]}"),
        (
            r"^(?:quy|q|quarter) ?([1-4]|iv|iii|ii|i) (\d{4})$",
            lambda m: f"{m[2]}-Q{_quarter(m[1])}",
        ),
        (r"^(\d{4}) (?:quy|q) ?([1-4])$", lambda m: f"{m[1]}-Q{m[2]}"),
        (r"^(\d{4}) ?(0[1-9]|1[0-2])$", lambda m: f"{m[1]}-{m[2]}"),
        (r"^(?:thang |t|month )?(0?[1-9]|1[0-2]) (\d{4})$", lambda m: f"{m[2]}-{int(m[1]):02d}"),
    ]
    for pattern, build in patterns:
        match = re.match(pattern, text)
        if match:
            return build(match)
    return None


def _quarter(text: str) -> int:
    return _ROMAN.get(text) or int(text)


def unit_set_given(raw: object) -> bool:
    """Whether a unit-set cell names a set (an empty one leaves it to the period)."""
    return raw is not None and normalise_header(str(raw)) != ""


def unit_set_of_period(period: str) -> UnitSet:
    """The unit set in force when a period ends: legacy before 01/07/2025, current after."""
    try:
        ends = parse_period(period).end
    except InvalidInput:
        return UnitSet.CURRENT  # the period itself is refused when the value is checked
    return UnitSet.LEGACY if ends < CURRENT_VALID_FROM else UnitSet.CURRENT


def parse_unit_set(raw: object) -> UnitSet | None:
    """The set a cell names; an empty cell means current (callers with a period use
    `unit_set_of_period` instead)."""
    text = normalise_header(str(raw)) if raw is not None else ""
    if text in {"", "hien hanh", "current", "moi", "new"}:
        return UnitSet.CURRENT
    if text in {"cu", "legacy", "old", "truoc sap xep"}:
        return UnitSet.LEGACY
    return None


def cell_text(raw: object) -> str | None:
    """How a cell is quoted back in an error message."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, datetime | date):
        return raw.strftime("%d/%m/%Y")
    return str(raw)


def unit_code_text(raw: object) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip() if raw is not None else ""


# --- reading files ---------------------------------------------------------------------


@dataclass
class Sheet:
    """The rows of an uploaded file: the header row and (spreadsheet row number, cells)."""

    header: list[str]
    rows: list[tuple[int, list[object]]]
    fmt: FileFormat = "csv"


def detect_format(file_name: str, content: bytes) -> FileFormat:
    name = file_name.lower()
    if len(content) > MAX_FILE_BYTES:
        raise FileTooLarge(
            f"Tệp lớn hơn giới hạn {MAX_FILE_BYTES // (1024 * 1024)} MB",
            f"The file is larger than the {MAX_FILE_BYTES // (1024 * 1024)} MB limit",
            field="file",
        )
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise UnsupportedFileType(
        "Chỉ nhận tệp CSV (UTF-8) hoặc Excel .xlsx; tệp .xls cũ cần lưu lại dạng .xlsx",
        "Only CSV (UTF-8) or Excel .xlsx files are accepted; save old .xls files as .xlsx",
        field="file",
    )


def read_sheet(file_name: str, content: bytes) -> Sheet:
    fmt = detect_format(file_name, content)
    sheet = _read_xlsx(content) if fmt == "xlsx" else _read_csv(content)
    if len(sheet.rows) > MAX_ROWS:
        raise FileTooLarge(
            f"Tệp có {len(sheet.rows):,} dòng, vượt giới hạn {MAX_ROWS:,} dòng mỗi lần nhập",
            f"The file has {len(sheet.rows):,} rows, over the limit of {MAX_ROWS:,} per import",
            field="file",
        )
    return sheet


def _unreadable(vi: str, en: str) -> InvalidInput:
    return InvalidInput(f"Không đọc được tệp: {vi}", f"The file cannot be read: {en}", field="file")


def _read_csv(content: bytes) -> Sheet:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _unreadable(
            "tệp CSV phải mã hoá UTF-8 (trong Excel: Lưu thành > CSV UTF-8)",
            "a CSV file must be UTF-8 encoded (in Excel: Save as > CSV UTF-8)",
        ) from error
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        lines = list(reader)
    except csv.Error as error:
        raise _unreadable("CSV sai định dạng", f"malformed CSV ({error})") from error
    if not lines:
        raise _unreadable("tệp trống", "the file is empty")
    rows = [
        (number, list[object](cells))
        for number, cells in enumerate(lines[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    return Sheet(header=[h.strip() for h in lines[0]], rows=rows)


def _read_xlsx(content: bytes) -> Sheet:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise _unreadable("không phải tệp Excel .xlsx hợp lệ", "not a valid .xlsx file") from error
    if unpacked > MAX_XLSX_UNCOMPRESSED:
        raise FileTooLarge(
            "Tệp Excel giải nén quá lớn", "The Excel file is too large once unpacked", field="file"
        )
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a broken file
        raise _unreadable("không phải tệp Excel .xlsx hợp lệ", "not a valid .xlsx file") from error
    try:
        worksheet = workbook[DATA_SHEET] if DATA_SHEET in workbook.sheetnames else workbook.active
        if worksheet is None:
            raise _unreadable("không có trang tính", "no worksheet")
        header: list[str] = []
        rows: list[tuple[int, list[object]]] = []
        for number, cells in enumerate(worksheet.iter_rows(), start=1):
            values = [_xlsx_value(cell) for cell in cells]
            if number == 1:
                header = [str(c).strip() if c is not None else "" for c in values]
                continue
            if any(c is not None and str(c).strip() for c in values):
                rows.append((number, values))
            if len(rows) > MAX_ROWS:
                break
    finally:
        workbook.close()
    if not header:
        raise _unreadable("tệp trống", "the file is empty")
    return Sheet(header=header, rows=rows, fmt="xlsx")


def _xlsx_value(cell: Any) -> object:
    """A cell as its type says: an error as `ErrorCell`, a percentage cell as the number it
    shows (0.855 formatted ``0.0%`` is 85.5, as the text «85,5%» is), others as they are."""
    value = getattr(cell, "value", None)
    kind = getattr(cell, "data_type", None)
    if kind == "e":
        return ErrorCell(str(value))
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and "%" in str(getattr(cell, "number_format", "") or "")
        and math.isfinite(value)
    ):
        return percent_of_fraction(float(value))
    return value


def cell_address(row: int, position: int) -> str:
    """The spreadsheet address of a cell: row 5, position 4 (0-based) -> ``E5``."""
    return f"{get_column_letter(position + 1)}{row}"


class ImportErrors:
    """Errors collected while reading a file, with the headers as the file wrote them.

    Rows of a file are named ``rows.<row>.<column key>`` (row as the spreadsheet numbers it);
    items of a JSON list ``<prefix>.<index>.<key>``.
    """

    def __init__(
        self,
        titles: dict[str, str],
        prefix: str = "rows",
        row_words: tuple[str, str] = ("Dòng", "Row"),
        field_names: dict[str, str] | None = None,
    ) -> None:
        self.titles = titles
        self.field_names = field_names or {}
        self.prefix = prefix
        self.row_words = row_words
        self.items: list[CellError] = []

    def field(self, row: int, key: str) -> str:
        return f"{self.prefix}.{row}.{self.field_names.get(key, key)}"

    def column(self, key: str) -> str:
        return self.titles.get(key, key)

    def message(self, row: int, key: str, vi: str, en: str) -> Message:
        column = self.column(key)
        vi_word, en_word = self.row_words
        return Message(
            f"{vi_word} {row}, cột «{column}»: {vi}", f"{en_word} {row}, column «{column}»: {en}"
        )

    def add(self, row: int, key: str, raw: object, vi: str, en: str) -> None:
        self.items.append(
            CellError(
                field=self.field(row, key),
                message=self.message(row, key, vi, en),
                row=row,
                column=self.column(key),
                value=cell_text(raw),
            )
        )


def map_header(header: Sequence[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Column positions and titles by key; raise if a required column is missing or doubled."""
    positions: dict[str, int] = {}
    titles: dict[str, str] = {}
    problems: list[FieldError] = []
    for position, title in enumerate(header):
        key = _HEADER_KEYS.get(normalise_header(title))
        if key is None:
            continue
        if key in positions:
            problems.append(
                FieldError(
                    "header",
                    Message(f"Cột «{title}» bị lặp", f"Column «{title}» appears twice"),
                )
            )
            continue
        positions[key] = position
        titles[key] = title
    columns = {c.key: c for c in IMPORT_COLUMNS}
    for key in REQUIRED:
        if key not in positions:
            column = columns[key]
            problems.append(
                FieldError(
                    "header",
                    Message(
                        f"Thiếu cột «{column.vi}» (hoặc «{column.en}»)",
                        f"Missing column «{column.en}» (or «{column.vi}»)",
                    ),
                )
            )
    if problems:
        raise InvalidInput(
            "Dòng tiêu đề của tệp không đúng mẫu: " + "; ".join(p.message.vi for p in problems),
            "The file's header row does not match the template: "
            + "; ".join(p.message.en for p in problems),
            errors=problems,
        )
    return positions, titles


def clean_file_name(file_name: str | None) -> str:
    """The base name of an uploaded file, as kept in provenance (no directories, <= 200)."""
    base = re.split(r"[\\/]", file_name or "")[-1].strip()
    base = "".join(c for c in base if c.isprintable())
    return base[:200] or "upload"
