"""Vietnamese working days and office hours, one calendar for every deadline.

A day is a working day when it is a Monday–Friday that is no public holiday and no decided day
off, or when it is a decided make-up working day (a Saturday swapped for a bridge day).

* Statutory public holidays (Labour Code 2019, Art. 112: 1/1; Tết, the last day of the lunar
  year and mùng 1–4; Hùng Kings' day 10/3 lunar; 30/4; 1/5; 2/9 and one adjacent day; from
  2026 the Vietnam Cultural Day 24/11) and the days in lieu when one falls on a weekend are
  computed for any year by the ``holidays`` package (lunar dates included).
* What the government decides each year (extra days off, Saturdays worked in exchange) is data:
  the ``calendar_decided_day`` table, seeded from ``core/data/calendar_decisions.csv`` and
  edited by operators with ``tinhso calendar``. Each row names its source.

A year without any decided row is computed from the statutory rules alone and logs a warning
once per year per process (``tinhso calendar check`` warns ahead of time).

Office hours are Vietnam time (UTC+7, no daylight saving since 1975).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import cache
from importlib import resources

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from tinhso.core.config import Settings
from tinhso.core.errors import FieldError, InvalidInput, Message
from tinhso.core.models import CalendarDecidedDay

logger = logging.getLogger(__name__)

VIETNAM = timezone(timedelta(hours=7), "ICT")

# Years already warned about in this process (see WorkingCalendar._note_year).
_warned_years: set[int] = set()


class DayKind(StrEnum):
    OFF = "off"
    WORKING = "working"


@dataclass(frozen=True)
class DecidedDay:
    """A day the government decided on: an extra day off or a make-up working day."""

    day: date
    kind: DayKind
    reason: str
    source: str  # the notice: title and number
    issuer: str
    issued_on: date | None = None
    url: str = ""


@dataclass(frozen=True)
class OfficeHours:
    """The two office periods of a working day, Vietnam time."""

    morning_start: time = time(7, 30)
    morning_end: time = time(11, 30)
    afternoon_start: time = time(13, 0)
    afternoon_end: time = time(17, 0)

    def __post_init__(self) -> None:
        if not (self.morning_start < self.morning_end <= self.afternoon_start < self.afternoon_end):
            raise ValueError("office hours must be two ordered, non-overlapping periods")

    def periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        def at(moment: time) -> datetime:
            return datetime.combine(day, moment, tzinfo=VIETNAM)

        return (
            (at(self.morning_start), at(self.morning_end)),
            (at(self.afternoon_start), at(self.afternoon_end)),
        )

    @property
    def per_day(self) -> timedelta:
        return sum((end - start for start, end in self.periods(date(2000, 1, 3))), timedelta())


@cache
def statutory_holidays(year: int) -> dict[date, str]:
    """Public holidays of the Labour Code for ``year``, with days in lieu (Vietnamese names)."""
    return dict(holidays.country_holidays("VN", years=year, language="vi").items())


class WorkingCalendar:
    """Working days and hours from the statutory holidays and a set of decided days."""

    def __init__(self, decided: Iterable[DecidedDay] = (), hours: OfficeHours | None = None):
        self.decided = {row.day: row for row in decided}
        self.hours = hours or OfficeHours()
        self.decided_years = frozenset(day.year for day in self.decided)

    # Days --------------------------------------------------------------------------------

    def _note_year(self, year: int) -> None:
        if year in self.decided_years or year in _warned_years:
            return
        _warned_years.add(year)
        logger.warning(
            "No decided days off for %d: working days follow the statutory holidays only; "
            "add the year's notice with `tinhso calendar add`",
            year,
            extra={"event": "calendar.undecided_year", "year": year},
        )

    def is_working_day(self, day: date) -> bool:
        self._note_year(day.year)
        decided = self.decided.get(day)
        if decided is not None:
            return decided.kind is DayKind.WORKING
        return day.weekday() < 5 and day not in statutory_holidays(day.year)

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        current = start
        remaining = count
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def days_off(self, first: date, last: date) -> Iterator[tuple[date, str]]:
        """The weekday holidays and decided days off between two dates, with their names."""
        day = first
        while day <= last:
            decided = self.decided.get(day)
            if decided is not None and decided.kind is DayKind.OFF:
                yield day, decided.reason
            elif decided is None and day in statutory_holidays(day.year):
                yield day, statutory_holidays(day.year)[day]
            day += timedelta(days=1)

    # Hours -------------------------------------------------------------------------------

    def _periods_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Office periods (clipped to start at ``moment``) from ``moment`` on, endlessly."""
        day = moment.astimezone(VIETNAM).date()
        while True:
            if self.is_working_day(day):
                for start, end in self.hours.periods(day):
                    if end > moment:
                        yield max(start, moment), end
            day += timedelta(days=1)

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The moment ``hours`` of office time after ``start`` (aware), in Vietnam time."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        if remaining < timedelta():
            raise ValueError("hours must not be negative")
        moment = start.astimezone(VIETNAM)
        if not remaining:
            return moment
        for period_start, period_end in self._periods_from(moment):
            available = period_end - period_start
            if remaining <= available:
                return period_start + remaining
            remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    def working_hours_between(self, first: datetime, second: datetime) -> timedelta:
        """Office time between two aware moments (negative when ``second`` is earlier)."""
        if first.tzinfo is None or second.tzinfo is None:
            raise ValueError("moments must be timezone-aware")
        if second < first:
            return -self.working_hours_between(second, first)
        total = timedelta()
        for period_start, period_end in self._periods_from(first.astimezone(VIETNAM)):
            if period_start >= second:
                break
            total += min(period_end, second) - period_start
        return total

    # Coverage ----------------------------------------------------------------------------

    def decided_until(self) -> date | None:
        """The last day of the last year with a decided row (None: nothing decided)."""
        if not self.decided_years:
            return None
        return date(max(self.decided_years), 12, 31)

    def coverage_gap(self, today: date) -> CoverageGap | None:
        """What is missing when less than a year of decided coverage remains after ``today``."""
        until = self.decided_until()
        if until is not None and until - today >= timedelta(days=365):
            return None
        return CoverageGap(today=today, decided_until=until)


