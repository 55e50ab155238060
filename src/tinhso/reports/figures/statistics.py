"""The monthly table provinces publish: per organisation, reports received, handled, handled
on time, late, and the citizens' satisfaction.

A month is a calendar month in Vietnam time. *Received*: reports submitted in the month.
*Handled*: reports answered (resolved) or refused in the month. *On time*: handled ones that
were accepted by their acceptance deadline and closed by their resolution deadline (a
refusal only by its acceptance deadline). *Late*: handled late in the month, plus reports still
open at the month's end whose deadline had passed by then. *Satisfaction*: satisfied ratings
among the ratings of reports handled in the month. *Open*: reports not handled by the
month's end (whenever submitted).

``tally`` counts the same way over any window [start, end) (the operations centre's live
figures, ``provider.py``): a window that has not ended is judged at the present moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from tinhso.core.calendar import VIETNAM
from tinhso.core.db import utcnow
from tinhso.reports.models import Rating, Report, ReportState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass
class MonthRow:
    key: int | None  # the organisation's id, or the unit's (None: no organisation or unit)
    received: int = 0
    handled: int = 0
    on_time: int = 0
    late: int = 0
    rated: int = 0
    satisfied: int = 0
    open: int = 0

    @property
    def on_time_percent(self) -> float | None:
        return 100 * self.on_time / self.handled if self.handled else None

    @property
    def satisfaction_percent(self) -> float | None:
        return 100 * self.satisfied / self.rated if self.rated else None


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=VIETNAM)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=VIETNAM)


def _handled_on_time(report: Report) -> bool:
    if report.accepted_at is not None and report.accepted_at > report.accept_due_at:
        return False
    closed = report.closed_at
    assert closed is not None  # noqa: S101 - only handled (closed) reports are asked
    if report.state is ReportState.REFUSED:
        return closed <= report.accept_due_at
    return report.resolve_due_at is None or closed <= report.resolve_due_at


def _overdue_at(report: Report, moment: datetime) -> bool:
    if report.accepted_at is None or report.accepted_at > moment:
        return moment > report.accept_due_at
    return report.resolve_due_at is not None and moment > report.resolve_due_at


def monthly(session: Session, month: date, *, by_unit: bool = False) -> list[MonthRow]:
    """One row per organisation with any report in the month (None: the triage queue), or
    with ``by_unit`` per administrative unit the reports are in (None: no unit given)."""
    start, end = month_bounds(month)
    return tally(session, start, end, by_unit=by_unit)


def tally(
    session: Session, start: datetime, end: datetime, *, by_unit: bool = False
) -> list[MonthRow]:
    """``monthly``'s rows over the window [start, end)."""
    handled_states = [ReportState.RESOLVED, ReportState.REFUSED]
    reports = session.scalars(
        select(Report).where(
            Report.hidden.is_(False),
            Report.created_at < end,
            or_(Report.created_at >= start, Report.closed_at.is_(None), Report.closed_at >= start),
        )
    )
    rows: dict[int | None, MonthRow] = {}
    judged_at = min(end, utcnow())  # an open report is late once its deadline has passed
    for report in reports:
        key = report.unit_id if by_unit else report.organisation_id
        row = rows.setdefault(key, MonthRow(key))
        if report.created_at >= start:
            row.received += 1
        closed_in_month = report.closed_at is not None and start <= report.closed_at < end
        if closed_in_month and report.state in handled_states:
            row.handled += 1
            if _handled_on_time(report):
                row.on_time += 1
            else:
                row.late += 1
            if report.rating is not None:
                row.rated += 1
                row.satisfied += report.rating is Rating.SATISFIED
        elif report.closed_at is None or report.closed_at >= end:
            row.open += 1
            if _overdue_at(report, judged_at):
                row.late += 1
    return sorted(rows.values(), key=lambda r: (r.key is None, -r.received))
