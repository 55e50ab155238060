"""``missing_value`` rules wait ``due_days`` working days of the one working calendar
(``core.calendar``: weekends, public holidays, the decided days in the database) after the
period's end, on both databases. The dates are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from tests.monitoring.alerts.conftest import YEN_DUNG, add_rule
from tinhso.core.calendar import (
    VIETNAM,
    DayKind,
    DecidedDay,
    load_shipped_decisions,
    save_decided_day,
)
from tinhso.monitoring.alerts.service import alert_service, missing_value_due

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

pytestmark = pytest.mark.usefixtures("world")


def _opened(sessions: sessionmaker[Session], year: int, month: int, day: int) -> int:
    """Alerts opened by an evaluation at the first minute of a day (Vietnam time)."""
    moment = datetime(year, month, day, 0, 1, tzinfo=VIETNAM).astimezone(UTC)
    with sessions.begin() as session:
        return alert_service.evaluate(session, moment).opened


def _missing_rule(sessions: sessionmaker[Session], period: str, due_days: int) -> None:
    add_rule(
        sessions,
        code="thieu-so-lieu",
        kind="missing_value",
        scope_unit={"unit_set": "current", "code": YEN_DUNG},
        scope_level=None,
        period=period,
        due_days=due_days,
    )


def test_due_dates_skip_weekends_tet_and_decided_days(sessions: sessionmaker[Session]) -> None:
    # Rolled back at the end: the decided days are reference data kept between tests.
    with sessions() as session:
        load_shipped_decisions(session)
        # March 2026 ends on Tuesday 31/03: Wed 01/04 (1), Thu 02/04 (2), Fri 03/04 (3), the
        # weekend, Mon 06/04 (4). Calendar days would have said Saturday 04/04.
        assert missing_value_due(session, "2026-03", 4) == date(2026, 4, 6)
        # January 2026 ends on Saturday 31/01: 02–06/02 (5), 09–13/02 (10), then Tết Bính Ngọ
        # (off from Saturday 14/02 to Sunday 22/02, the decided days): Monday 23/02 (11).
        assert missing_value_due(session, "2026-01", 10) == date(2026, 2, 13)
        assert missing_value_due(session, "2026-01", 11) == date(2026, 2, 23)
        # 2025 ends on Wednesday 31/12: New Year's Day off, Fri 02/01 (1), Mon 05/01 (2).
        assert missing_value_due(session, "2025", 2) == date(2026, 1, 5)
        # A day off decided in the database moves the due date: Monday 06/04 off → Tue 07/04.
        save_decided_day(
            session,
            DecidedDay(
                date(2026, 4, 6),
                DayKind.OFF,
                "Nghỉ bù (thử nghiệm)",
                "Quyết định thử nghiệm",
                "UBND tỉnh",
            ),
        )
        assert missing_value_due(session, "2026-03", 4) == date(2026, 4, 7)
        assert missing_value_due(session, "2026-03", 0) == date(2026, 3, 31)
        session.rollback()


def test_a_missing_value_alert_waits_through_tet(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        load_shipped_decisions(session)
    # 2025 ends on Wed 31/12. Working days: Fri 02/01 (1), 05–09/01 (6), 12–16/01 (11),
    # 19–23/01 (16), 26–30/01 (21), 02–06/02 (26), 09–13/02 (31), then Tết (14–22/02 off):
    # Monday 23/02 is the 32nd, the due date. Calendar days would have said 01/02.
    _missing_rule(sessions, "2025", 32)
    assert _opened(sessions, 2026, 2, 2) == 0
    assert _opened(sessions, 2026, 2, 20) == 0  # in Tết
    assert _opened(sessions, 2026, 2, 23) == 0  # the due date itself
    assert _opened(sessions, 2026, 2, 24) == 1  # the day after
