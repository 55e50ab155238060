"""Two working days for an answer: weekends and Vietnamese public holidays are skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session

from tinhso.core.calendar import (
    DayKind,
    DecidedDay,
    load_calendar,
    remove_decided_day,
    save_decided_day,
)
from tinhso.exchange.connections.deadlines import (
    VIETNAM,
    add_working_days,
    answer_due,
    is_working_day,
)


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


# The hard-coded table this module used before the core calendar (2025–2026 and 01/01/2027), and the
# differences the sourced decisions and the Labour Code make to it: nothing else may change.
def _span(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


OLD_PUBLIC_HOLIDAYS = {
    date(2025, 1, 1),
    *_span(date(2025, 1, 25), date(2025, 2, 2)),
    date(2025, 4, 7),
    date(2025, 4, 30),
    date(2025, 5, 1),
    date(2025, 5, 2),
    date(2025, 9, 1),
    date(2025, 9, 2),
    date(2026, 1, 1),
    date(2026, 1, 2),
    *_span(date(2026, 2, 14), date(2026, 2, 22)),
    date(2026, 4, 27),
    date(2026, 4, 30),
    date(2026, 5, 1),
    date(2026, 9, 1),
    date(2026, 9, 2),
    date(2027, 1, 1),  # deadlines of late December 2026 reach into 2027
}
# Make-up Saturdays (6150/TB-BLĐTBXH for 2025; the 2026 National Day swap), days off the old
# table lacked (31/08/2026 swapped; 24/11, Vietnam Cultural Day, from 2026), and the old
# table's 02/01/2026 bridge day, for which no decision is known.
NOW_WORKING = {date(2025, 4, 26), date(2026, 8, 22), date(2026, 1, 2)}
NOW_OFF = {date(2026, 8, 31), date(2026, 11, 24)}


def _old_answer_due(submitted_at: datetime, off: set[date], working: set[date]) -> datetime:
    day = submitted_at.astimezone(VIETNAM).date()
    remaining = 2
    while remaining:
        day += timedelta(days=1)
        if day in working or (day.weekday() < 5 and day not in off):
            remaining -= 1
    return datetime.combine(day, time(23, 59, 59), tzinfo=VIETNAM).astimezone(UTC)


def test_deadlines_2025_2026_match_the_old_table_but_for_the_sourced_changes() -> None:
    corrected_off = (OLD_PUBLIC_HOLIDAYS - NOW_WORKING) | NOW_OFF
    changed = []
    for submitted in _span(date(2025, 1, 1), date(2026, 12, 31)):
        at = datetime.combine(submitted, time(10, 0), tzinfo=VIETNAM)
        assert answer_due(at) == _old_answer_due(at, corrected_off, NOW_WORKING), submitted
        if answer_due(at) != _old_answer_due(at, OLD_PUBLIC_HOLIDAYS, set()):
            changed.append(submitted)
    # Only requests submitted in the two working days before a changed day get a new deadline.
    assert changed
    assert all(
        any(timedelta(0) < changed_day - submitted <= timedelta(days=5) for changed_day in
            NOW_WORKING | NOW_OFF)
        for submitted in changed
    )  # fmt: skip


def test_a_day_off_added_by_an_operator_moves_the_deadline(session: Session) -> None:
    # Thursday 10/06/2032: due Monday 14/06; with Friday 11/06 decided off, Tuesday 15/06.
    at = datetime(2032, 6, 10, 3, 0, tzinfo=UTC)
    assert answer_due(at, calendar=load_calendar(session)).date() == date(2032, 6, 14)
    day_off = DecidedDay(date(2032, 6, 11), DayKind.OFF, "Nghỉ thử", "TB thử", "Bộ thử")
    save_decided_day(session, day_off)
    try:
        assert answer_due(at, calendar=load_calendar(session)).date() == date(2032, 6, 15)
    finally:
        remove_decided_day(session, day_off.day)
        session.commit()
