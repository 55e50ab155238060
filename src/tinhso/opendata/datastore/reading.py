"""An uploaded tabular file as a header and rows, or the reasons it cannot be read.

CSV: UTF-8 (with or without a byte-order mark) or UTF-16 with its byte-order mark (Excel's
"Unicode text"); any other encoding is refused naming the line of the first byte that is
not UTF-8 (TCVN3 and VNI files must be converted). The separator is the first line's most
frequent of ``,`` ``;`` and tab. Every row must have as many cells as the header (empty
cells after the last column are ignored). XLSX: the first sheet; a formula is refused with
its cell's address (its cached result may be stale or absent), as are error cells; the
archive's unpacked size is limited. Rows are read twice (once to check and type, once to
load), so nothing is kept in memory but the file itself.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from tinhso.core.errors import FieldError, InvalidInput, Message

TABULAR_FORMATS = ("CSV", "XLSX", "TSV")
MAX_XLSX_UNPACKED = 400 * 1024 * 1024
MAX_COLUMNS = 500
MAX_HEADER_LENGTH = 200

Row = tuple[int, list[object]]  # the row number a spreadsheet shows (header: 1) and its cells


class FileRefused(InvalidInput):
    """The file cannot become a datastore table; ``errors`` name rows and columns."""

    status = 409
    code = "datastore_refused"


def refused(vi: str, en: str) -> FileRefused:
    return FileRefused(
        f"Không nạp được tệp vào kho dữ liệu: {vi}",
        f"The file cannot be loaded into the datastore: {en}",
        field="upload",
    )


@dataclass(frozen=True)
class TabularFile:
    """A file whose rows can be read (again) one at a time."""

    kind: str  # CSV or XLSX
    content: bytes
    text: str = ""  # the decoded text of a CSV
    delimiter: str = ","

    def rows(self) -> Iterator[Row]:
        if self.kind == "XLSX":
            yield from _xlsx_rows(self.content)
            return
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, list[object](cells)
        except csv.Error as error:
            raise refused(
                f"CSV sai định dạng ở dòng {reader.line_num}",
                f"malformed CSV at line {reader.line_num} ({error})",
            ) from error


def open_tabular(kind: str, content: bytes) -> TabularFile:
    """The file, checked enough to read its rows: encoding, archive size, formulas."""
    if not content:
        raise refused("tệp rỗng (0 byte)", "the file is empty (0 bytes)")
    if kind == "XLSX":
        _check_xlsx(content)
        return TabularFile("XLSX", content)
    text = _decode(content)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if kind == "TSV" else max((",", ";", "\t"), key=first_line.count)
    return TabularFile("CSV", content, text, delimiter)


def _decode(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as error:
            raise refused("tệp UTF-16 hỏng", "a broken UTF-16 file") from error
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise refused(
            f"tệp không mã hoá UTF-8 (byte không hợp lệ ở dòng {line}); hãy lưu lại dạng "
            "«CSV UTF-8» (tệp TCVN3/VNI cần chuyển sang Unicode trước)",
            f"the file is not UTF-8 (an invalid byte on line {line}); save it as "
            "«CSV UTF-8» (TCVN3/VNI files must be converted to Unicode first)",
        ) from error


def _check_xlsx(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise refused("không phải tệp Excel .xlsx hợp lệ", "not a valid .xlsx file") from error
    if unpacked > MAX_XLSX_UNPACKED:
        raise refused("tệp Excel giải nén quá lớn", "the Excel file is too large once unpacked")
    problems: list[FieldError] = []
    for number, cells in _xlsx_rows(content, formulas=True):
        for position, cell in enumerate(cells):
            if isinstance(cell, Formula):
                problems.append(
                    cell_error(
                        number,
                        position,
                        Message(
                            f"ô có công thức {cell[:40]}: hãy dán giá trị (Paste Values) trước khi tải lên",
                            f"the cell holds the formula {cell[:40]}: paste values before uploading",
                        ),
                    )
                )
        if len(problems) >= MAX_REPORTED:
            break
    if problems:
        raise _refused_cells(problems)


MAX_REPORTED = 100


def cell_error(row: int, position: int, message: Message) -> FieldError:
    address = f"{get_column_letter(position + 1)}{row}"
    return FieldError(
        "upload",
        Message(
            f"Ô {address} (dòng {row}): {message.vi}", f"Cell {address} (row {row}): {message.en}"
        ),
    )


def _refused_cells(problems: list[FieldError]) -> FileRefused:
    return FileRefused(
        f"Không nạp được tệp vào kho dữ liệu: {len(problems)} lỗi (xem từng dòng)",
        f"The file cannot be loaded into the datastore: {len(problems)} errors (see each row)",
        errors=problems[:MAX_REPORTED],
    )


class ErrorCell(str):
    """An XLSX error cell (#DIV/0!, #N/A…)."""

    __slots__ = ()


class Formula(str):
    """An XLSX formula cell's text (read only to refuse it)."""

    __slots__ = ()


def _xlsx_rows(content: bytes, *, formulas: bool = False) -> Iterator[Row]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=not formulas)
    except Exception as error:
        raise refused("không phải tệp Excel .xlsx hợp lệ", "not a valid .xlsx file") from error
    try:
        worksheet = workbook.worksheets[0] if workbook.worksheets else None
        if worksheet is None:
            raise refused("không có trang tính", "no worksheet")
        for number, cells in enumerate(worksheet.iter_rows(), start=1):
            yield number, [_xlsx_value(cell) for cell in cells]
    finally:
        workbook.close()


def _xlsx_value(cell: Any) -> object:
    value = getattr(cell, "value", None)
    kind = getattr(cell, "data_type", None)
    if kind == "e":
        return ErrorCell(str(value))
    if kind == "f":
        return Formula(str(value))
    return value
