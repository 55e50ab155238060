"""The 2-working-day answer to a connection request (Decree 194), on the core calendar.

Working days, public holidays (lunar ones included) and the government's decided days off and
make-up Saturdays are `tinhso.core.calendar`'s; this module keeps the exchange's names.
"""

from __future__ import annotations

from datetime import date, datetime

from tinhso.core.calendar import (
    VIETNAM,
    WorkingCalendar,
    due_at_end_of_working_day,
    shipped_calendar,
)

__all__ = ["VIETNAM", "add_working_days", "answer_due", "is_working_day"]


def is_working_day(day: date, calendar: WorkingCalendar | None = None) -> bool:
    return (calendar or shipped_calendar()).is_working_day(day)


def add_working_days(day: date, count: int, calendar: WorkingCalendar | None = None) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself is not counted)."""
    return (calendar or shipped_calendar()).add_working_days(day, count)


def answer_due(
    submitted_at: datetime, working_days: int = 2, calendar: WorkingCalendar | None = None
) -> datetime:
    """When an answer is due: the end (23:59:59, Vietnam time) of the ``working_days``-th
    working day after the day of submission, as an aware UTC datetime. Without ``calendar``,
    the shipped decisions are used (no database needed)."""
    return due_at_end_of_working_day(calendar or shipped_calendar(), submitted_at, working_days)
