"""Schedules: the next due time, in Vietnam time for daily and monthly ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinhso.core.calendar import VIETNAM
from tinhso.core.jobs.schedule import InvalidSchedule, Schedule

moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2035, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
schedules = st.one_of(
    st.integers(1, 60 * 24).map(Schedule.every),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: Schedule.daily(*t)),
    st.tuples(st.integers(1, 31), st.integers(0, 23), st.integers(0, 59)).map(
        lambda t: Schedule.monthly(*t)
    ),
)


@given(schedule=schedules, moment=moments)
def test_the_next_time_is_after_the_moment_and_at_the_named_time(
    schedule: Schedule, moment: datetime
) -> None:
    following = schedule.next_after(moment)
    assert following > moment
    assert following.tzinfo is not None
    local = following.astimezone(VIETNAM)
    if schedule.kind == "every":
        assert following - moment == timedelta(minutes=schedule.minutes)
    else:
        assert (local.hour, local.minute, local.second) == (schedule.at.hour, schedule.at.minute, 0)
        assert following - moment <= (
            timedelta(days=1) if schedule.kind == "daily" else timedelta(days=62)
        )
    if schedule.kind == "monthly":
        assert local.day == schedule.day or (
            local.day < schedule.day and (local + timedelta(days=1)).day == 1
        )


@given(schedule=schedules)
def test_a_schedule_reads_back_from_its_text(schedule: Schedule) -> None:
    assert Schedule.parse(schedule.text()) == schedule


def test_daily_and_monthly_times_are_vietnam_time() -> None:
    # 23:30 UTC on 31/01 is 06:30 on 01/02 in Vietnam: a daily 06:30 job is due then.
    moment = datetime(2026, 1, 31, 23, 29, tzinfo=UTC)
    assert Schedule.daily(6, 30).next_after(moment) == datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    # Day 31 in February runs on its last day; in March on the 31st.
    monthly = Schedule.monthly(31, 7)
    feb = monthly.next_after(datetime(2026, 2, 1, tzinfo=UTC))
    assert feb.astimezone(VIETNAM).date().isoformat() == "2026-02-28"
    assert monthly.next_after(feb).astimezone(VIETNAM).date().isoformat() == "2026-03-31"


@pytest.mark.parametrize("text", ["every 0m", "daily 24:00", "monthly 32 07:00", "hourly", ""])
def test_a_bad_schedule_is_refused(text: str) -> None:
    with pytest.raises(InvalidSchedule):
        Schedule.parse(text)


def test_schedules_are_described_in_one_language_each() -> None:
    assert Schedule.daily(6, 30).describe("vi") == "hằng ngày lúc 06:30"
    assert Schedule.daily(6, 30).describe("en") == "daily at 06:30"
    assert Schedule.monthly(1, 7).describe("vi") == "ngày 1 hằng tháng lúc 07:00"
