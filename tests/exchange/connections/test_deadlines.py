"""Two working days for an answer: weekends and Vietnamese public holidays are skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tinhso.exchange.connections.deadlines import add_working_days, answer_due, is_working_day


@pytest.mark.parametrize(
    ("submitted", "due_day"),
    [
        (date(2026, 3, 2), date(2026, 3, 4)),  # Monday -> Wednesday
        (date(2026, 3, 5), date(2026, 3, 9)),  # Thursday -> Monday (weekend skipped)
        (date(2026, 3, 6), date(2026, 3, 10)),  # Friday -> Tuesday
        (date(2026, 3, 7), date(2026, 3, 10)),  # Saturday -> Tuesday
        (date(2026, 2, 12), date(2026, 2, 23)),  # Thu -> Fri 13/02, then Tết Bính Ngọ (14–22/02)
        (date(2026, 2, 16), date(2026, 2, 24)),  # during Tết
        (date(2025, 1, 24), date(2025, 2, 4)),  # Friday before Tết Ất Tỵ (25/01–02/02)
        (date(2026, 4, 29), date(2026, 5, 5)),  # 30/04 and 01/05 off
        (date(2025, 8, 29), date(2025, 9, 4)),  # National Day 01–02/09/2025
    ],
)
def test_add_two_working_days(submitted: date, due_day: date) -> None:
    assert add_working_days(submitted, 2) == due_day


def test_holidays_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 2, 17))  # mùng 1 Tết Bính Ngọ
    assert not is_working_day(date(2026, 1, 1))
    assert not is_working_day(date(2026, 3, 7))  # Saturday
    assert is_working_day(date(2026, 3, 9))


def test_answer_due_is_end_of_day_vietnam_time() -> None:
    # Friday 06/03/2026 at 16:00 in Hà Nội (09:00 UTC) -> end of Tuesday 10/03, local time.
    due = answer_due(datetime(2026, 3, 6, 9, 0, tzinfo=UTC))
    assert due == datetime(2026, 3, 10, 16, 59, 59, tzinfo=UTC)  # 23:59:59 ICT
    # 23:30 UTC on Sunday is already Monday morning in Vietnam: Monday is the submission day.
    due = answer_due(datetime(2026, 3, 8, 23, 30, tzinfo=UTC))
    assert due == datetime(2026, 3, 11, 16, 59, 59, tzinfo=UTC)
