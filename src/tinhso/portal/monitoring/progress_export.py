"""The plan-progress page as an XLSX workbook: the monthly report's table, one row per target,
with the page's own figures and headers in the page's language.

Numbers are numbers (a spreadsheet can sum them); text cells that a spreadsheet would take for
a formula are neutralised, and characters an XLSX cell cannot hold are dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tinhso.core.i18n import LOCAL_TIMEZONE
from tinhso.core.i18n import gettext as _
from tinhso.portal.workbooks import table_workbook

if TYPE_CHECKING:
    from tinhso.portal.monitoring.overview import Overview


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
    rows = []
    for group in data.groups:
        for row in group.rows:
            a = row.achievement
            rows.append(
                [
                    group.name,
                    row.indicator_name,
                    row.unit_of_measure,
                    a.unit_name,
                    a.unit.code,
                    a.year,
                    row.goal_text,
                    a.baseline_value,
                    a.baseline_period,
                    a.actual,
                    a.actual_period,
                    round(a.achievement_percent, 1) if a.achievement_percent is not None else None,
                    row.status_label,
                    round(a.expected_now, 2) if a.expected_now is not None else None,
                    "; ".join(row.sources) if row.sources else None,
                ]
            )
    plan = data.plan
    about = [
        (_("Plan"), f"{plan.number} — {data.title}"),
        (_("Issued by"), plan.issuing_body or ""),
        (_("Assessed as of year"), str(data.as_of_year or datetime.now(LOCAL_TIMEZONE).year)),
        (_("Targets"), str(data.total)),
        (
            _("Administrative units"),
            _(
                "Each target is assessed on the administrative units of its scope; a target set "
                "for a legacy unit (before 01/07/2025) is assessed on the legacy units."
            ),
        ),
    ]
    return table_workbook(
        _("Plan progress"),
        _headers(),
        rows,
        about,
        title=f"{plan.number} — {data.title}",
        widths=[22, 48, 14, 26, 10, 10, 14, 12, 12, 12, 14, 14, 18, 14, 60],
        freeze="C2",
    )
