"""When a job is due next: every N minutes, daily at hh:mm, or monthly on a day at hh:mm.

Daily and monthly times are Vietnam time (UTC+7, no daylight saving since 1975); every
moment given or returned is an aware UTC datetime. A monthly day beyond a month's length
(31 in February) runs on that month's last day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from tinhso.core.calendar import VIETNAM

_EVERY = re.compile(r"every (\d{1,5})m")
_DAILY = re.compile(r"daily (\d{2}):(\d{2})")
_MONTHLY = re.compile(r"monthly (\d{1,2}) (\d{2}):(\d{2})")


class InvalidSchedule(ValueError):
    """A schedule text that is not ``every Nm``, ``daily hh:mm`` or ``monthly d hh:mm``."""


@dataclass(frozen=True)
class Schedule:
    kind: Literal["every", "daily", "monthly"]
    minutes: int = 0
    at: time = time(0, 0)
    day: int = 1

    @classmethod
    def every(cls, minutes: int) -> Schedule:
        if not 1 <= minutes <= 60 * 24 * 31:
            msg = f"every: minutes must be 1..44640, not {minutes}"
            raise InvalidSchedule(msg)
        return cls("every", minutes=minutes)

    @classmethod
    def daily(cls, hour: int, minute: int = 0) -> Schedule:
        return cls("daily", at=_time(hour, minute))

    @classmethod
    def monthly(cls, day: int, hour: int = 0, minute: int = 0) -> Schedule:
        if not 1 <= day <= 31:
            msg = f"monthly: day must be 1..31, not {day}"
            raise InvalidSchedule(msg)
        return cls("monthly", at=_time(hour, minute), day=day)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``every 5m``, ``daily 06:30`` or ``monthly 1 07:00`` (what :meth:`text` writes)."""
        if match := _EVERY.fullmatch(text):
            return cls.every(int(match[1]))
        if match := _DAILY.fullmatch(text):
            return cls.daily(int(match[1]), int(match[2]))
        if match := _MONTHLY.fullmatch(text):
            return cls.monthly(int(match[1]), int(match[2]), int(match[3]))
        msg = f"not a schedule: {text!r} (every Nm, daily hh:mm, monthly d hh:mm)"
        raise InvalidSchedule(msg)

    def text(self) -> str:
        if self.kind == "every":
            return f"every {self.minutes}m"
        if self.kind == "daily":
            return f"daily {self.at:%H:%M}"
        return f"monthly {self.day} {self.at:%H:%M}"

    def describe(self, lang: str) -> str:
        """The schedule in words, in one language (``vi`` or ``en``)."""
        at = f"{self.at:%H:%M}"
        if self.kind == "every":
            return f"mỗi {self.minutes} phút" if lang == "vi" else f"every {self.minutes} min"
        if self.kind == "daily":
            return f"hằng ngày lúc {at}" if lang == "vi" else f"daily at {at}"
        if lang == "vi":
            return f"ngày {self.day} hằng tháng lúc {at}"
        return f"monthly on day {self.day} at {at}"

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after ``moment`` (aware) that the schedule names, in UTC."""
        if moment.tzinfo is None:
            msg = "naive datetime given; use timezone-aware datetimes"
            raise ValueError(msg)
        if self.kind == "every":
            return (moment + timedelta(minutes=self.minutes)).astimezone(UTC)
        local = moment.astimezone(VIETNAM)
        if self.kind == "daily":
            candidate = datetime.combine(local.date(), self.at, VIETNAM)
            if candidate <= local:
                candidate += timedelta(days=1)
            return candidate.astimezone(UTC)
        candidate = self._in_month(local.year, local.month)
        if candidate <= local:
            year, month = (
                (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            )
            candidate = self._in_month(year, month)
        return candidate.astimezone(UTC)

    def interval(self) -> timedelta:
        """About how long between two runs (a bound for retry back-off)."""
        if self.kind == "every":
            return timedelta(minutes=self.minutes)
        return timedelta(days=1) if self.kind == "daily" else timedelta(days=28)

    def _in_month(self, year: int, month: int) -> datetime:
        day = min(self.day, calendar.monthrange(year, month)[1])
        return datetime(year, month, day, self.at.hour, self.at.minute, tzinfo=VIETNAM)


def _time(hour: int, minute: int) -> time:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        msg = f"not a time of day: {hour:02d}:{minute:02d}"
        raise InvalidSchedule(msg)
    return time(hour, minute)
