"""Writing monitoring tables as files: a `Table` as CSV (UTF-8 with a byte-order mark,
numbers in the headers' format, so a file imports back to the same numbers) or XLSX, with
Vietnamese or English headers, and the import template
(headers only as CSV; as XLSX with a guide and the data elements). The exported tables
themselves are built in `transfer.tables`. Text cells that a spreadsheet would run as a
formula are neutralised, and what a format cannot carry is dropped (`tinhso.core.text`),
so no stored text can make an export fail.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from tinhso.core.i18n import Locale
from tinhso.core.text import for_utf8, for_xlsx, is_formula_like, neutralise_formula
from tinhso.monitoring import repository
from tinhso.monitoring.transfer.formats import (
    CSV_MEDIA_TYPE,
    DATA_SHEET,
    IMPORT_COLUMNS,
    XLSX_MEDIA_TYPE,
    Column,
    FileFormat,
)
from tinhso.monitoring.values.number_format import NumberFormat, format_number

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass
class Table:
    """Rows to export, with bilingual column titles. ``rows`` may be a generator reading
    from the database: the writers below consume it once, row by row."""

    name: str  # file name stem, e.g. "so-lieu"
    sheet_vi: str
    sheet_en: str
    columns: Sequence[Column]
    rows: Iterable[list[object]]
    row_count: int | None = None  # known before writing when ``rows`` is a generator
    media_types: ClassVar[dict[str, str]] = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}


def csv_cell(value: object, lang: Locale) -> str:
    """A cell as CSV text: a number in the headers' format, so the file reads back to the same
    number (a Vietnamese file writes 215.027 as ``215,027``); a text neutralised if a
    spreadsheet would run it as a formula, without what UTF-8 cannot carry."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value, NumberFormat(lang)) if math.isfinite(value) else ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return neutralise_formula(for_utf8(str(value)))


def write_csv_to(table: Table, lang: Locale, out: IO[bytes]) -> None:
    """The table as CSV (UTF-8 with a byte-order mark) into ``out``, one row at a time."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        text.write("\ufeff")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([c.title(lang) for c in table.columns])
        for row in table.rows:
            writer.writerow([csv_cell(v, lang) for v in row])
    finally:
        text.detach()  # ``out`` stays open for the caller


def write_csv(table: Table, lang: Locale) -> bytes:
    buffer = io.BytesIO()
    write_csv_to(table, lang, buffer)
    return buffer.getvalue()


_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")


def _column_width(column: Column, lang: Locale) -> int:
    return max(12, min(48, len(column.title(lang)) + 4))


def _style_header(sheet: Any, columns: Sequence[Column], lang: Locale) -> None:
    sheet.append([c.title(lang) for c in columns])
    for position, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=position)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        sheet.column_dimensions[get_column_letter(position)].width = _column_width(column, lang)
    sheet.freeze_panes = "A2"


def write_xlsx_to(table: Table, lang: Locale, out: IO[bytes]) -> None:
    """The table as XLSX into ``out``. openpyxl's write-only mode spools each row to a
    temporary file as it is appended, so the rows are never all in memory."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet((table.sheet_vi if lang == "vi" else table.sheet_en)[:31])
    for position, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = _column_width(column, lang)
    sheet.freeze_panes = "A2"
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.title(lang))
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        header.append(cell)
    sheet.append(header)
    text_columns = {i for i, column in enumerate(table.columns) if column.kind == "text"}
    for row in table.rows:
        sheet.append(
            [
                _xlsx_row_cell(sheet, value, position in text_columns)
                for position, value in enumerate(row)
            ]
        )
    workbook.save(out)


class _ShortestNumber:
    """A number cell's text as ``repr`` writes it: openpyxl writes every number with 16
    significant digits (``"%.16g"``) and some doubles need 17, so the cell holds this instead,
    whose ``str`` is the shortest text that reads back to the same double."""

    __slots__ = ("text",)

    def __init__(self, number: float) -> None:
        self.text = repr(number)

    def __str__(self) -> str:
        return self.text


