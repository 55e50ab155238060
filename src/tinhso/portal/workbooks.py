"""A page's table as an XLSX workbook: sheet 1 the table with the page's headers (in the
page's language), sheet 2 what the table is (filters, sources, when it was exported).

Numbers stay numbers (a spreadsheet can sum them); a text cell that a spreadsheet would take
for a formula is neutralised, and characters an XLSX cell cannot hold are dropped, so the
export cannot fail on what users typed.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from starlette.responses import Response

from tinhso.core.i18n import LOCAL_TIMEZONE, current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.text import for_xlsx, neutralise_formula

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Characters a sheet's name cannot hold.
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cell(value: Any) -> Any:
    """A value as a cell: text made safe, numbers and dates as they are."""
    if isinstance(value, str):
        return neutralise_formula(for_xlsx(value)) if value else value
    return value


def exported_at() -> str:
    return datetime.now(LOCAL_TIMEZONE).strftime("%d/%m/%Y %H:%M")


def table_workbook(
    sheet_title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    about: Sequence[tuple[str, str]],
    *,
    title: str,
    widths: Sequence[int] = (),
    freeze: str = "B2",
    more: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]] = (),
    preambles: Sequence[Sequence[tuple[str, str]]] = (),
) -> bytes:
    """The workbook's bytes; ``more`` are further tables (title, headers, rows) after the
    first; ``about`` is the last sheet's (label, value) lines, to which the moment of export
    is added. ``preambles`` (one per table, in order) are (label, value) lines written above
    a table's headers, then an empty line (the headers are then not row 1)."""
    book = Workbook()
    book.remove(book.worksheets[0])
    for index, (name, table_headers, table_rows) in enumerate(
        [(sheet_title, headers, rows), *more]
    ):
        preamble = preambles[index] if index < len(preambles) else ()
        _table(
            book, name, table_headers, table_rows, widths if index == 0 else (), freeze, preamble
        )
    sheet_about = book.create_sheet(_("About this report")[:31])
    for label, value in [*about, (_("Exported at"), exported_at())]:
        sheet_about.append([cell(label), cell(value)])
    sheet_about.column_dimensions["A"].width = 28
    sheet_about.column_dimensions["B"].width = 100
    for label_cell in sheet_about["A"]:
        label_cell.font = Font(bold=True)
    book.properties.title = for_xlsx(title)[:255]
    book.properties.language = current_locale.get()
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _table(
    book: Workbook,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int],
    freeze: str,
    preamble: Sequence[tuple[str, str]] = (),
) -> None:
    sheet = book.create_sheet(_NOT_IN_SHEET_NAME.sub("-", for_xlsx(title))[:31] or "1")
    for label, value in preamble:
        sheet.append([cell(label), cell(value)])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    if preamble:
        sheet.append([])
    header_row = len(preamble) + 1 + (1 if preamble else 0)
    sheet.append([cell(header) for header in headers])
    for header in sheet[header_row]:
        header.font = Font(bold=True)
        header.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append([cell(value) for value in row])
    for index, width in enumerate(widths or [24] * len(headers), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    frozen = re.fullmatch(r"([A-Z]+)(\d+)", freeze)  # below the headers, wherever they are
    sheet.freeze_panes = f"{frozen[1]}{int(frozen[2]) + header_row - 1}" if frozen else freeze
    last = get_column_letter(max(len(headers), 1))
    sheet.auto_filter.ref = f"A{header_row}:{last}{sheet.max_row}"


def download(content: bytes, filename: str) -> Response:
    """An XLSX download (never cached: it holds the figures of the moment)."""
    return Response(
        content,
        media_type=XLSX_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
