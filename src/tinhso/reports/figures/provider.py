"""The reports domain's side of monitoring's field-report extension point
(``tinhso.monitoring.field_reports``): live counts per unit from ``statistics.tally``, the
same definitions as the monthly table the province publishes.

``install`` registers it; it is called explicitly where both layers are importable (the app
factory, the worker's job list, the demo loader), never as a side effect of an import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.monitoring import field_reports
from tinhso.monitoring.field_reports import ReportCounts
from tinhso.registry.units import unit_service
from tinhso.reports.figures.statistics import tally

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from sqlalchemy.orm import Session


class ReportFigures:
    def counts(
        self, session: Session, unit_ids: Collection[int], start: datetime, end: datetime
    ) -> dict[int, ReportCounts]:
        """Each unit's reports and those of the units below it over [start, end), in two
        statements (the units' subtrees, the window's reports) however many units."""
        by_unit = {row.key: row for row in tally(session, start, end, by_unit=True)}
        subtrees = unit_service.subtrees(session, unit_ids)
        found: dict[int, ReportCounts] = {}
        for unit_id in unit_ids:
            rows = [by_unit[node.id] for node in subtrees.get(unit_id, []) if node.id in by_unit]
            found[unit_id] = ReportCounts(
                received=sum(row.received for row in rows),
                handled=sum(row.handled for row in rows),
                on_time=sum(row.on_time for row in rows),
                late=sum(row.late for row in rows),
                open=sum(row.open for row in rows),
            )
        return found


FIGURES = ReportFigures()


def install() -> None:
    """Register the reports domain's figures with monitoring (idempotent)."""
    field_reports.register(FIGURES)