def _xlsx_row_cell(sheet: Any, value: object, text: bool) -> Any:
    """One cell; a text that a spreadsheet would run as a formula stays a text cell (string
    type, shown with Excel's quote prefix), a negative number stays a number."""
    value = _xlsx_cell(value)
    cell: Any = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]
    if isinstance(value, float) and math.isfinite(value):
        # the cell keeps its numeric type ("n"); only the written digits change, so an
        # export imports back to the same number
        cell._value = _ShortestNumber(value)
    if text:
        cell.number_format = "@"
    if isinstance(cell.value, str) and is_formula_like(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def write_xlsx(table: Table, lang: Locale) -> bytes:
    buffer = io.BytesIO()
    write_xlsx_to(table, lang, buffer)
    return buffer.getvalue()


def _xlsx_cell(value: object) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: written in UTC
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return for_xlsx(value)
    return value


def _append(sheet: Any, row: Sequence[object]) -> None:
    """Append a row to a normal (not write-only) sheet, its cells as in ``_xlsx_row_cell``."""
    sheet.append([_xlsx_cell(v) for v in row])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and is_formula_like(cell.value):
            cell.data_type = "s"
            cell.quotePrefix = True


def write_table(table: Table, fmt: FileFormat, lang: Locale) -> bytes:
    return write_csv(table, lang) if fmt == "csv" else write_xlsx(table, lang)


def write_table_to(table: Table, fmt: FileFormat, lang: Locale, out: IO[bytes]) -> None:
    if fmt == "csv":
        write_csv_to(table, lang, out)
    else:
        write_xlsx_to(table, lang, out)


# --- template --------------------------------------------------------------------------

_GUIDE_VI = [
    "Mẫu nhập số liệu chỉ tiêu (tinhso)",
    "Mỗi dòng của trang «Số liệu» là một giá trị: chỉ tiêu dữ liệu × đơn vị hành chính × kỳ báo cáo.",
    "Mã chỉ tiêu dữ liệu: xem trang «Chỉ tiêu dữ liệu».",
    "Mã đơn vị hành chính: mã GSO (tỉnh 2 chữ số, huyện cũ 3 chữ số, xã 5 chữ số), ví dụ 24 hoặc 00004.",
    "Bộ đơn vị: «hiện hành» (34 tỉnh, từ 01/07/2025) hoặc «cũ» (63 tỉnh). Cùng một mã có thể là hai đơn vị khác nhau ở hai bộ.",
    "Kỳ báo cáo: năm 2025; quý 2025-Q3 hoặc Quý 3/2025; tháng 2025-07 hoặc 07/2025 (đúng loại kỳ của chỉ tiêu).",
    "Giá trị: tệp có tiêu đề tiếng Việt dùng định dạng số Việt Nam: dấu chấm phân cách hàng nghìn, dấu phẩy là dấu thập phân (1.380 là một nghìn ba trăm tám mươi; 47,85; 0,125). Số chỉ đọc được một cách (47.85, 0.125) được nhận như viết. Ô phần trăm của Excel (85,5 %) là 85,5.",
    "Bộ đơn vị để trống: theo kỳ báo cáo (kỳ kết thúc trước 01/07/2025 là bộ cũ, sau đó là bộ hiện hành).",
    "Tệp được kiểm tra toàn bộ trước khi ghi: có lỗi ở bất kỳ dòng nào thì không ghi gì, và danh sách lỗi nêu rõ dòng, cột.",
    "Nhập lại một giá trị đã có với số khác là một lần hiệu chỉnh, được lưu trong lịch sử.",
    "CSV: lưu dạng «CSV UTF-8»; dấu phân cách «,» hoặc «;».",
]
_GUIDE_EN = [
    "Template for indicator data (tinhso)",
    "Each row of the data sheet is one value: data element x administrative unit x period.",
    "Data element code: see the data elements sheet.",
    "Administrative unit code: the GSO code (province 2 digits, legacy district 3, commune 5), e.g. 24 or 00004.",
    "Unit set: «current» (34 provinces, from 01/07/2025) or «legacy» (63 provinces). One code can name different units in the two sets.",
    "Period: year 2025; quarter 2025-Q3 or Quý 3/2025; month 2025-07 or 07/2025 (the element's period type).",
    "Value: a file with English headers uses the English number format: comma groups thousands, dot is the decimal point (1,380 is one thousand three hundred and eighty; 47.85; 0.125). A number that can be read only one way (47,85) is taken as written. An Excel percentage cell (85.5 %) is 85.5.",
    "An empty unit set follows the period (periods ending before 01/07/2025: legacy; later: current).",
    "The whole file is checked before anything is written: an error on any row writes nothing, and the errors name the row and column.",
    "Importing a different number for a stored value is a correction, kept in the value's history.",
    "English headers are accepted too. CSV: save as «CSV UTF-8»; separator «,» or «;».",
]
ELEMENT_COLUMNS = (
    Column("code", "Mã chỉ tiêu dữ liệu", "Data element code"),
    Column("name", "Tên chỉ tiêu dữ liệu", "Data element name"),
    Column("unit_of_measure", "Đơn vị tính", "Unit of measure"),
    Column("value_type", "Kiểu giá trị", "Value type"),
    Column("period_type", "Loại kỳ", "Period type"),
)


def template_table() -> Table:
    return Table("mau-nhap-so-lieu", DATA_SHEET, "Data", IMPORT_COLUMNS, [])


def write_template(session: Session, fmt: FileFormat, lang: Locale) -> bytes:
    """The import template: headers only (CSV), or with a guide and the elements (XLSX)."""
    table = template_table()
    if fmt == "csv":
        return write_csv(table, lang)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # noqa: S101 - a new workbook always has one sheet
    sheet.title = DATA_SHEET if lang == "vi" else "Data"
    _style_header(sheet, IMPORT_COLUMNS, lang)
    for position, column in enumerate(IMPORT_COLUMNS, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = 28
        if column.kind == "text":  # keep leading zeros and periods as typed
            for row in range(2, 1002):
                sheet.cell(row=row, column=position).number_format = "@"
    choices = '"hiện hành,cũ"' if lang == "vi" else '"current,legacy"'
    validation = DataValidation(type="list", formula1=choices, allow_blank=True)
    sheet.add_data_validation(validation)
    validation.add("C2:C1001")
    guide = workbook.create_sheet("Hướng dẫn" if lang == "vi" else "Guide")
    lines = [*_GUIDE_VI, "", *_GUIDE_EN] if lang == "vi" else [*_GUIDE_EN, "", *_GUIDE_VI]
    for line in lines:
        guide.append([line])
    guide.column_dimensions["A"].width = 120
    elements = workbook.create_sheet("Chỉ tiêu dữ liệu" if lang == "vi" else "Data elements")
    _style_header(elements, ELEMENT_COLUMNS, lang)
    for element in repository.all_elements(session):
        _append(
            elements,
            [
                _xlsx_cell(text)
                for text in (
                    element.code,
                    element.name_vi if lang == "vi" else (element.name_en or element.name_vi),
                    element.unit_of_measure
                    if lang == "vi"
                    else (element.unit_of_measure_en or element.unit_of_measure),
                    element.value_type.value,
                    element.period_type.value,
                )
            ],
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
