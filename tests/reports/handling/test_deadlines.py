"""Deadlines in working hours and working days on the shipped calendar: across a weekend,
Tết Bính Ngọ 2026 and a make-up working Saturday. Expected moments are worked out by hand
from office hours 07:30–11:30 and 13:00–17:00 (Vietnam time)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tinhso.core.calendar import VIETNAM, shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Severity

CALENDAR = shipped_calendar()
POLICY = DeadlinePolicy.from_settings(ReportsSection())


def at(day: str, clock: str) -> datetime:
    return datetime.strptime(f"{day} {clock}", "%d/%m/%Y %H:%M").replace(tzinfo=VIETNAM)


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        # Monday 09:00: 2.5 h in the morning, 4 h in the afternoon, 1.5 h on Tuesday.
        (at("07/12/2026", "09:00"), at("08/12/2026", "09:00")),
        # Friday 16:00: 1 h on Friday, then Monday 4 h + 3 h.
        (at("04/12/2026", "16:00"), at("07/12/2026", "16:00")),
        # Friday 13/02/2026 16:00: Tết Bính Ngọ (14–22/02) skipped, due Monday 23/02 16:00.
        (at("13/02/2026", "16:00"), at("23/02/2026", "16:00")),
        # Submitted on a Sunday night: counting starts Monday 07:30, a whole office day.
        (at("06/12/2026", "22:00"), at("07/12/2026", "17:00")),
    ],
)
def test_acceptance_in_working_hours(submitted: datetime, due: datetime) -> None:
    assert POLICY.accept_due(CALENDAR, submitted) == due


def test_urgent_resolution_runs_into_a_make_up_saturday() -> None:
    # Accepted Friday 25/04/2025 16:00; Saturday 26/04/2025 is a make-up working day:
    # 1 h on Friday and 3 h on Saturday morning.
    due = POLICY.resolve_due(CALENDAR, at("25/04/2025", "16:00"), Severity.URGENT)
    assert due == at("26/04/2025", "10:30")


def test_normal_resolution_in_working_days() -> None:
    # 3 working days of office time after Monday 10:00 is Thursday 10:00.
    due = POLICY.resolve_due(CALENDAR, at("07/12/2026", "10:00"), Severity.NORMAL)
    assert due == at("10/12/2026", "10:00")
    # After Thursday 10:00, the weekend is skipped: Tuesday 10:00.
    due = POLICY.resolve_due(CALENDAR, at("10/12/2026", "10:00"), Severity.NORMAL)
    assert due == at("15/12/2026", "10:00")


def test_complex_resolution_skips_tet() -> None:
    # 10 working days from Monday 09/02/2026 10:00: 09–13/02 gives 4 (to Friday 10:00),
    # Tết and its weekends are skipped, then 23/02–27/02 gives 5 and Monday 02/03 the 10th.
    due = POLICY.resolve_due(CALENDAR, at("09/02/2026", "10:00"), Severity.COMPLEX)
    assert due == at("02/03/2026", "10:00")


def test_the_policy_follows_its_settings() -> None:
    policy = DeadlinePolicy.from_settings(ReportsSection(accept_hours=4, normal_resolve_days=1))
    assert policy.accept_due(CALENDAR, at("07/12/2026", "07:30")) == at("07/12/2026", "11:30")
    assert policy.resolve_office_time(CALENDAR, Severity.NORMAL) == timedelta(hours=8)
