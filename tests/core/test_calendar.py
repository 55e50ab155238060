"""The working-day calendar: statutory holidays for any year, decided days, office hours."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tinhso.core import calendar as calendar_module
from tinhso.core.calendar import (
    VIETNAM,
    DayKind,
    DecidedDay,
    OfficeHours,
    WorkingCalendar,
    load_calendar,
    office_hours,
    remove_decided_day,
    save_decided_day,
    shipped_calendar,
    shipped_decisions,
    statutory_holidays,
)
from tinhso.core.config import Settings

SHIPPED = shipped_calendar()
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def _decided(day: date, kind: DayKind) -> DecidedDay:
    return DecidedDay(day, kind, "test", "Thông báo thử 1/TB-TEST", "Bộ thử", date(2024, 1, 1))


# Statutory holidays, any year ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "tet_days"),
    [
        # Last day of the lunar year and mùng 1–4 (mùng 1: 29/01/2025, 17/02/2026, 06/02/2027).
        (2025, [date(2025, 1, 28), date(2025, 1, 29), date(2025, 1, 30), date(2025, 1, 31)]),
        (2026, [date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18), date(2026, 2, 20)]),
        (2027, [date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 9)]),
        (2031, [date(2031, 1, 22), date(2031, 1, 23), date(2031, 1, 27)]),  # mùng 1: 23/01
    ],
)
def test_tet_is_computed_from_the_lunar_calendar(year: int, tet_days: list[date]) -> None:
    off = statutory_holidays(year)
    assert all(day in off for day in tet_days)


@pytest.mark.parametrize(
    "hung_kings",
    [date(2025, 4, 7), date(2026, 4, 26), date(2027, 4, 16), date(2030, 4, 12)],
)
def test_hung_kings_day_is_10_3_lunar(hung_kings: date) -> None:
    assert hung_kings in statutory_holidays(hung_kings.year)


def test_holiday_on_a_weekend_gives_a_day_in_lieu() -> None:
    # 10/3 Bính Ngọ is Sunday 26/04/2026: Monday 27/04 is off instead.
    assert not SHIPPED.is_working_day(date(2026, 4, 27))
    # 01/05/2027 is a Saturday: Monday 03/05/2027.
    assert not WorkingCalendar().is_working_day(date(2027, 5, 3))


@given(year=st.integers(min_value=2021, max_value=2099))
def test_every_year_has_the_fixed_holidays(year: int) -> None:
    off = statutory_holidays(year)
    for day in (date(year, 1, 1), date(year, 4, 30), date(year, 5, 1), date(year, 9, 2)):
        assert day in off
    # 2/9 and one adjacent day (1/9 or 3/9).
    assert date(year, 9, 1) in off or date(year, 9, 3) in off
    # Tết: at least five days between 20/01 and 21/02.
    assert sum(1 for day in off if date(year, 1, 20) <= day <= date(year, 2, 21)) >= 5


# Decided days -------------------------------------------------------------------------------


def test_decided_days_override_the_statutory_rules() -> None:
    saturday, monday = date(2030, 6, 1), date(2030, 6, 3)
    plain = WorkingCalendar()
    decided = WorkingCalendar([_decided(saturday, DayKind.WORKING), _decided(monday, DayKind.OFF)])
    assert not plain.is_working_day(saturday) and plain.is_working_day(monday)
    assert decided.is_working_day(saturday) and not decided.is_working_day(monday)
    assert decided.add_working_days(date(2030, 5, 31), 1) == saturday
    assert decided.add_working_days(saturday, 1) == date(2030, 6, 4)


def test_shipped_decisions_name_their_source() -> None:
    rows = shipped_decisions()
    assert rows
    for row in rows:
        assert row.source and row.issuer and row.reason and row.url
        assert row.kind is DayKind.OFF or row.day.weekday() >= 5  # make-up days are weekends


def test_the_shipped_table_covers_the_current_year() -> None:
    assert date.today().year in SHIPPED.decided_years  # noqa: DTZ011 - the year the suite runs


def test_tet_binh_ngo_2026_is_off_14_to_22_february() -> None:
    assert [SHIPPED.is_working_day(date(2026, 2, d)) for d in range(13, 24)] == [
        True,
        *([False] * 9),
        True,
    ]


# No silent cliff ---------------------------------------------------------------------------


def test_a_year_without_decisions_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    calendar_module._warned_years.discard(2093)
    calendar = WorkingCalendar([_decided(date(2092, 1, 2), DayKind.OFF)])
    with caplog.at_level(logging.WARNING, logger="tinhso.core.calendar"):
        calendar.add_working_days(date(2093, 3, 2), 10)
        WorkingCalendar().is_working_day(date(2093, 7, 1))
        calendar.is_working_day(date(2092, 5, 5))
    warnings = [r for r in caplog.records if "2093" in r.getMessage()]
    assert len(warnings) == 1
    assert not [r for r in caplog.records if "2092" in r.getMessage()]


def test_coverage_check_with_injected_dates() -> None:
    until_2026 = WorkingCalendar([_decided(date(2026, 8, 31), DayKind.OFF)])
    assert until_2026.decided_until() == date(2026, 12, 31)
    assert until_2026.coverage_gap(date(2025, 3, 1)) is None
    gap = until_2026.coverage_gap(date(2026, 12, 5))
    assert gap is not None and gap.first_missing_year == 2027
    assert until_2026.coverage_gap(date(2025, 12, 31)) is None  # exactly 365 days left
    assert until_2026.coverage_gap(date(2026, 1, 1)) is not None  # 364 days left
    empty_gap = WorkingCalendar().coverage_gap(date(2026, 5, 5))
    assert empty_gap is not None and empty_gap.first_missing_year == 2026


# Working days: properties ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(start=days, count=st.integers(min_value=1, max_value=40))
def test_add_working_days_lands_on_a_working_day(start: date, count: int) -> None:
    due = SHIPPED.add_working_days(start, count)
    assert SHIPPED.is_working_day(due)
    assert due > start
    # exactly `count` working days in (start, due]
    span = [start + timedelta(days=n) for n in range(1, (due - start).days + 1)]
    assert sum(SHIPPED.is_working_day(day) for day in span) == count


@settings(max_examples=200, deadline=None)
@given(start=days, count=st.integers(min_value=0, max_value=30), more=st.integers(1, 10))
def test_add_working_days_is_monotonic(start: date, count: int, more: int) -> None:
    assert SHIPPED.add_working_days(start, count) < SHIPPED.add_working_days(start, count + more)


# Working hours ------------------------------------------------------------------------------


def _vn(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


def test_add_working_hours_skips_lunch_nights_and_weekends() -> None:
    calendar = WorkingCalendar()  # 07:30–11:30, 13:00–17:00
    assert calendar.add_working_hours(_vn(2030, 6, 3, 10, 0), 1) == _vn(2030, 6, 3, 11, 0)
    assert calendar.add_working_hours(_vn(2030, 6, 3, 11, 0), 1) == _vn(2030, 6, 3, 13, 30)
    # Friday 16:00 + 2 h: 1 h on Friday, then Monday 07:30 + 1 h.
    assert calendar.add_working_hours(_vn(2030, 6, 7, 16, 0), 2) == _vn(2030, 6, 10, 8, 30)
    # Before office hours and at night.
    assert calendar.add_working_hours(_vn(2030, 6, 3, 5, 0), 4) == _vn(2030, 6, 3, 11, 30)
    # A full day (8 h) from Monday night ends with Tuesday's office hours.
    assert calendar.add_working_hours(_vn(2030, 6, 3, 20, 0), 8) == _vn(2030, 6, 4, 17, 0)
    assert calendar.add_working_hours(_vn(2030, 6, 3, 20, 0), 8.5) == _vn(2030, 6, 5, 8, 0)
    # UTC input, answer in Vietnam time.
    due = calendar.add_working_hours(datetime(2030, 6, 3, 3, 0, tzinfo=UTC), 0.5)
    assert due == _vn(2030, 6, 3, 10, 30)


def test_working_hours_skip_holidays() -> None:
    # Thursday 29/04/2027 16:00 + 3 h: 30/04 (Fri) holiday, weekend, 03/05 in lieu of 01/05.
    due = WorkingCalendar().add_working_hours(_vn(2027, 4, 29, 16, 0), 3)
    assert due == _vn(2027, 5, 4, 9, 30)


def test_office_hours_are_settings() -> None:
    hours = OfficeHours(time(8, 0), time(11, 30), time(13, 30), time(17, 0))
    assert hours.per_day == timedelta(hours=7)
    assert WorkingCalendar(hours=hours).add_working_hours(_vn(2030, 6, 3, 7, 0), 1) == _vn(
        2030, 6, 3, 9, 0
    )
    with pytest.raises(ValueError, match="office hours"):
        OfficeHours(time(13, 0), time(11, 0), time(13, 0), time(17, 0))


moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(VIETNAM),
)


@settings(max_examples=150, deadline=None)
@given(start=moments, minutes=st.integers(min_value=0, max_value=60 * 200))
def test_hours_between_inverts_add_working_hours(start: datetime, minutes: int) -> None:
    due = SHIPPED.add_working_hours(start, timedelta(minutes=minutes))
    assert due >= start
    assert SHIPPED.working_hours_between(start, due) == timedelta(minutes=minutes)
    assert SHIPPED.working_hours_between(due, start) == -timedelta(minutes=minutes)


def test_a_day_of_office_hours() -> None:
    monday = WorkingCalendar().working_hours_between(_vn(2030, 6, 3, 0, 0), _vn(2030, 6, 4, 0, 0))
    assert monday == timedelta(hours=8) == OfficeHours().per_day
    week = WorkingCalendar().working_hours_between(_vn(2030, 6, 3, 0, 0), _vn(2030, 6, 10, 0, 0))
    assert week == 5 * monday


# The database and the CLI -------------------------------------------------------------------


def test_the_migration_seeds_the_shipped_decisions(session: Session) -> None:
    stored = load_calendar(session)
    assert set(stored.decided.values()) == set(shipped_decisions())


def test_decided_days_are_stored_and_removed(session: Session) -> None:
    day = date(2099, 1, 2)
    try:
        assert save_decided_day(session, _decided(day, DayKind.OFF))
        assert not save_decided_day(session, _decided(day, DayKind.OFF))
        assert not load_calendar(session).is_working_day(day)
    finally:
        assert remove_decided_day(session, day)
        session.commit()
    assert load_calendar(session).is_working_day(day)
    assert not remove_decided_day(session, day)


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))


def test_cli_add_list_check_remove(settings_env: None) -> None:
    from tinhso.cli import app  # noqa: PLC0415

    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "calendar",
            "add",
            "04/01/2099",
            "--kind",
            "off",
            "--reason",
            "Nghỉ thử",
            "--source",
            "Thông báo 1/TB-TEST",
            "--issuer",
            "Bộ thử",
            "--issued-on",
            "01/12/2098",
        ],
    )
    try:
        assert added.exit_code == 0, added.output
        listed = runner.invoke(app, ["calendar", "list", "--year", "2099"])
        assert "04/01/2099 nghỉ / off: Nghỉ thử — Thông báo 1/TB-TEST" in listed.output
        assert "01/01/2099 nghỉ lễ / holiday" in listed.output
        ok = runner.invoke(app, ["calendar", "check", "--today", "01/03/2097"])
        assert ok.exit_code == 0, ok.output
        assert "31/12/2099" in ok.output
        short = runner.invoke(app, ["calendar", "check", "--today", "05/12/2099"])
        assert short.exit_code == 1
        assert "Thiếu lịch nghỉ năm 2100" in short.output
        bad = runner.invoke(app, ["calendar", "add", "2099-01-04", "--kind", "off",
                                  "--reason", "x", "--source", "x", "--issuer", "x"])  # fmt: skip
        assert bad.exit_code != 0
        too_long = runner.invoke(app, ["calendar", "add", "05/01/2099", "--kind", "off",
                                       "--reason", "x" * 501, "--source", "x", "--issuer", "x",
                                       "--url", "ftp://x"])  # fmt: skip
        assert too_long.exit_code == 1
        assert "[reason] Tối đa 500 ký tự / At most 500 characters" in too_long.output
        assert "[url]" in too_long.output
        assert "Lỗi [reason, url]: Ngày quyết định không hợp lệ" in too_long.output
    finally:
        removed = runner.invoke(app, ["calendar", "remove", "04/01/2099"])
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(app, ["calendar", "remove", "04/01/2099"])
    assert again.exit_code == 1
    assert "Không có ngày 04/01/2099" in again.output


def test_office_hours_come_from_the_settings() -> None:
    configured = Settings(
        _env_file=None,
        office_morning_start=time(8, 0),
        office_afternoon_start=time(13, 30),
    )
    hours = office_hours(configured)
    assert hours == OfficeHours(time(8, 0), time(11, 30), time(13, 30), time(17, 0))
    assert office_hours(Settings(_env_file=None)) == OfficeHours()
