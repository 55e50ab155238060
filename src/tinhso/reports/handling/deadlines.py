"""When a report must be accepted and resolved, on the platform's one working calendar.

Acceptance is counted in working hours from submission (or from re-routing). Resolution is
counted from acceptance: urgent reports in working hours, normal and complex ones in working
days of office time (3 working days after 10:00 on a Monday is 10:00 on Thursday, weekends,
holidays and decided days off skipped, make-up Saturdays counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tinhso.reports.models import Severity

if TYPE_CHECKING:
    from tinhso.core.calendar import WorkingCalendar
    from tinhso.core.config import ReportsSection


@dataclass(frozen=True)
class DeadlinePolicy:
    accept_hours: float
    urgent_resolve_hours: float
    normal_resolve_days: int
    complex_resolve_days: int
    reopen_days: int

    @classmethod
    def from_settings(cls, section: ReportsSection) -> DeadlinePolicy:
        return cls(
            accept_hours=section.accept_hours,
            urgent_resolve_hours=section.urgent_resolve_hours,
            normal_resolve_days=section.normal_resolve_days,
            complex_resolve_days=section.complex_resolve_days,
            reopen_days=section.reopen_days,
        )

    def accept_due(self, calendar: WorkingCalendar, since: datetime) -> datetime:
        return calendar.add_working_hours(since, self.accept_hours)

    def resolve_office_time(self, calendar: WorkingCalendar, severity: Severity) -> timedelta:
        if severity is Severity.URGENT:
            return timedelta(hours=self.urgent_resolve_hours)
        days = (
            self.normal_resolve_days if severity is Severity.NORMAL else self.complex_resolve_days
        )
        return calendar.hours.per_day * days

    def resolve_due(
        self, calendar: WorkingCalendar, accepted_at: datetime, severity: Severity
    ) -> datetime:
        return calendar.add_working_hours(accepted_at, self.resolve_office_time(calendar, severity))
