"""Working days in Vietnam, for the 2-working-day answer to a connection request.

Public holidays follow the Labour Code (Art. 112) and the Prime Minister's yearly notices:
New Year, Tết (lunar new year, with the days the government adds), Hùng Kings' day
(10/3 lunar), 30/4, 1/5 and National Day (2/9 plus one adjacent day). Days off given in lieu of
a holiday that falls on a weekend are included; Saturdays the government declares working days
in exchange for a bridge day are not modelled (they only make the deadline earlier). Years not
in the table count weekends only, so add each year when its notice is published.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

# Vietnam has kept UTC+7 without daylight saving since 1975.
VIETNAM = timezone(timedelta(hours=7), "ICT")


def _span(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


PUBLIC_HOLIDAYS: frozenset[date] = frozenset(
    {
        # 2025
        date(2025, 1, 1),
        *_span(date(2025, 1, 25), date(2025, 2, 2)),  # Tết Ất Tỵ (25/01–02/02)
        date(2025, 4, 7),  # Giỗ Tổ Hùng Vương (10/3 Ất Tỵ)
        date(2025, 4, 30),
        date(2025, 5, 1),
        date(2025, 5, 2),  # bridge day (swapped with Saturday 26/04)
        date(2025, 9, 1),
        date(2025, 9, 2),  # Quốc khánh
        # 2026
        date(2026, 1, 1),
        date(2026, 1, 2),  # bridge day
        *_span(date(2026, 2, 14), date(2026, 2, 22)),  # Tết Bính Ngọ (14/02–22/02)
        date(2026, 4, 27),  # Giỗ Tổ Hùng Vương (10/3 Bính Ngọ is Sunday 26/04) in lieu
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 9, 1),
        date(2026, 9, 2),  # Quốc khánh
        # 2027 (expected, from the lunar calendar; confirm with the yearly notice)
        date(2027, 1, 1),
        *_span(date(2027, 2, 4), date(2027, 2, 10)),  # Tết Đinh Mùi (mùng 1 = 06/02)
        date(2027, 4, 16),  # Giỗ Tổ Hùng Vương (10/3 Đinh Mùi)
        date(2027, 4, 30),
        date(2027, 5, 3),  # 01/05 is a Saturday: day off in lieu
        date(2027, 9, 2),
        date(2027, 9, 3),  # Quốc khánh
    }
)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in PUBLIC_HOLIDAYS


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself is not counted)."""
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def answer_due(submitted_at: datetime, working_days: int = 2) -> datetime:
    """When an answer is due: the end (23:59:59, Vietnam time) of the ``working_days``-th
    working day after the day of submission, as an aware UTC datetime."""
    local_day = submitted_at.astimezone(VIETNAM).date()
    last_day = add_working_days(local_day, working_days)
    end = datetime.combine(last_day, time(23, 59, 59), tzinfo=VIETNAM)
    return end.astimezone(UTC)