@dataclass(frozen=True)
class CoverageGap:
    today: date
    decided_until: date | None

    @property
    def first_missing_year(self) -> int:
        return self.decided_until.year + 1 if self.decided_until else self.today.year


def due_at_end_of_working_day(
    calendar: WorkingCalendar, submitted_at: datetime, working_days: int
) -> datetime:
    """The end (23:59:59, Vietnam time) of the ``working_days``-th working day after the day of
    ``submitted_at``, as an aware UTC datetime."""
    local_day = submitted_at.astimezone(VIETNAM).date()
    last_day = calendar.add_working_days(local_day, working_days)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=VIETNAM).astimezone(UTC)


# The shipped decisions ----------------------------------------------------------------------


def read_decisions(lines: Iterable[str]) -> list[DecidedDay]:
    """Decided days from CSV text (header: day,kind,reason,source,issuer,issued_on,url)."""
    return [
        DecidedDay(
            day=date.fromisoformat(row["day"]),
            kind=DayKind(row["kind"]),
            reason=row["reason"],
            source=row["source"],
            issuer=row["issuer"],
            issued_on=date.fromisoformat(row["issued_on"]) if row["issued_on"] else None,
            url=row.get("url") or "",
        )
        for row in csv.DictReader(lines)
    ]


@cache
def shipped_decisions() -> tuple[DecidedDay, ...]:
    """The decisions in ``core/data/calendar_decisions.csv`` (what a new database is seeded
    with)."""
    text = resources.files("tinhso.core").joinpath("data/calendar_decisions.csv")
    return tuple(read_decisions(text.read_text(encoding="utf-8").splitlines()))


@cache
def shipped_calendar() -> WorkingCalendar:
    """A calendar of the shipped decisions, for code that has no database session."""
    return WorkingCalendar(shipped_decisions())


# The database ---------------------------------------------------------------------------------


def load_calendar(session: Session, hours: OfficeHours | None = None) -> WorkingCalendar:
    """The calendar of the decided days stored in the database (control plane only)."""
    rows = session.scalars(select(CalendarDecidedDay).order_by(CalendarDecidedDay.day))
    return WorkingCalendar((_decided(row) for row in rows), hours)


def office_hours(settings: Settings) -> OfficeHours:
    return OfficeHours(
        morning_start=settings.office_morning_start,
        morning_end=settings.office_morning_end,
        afternoon_start=settings.office_afternoon_start,
        afternoon_end=settings.office_afternoon_end,
    )


def _decided(row: CalendarDecidedDay) -> DecidedDay:
    return DecidedDay(
        day=row.day,
        kind=DayKind(row.kind),
        reason=row.reason,
        source=row.source,
        issuer=row.issuer,
        issued_on=row.issued_on,
        url=row.url,
    )


# What the table holds (tinhso.core.models.CalendarDecidedDay).
DECIDED_TEXT_LIMITS = {"reason": 500, "source": 500, "issuer": 200, "url": 1000}


def decided_day_problems(decided: DecidedDay) -> list[FieldError]:
    """Why a decided day cannot be stored as given (empty: it can), field by field."""
    problems = [
        FieldError(name, Message("Trường này là bắt buộc", "This field is required"))
        for name in ("reason", "source", "issuer")
        if not getattr(decided, name).strip()
    ]
    problems += [
        FieldError(
            name,
            Message(f"Tối đa {limit} ký tự", f"At most {limit} characters"),
        )
        for name, limit in DECIDED_TEXT_LIMITS.items()
        if len(getattr(decided, name)) > limit
    ]
    if decided.url and not decided.url.startswith(("https://", "http://")):
        problems.append(
            FieldError(
                "url",
                Message(
                    "Đường dẫn phải bắt đầu bằng https:// hoặc http://",
                    "The link must start with https:// or http://",
                ),
            )
        )
    if decided.issued_on is not None and decided.issued_on > decided.day:
        problems.append(
            FieldError(
                "issued_on",
                Message(
                    "Ngày ban hành sau ngày được quyết định",
                    "The notice is dated after the day it decides",
                ),
            )
        )
    return problems


def save_decided_day(session: Session, decided: DecidedDay) -> bool:
    """Store (or replace) a decided day; True when the day was new. Refused (InvalidInput,
    every field's problem) when the row could not be stored as given."""
    problems = decided_day_problems(decided)
    if problems:
        raise InvalidInput(
            "Ngày quyết định không hợp lệ", "The decided day is not valid", errors=problems
        )
    row = session.get(CalendarDecidedDay, decided.day)
    new = row is None
    if row is None:
        row = CalendarDecidedDay(day=decided.day)
        session.add(row)
    row.kind = decided.kind.value
    row.reason = decided.reason
    row.source = decided.source
    row.issuer = decided.issuer
    row.issued_on = decided.issued_on
    row.url = decided.url
    session.flush()
    return new


def remove_decided_day(session: Session, day: date) -> bool:
    row = session.get(CalendarDecidedDay, day)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def load_shipped_decisions(session: Session) -> int:
    """Add the shipped decisions the database lacks (operators' rows are kept); the count added."""
    added = 0
    for decided in shipped_decisions():
        if session.get(CalendarDecidedDay, decided.day) is None:
            save_decided_day(session, decided)
            added += 1
    return added
