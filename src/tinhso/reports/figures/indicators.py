"""Field report figures as monitoring values, so the IOC, the rankings and the plan's
progress show them without a manual step.

Six monthly data elements (counts, summed up the unit tree and over months) are kept in the
monitoring catalogue: received, handled, handled on time, late, rated, rated satisfied (the
rates are these counts' ratios, so they aggregate correctly). ``publish_month`` writes one
value of each per commune (current unit set) with reports in a month that has ended, through
the monitoring domain's value service (its checks and corrections apply), with the source
``api`` (a platform system pushing values). The ``reports.statistics`` job does it on the 1st
of each month for the month before; ``tinhso reports publish-statistics`` for any ended month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from tinhso.core.errors import InvalidInput, NotFound
from tinhso.monitoring.models import (
    Aggregation,
    PeriodAggregation,
    PeriodType,
    ValueSource,
    ValueType,
)
from tinhso.monitoring.schemas import ElementCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.checks import today_in_vietnam
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service
from tinhso.reports.figures.statistics import MonthRow, monthly

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Figure:
    code: str
    name_vi: str
    name_en: str

    def of(self, row: MonthRow) -> int:
        return int(getattr(row, self.code.removeprefix("field_reports_")))


FIGURES = (
    Figure("field_reports_received", "Phản ánh hiện trường tiếp nhận", "Field reports received"),
    Figure("field_reports_handled", "Phản ánh hiện trường đã xử lý", "Field reports handled"),
    Figure("field_reports_on_time", "Phản ánh xử lý đúng hạn", "Field reports handled on time"),
    Figure("field_reports_late", "Phản ánh trễ hạn", "Field reports late"),
    Figure("field_reports_rated", "Phản ánh được đánh giá", "Field reports rated"),
    Figure(
        "field_reports_satisfied",
        "Phản ánh được đánh giá hài lòng",
        "Field reports rated satisfied",
    ),
)


def ensure_elements(session: Session) -> int:
    """Create the elements that are missing; the number created."""
    created = 0
    for figure in FIGURES:
        try:
            catalogue_service.element(session, figure.code)
            continue
        except NotFound:
            pass
        catalogue_service.create_element(
            session,
            ElementCreate(
                code=figure.code,
                name_vi=figure.name_vi,
                name_en=figure.name_en,
                description_vi="Tính tự động từ phản ánh hiện trường (tinhso reports)",
                description_en="Computed from citizens' field reports (tinhso reports)",
                unit_of_measure="phản ánh",
                unit_of_measure_en="reports",
                value_type=ValueType.INTEGER,
                aggregation=Aggregation.SUM,
                period_type=PeriodType.MONTH,
                period_aggregation=PeriodAggregation.SUM,
                non_negative=True,
            ),
        )
        created += 1
    return created


def previous_month(today: date | None = None) -> date:
    today = today or today_in_vietnam()
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def publish_month(session: Session, month: date, entered_by_id: int | None = None) -> int:
    """Write the month's figures per commune; the number of values written or corrected."""
    if (month.year, month.month) >= (today_in_vietnam().year, today_in_vietnam().month):
        raise InvalidInput(
            f"Tháng {month:%m/%Y} chưa kết thúc",
            f"The month {month:%m/%Y} has not ended",
            field="month",
        )
    ensure_elements(session)
    rows = [row for row in monthly(session, month, by_unit=True) if row.key is not None]
    nodes = unit_service.nodes(session, {row.key for row in rows if row.key is not None})
    period = f"{month:%Y-%m}"
    items = [
        ValueIn(
            element_code=figure.code,
            unit=UnitRef(unit_set=UnitSet.CURRENT, code=nodes[row.key].code),
            period=period,
            value=figure.of(row),
            source=ValueSource.API,
            source_reference="tinhso reports",
            reason="Tính lại từ phản ánh hiện trường / recomputed from field reports",
        )
        for row in rows
        if row.key in nodes
        for figure in FIGURES
    ]
    if not items:
        return 0
    result = value_service.record_many(
        session, items, Provenance(entered_by_id=entered_by_id, source=ValueSource.API)
    )
    return result.inserted + result.corrected
