"""The plan-progress page as an XLSX workbook: the monthly report's table, one row per target,
with the page's own figures and headers in the page's language.

Numbers are numbers (a spreadsheet can sum them); text cells that a spreadsheet would take for
a formula are neutralised, and characters an XLSX cell cannot hold are dropped.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from tinhso.core.i18n import LOCAL_TIMEZONE, current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.text import for_xlsx, neutralise_formula

if TYPE_CHECKING:
    from tinhso.portal.monitoring.overview import Overview

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(value: str | None) -> str | None:
    return neutralise_formula(for_xlsx(value)) if value else value


def _headers() -> list[str]:
    return [
        _("Pillar"),
        _("Indicator"),
        _("Unit of measure"),
        _("Administrative unit"),
        _("Unit code"),
        _("Target year"),
        _("Target"),
        _("Baseline"),
        _("Baseline period"),
        _("Latest value"),
        _("Period of the latest value"),
        _("Achievement (%)"),
        _("Status"),
        _("Expected now"),
        _("Source"),
    ]


def progress_workbook(data: Overview) -> bytes:
    """The workbook's bytes: sheet 1 the targets, sheet 2 what the report is."""
    book = Workbook(write_only=False)
    book.remove(book.worksheets[0])
    sheet = book.create_sheet(_("Plan progress")[:31])
    headers = _headers()
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for group in data.groups:
        for row in group.rows:
            a = row.achievement
            sheet.append(
                [
                    _text(group.name),
                    _text(row.indicator_name),
                    _text(row.unit_of_measure),
                    _text(a.unit_name),
                    a.unit.code,
                    a.year,
                    _text(row.goal_text),
                    a.baseline_value,
                    a.baseline_period,
                    a.actual,
                    a.actual_period,
                    round(a.achievement_percent, 1) if a.achievement_percent is not None else None,
                    _text(row.status_label),
                    round(a.expected_now, 2) if a.expected_now is not None else None,
                    _text("; ".join(row.sources)) if row.sources else None,
                ]
            )
    widths = [22, 48, 14, 26, 10, 10, 14, 12, 12, 12, 14, 14, 18, 14, 60]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{sheet.max_row}"

    about = book.create_sheet(_("About this report")[:31])
    plan = data.plan
    now = datetime.now(LOCAL_TIMEZONE)
    rows: list[tuple[str, str]] = [
        (_("Plan"), f"{plan.number} — {data.title}"),
        (_("Issued by"), plan.issuing_body or ""),
        (_("Assessed as of year"), str(data.as_of_year or now.year)),
        (_("Targets"), str(data.total)),
        (_("Exported at"), now.strftime("%d/%m/%Y %H:%M")),
        (
            _("Administrative units"),
            _(
                "Each target is assessed on the administrative units of its scope; a target set "
                "for a legacy unit (before 01/07/2025) is assessed on the legacy units."
            ),
        ),
    ]
    for label, value in rows:
        about.append([label, _text(value)])
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 100
    for cell in about["A"]:
        cell.font = Font(bold=True)
    book.properties.title = for_xlsx(f"{plan.number} — {data.title}")[:255]
    book.properties.language = current_locale.get()
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
