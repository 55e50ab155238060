"""Evaluating alert rules, on both databases: each kind opens an alert for the unit whose
condition holds, one open alert per (rule, unit, period) however often it runs, the alert
resolves when the condition clears and opens again only once the cool-down has passed, and
the unit's officials get one e-mail per opening."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.monitoring.alerts.conftest import (
    DA_MAI,
    INDICATOR,
    OFFICIAL_EMAIL,
    VIET_YEN,
    YEN_DUNG,
    add_rule,
    record,
)
from tinhso.core.db import utcnow
from tinhso.core.jobs.models import ScheduledJob
from tinhso.core.jobs.runner import JobRunner
from tinhso.core.models import OutgoingMail
from tinhso.monitoring.alerts import ALERTS_JOB
from tinhso.monitoring.alerts.job import alerts_job
from tinhso.monitoring.alerts.models import Alert, AlertRule, AlertState
from tinhso.monitoring.alerts.schemas import RuleUpdate
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import TargetCreate
from tinhso.registry.models import AdministrativeUnit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

pytestmark = pytest.mark.usefixtures("world")


def _evaluate(sessions: sessionmaker[Session], now: datetime | None = None) -> tuple[int, int]:
    with sessions.begin() as session:
        done = alert_service.evaluate(session, now)
    return done.opened, done.resolved


def _alerts(sessions: sessionmaker[Session]) -> list[tuple[str, str, AlertState, float | None]]:
    with sessions() as session:
        rows = session.execute(
            select(AdministrativeUnit.code, Alert.period, Alert.state, Alert.value_seen)
            .join(AdministrativeUnit, AdministrativeUnit.id == Alert.unit_id)
            .order_by(Alert.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _mails(sessions: sessionmaker[Session]) -> list[OutgoingMail]:
    with sessions() as session:
        return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def test_behind_trajectory_opens_once_resolves_and_respects_the_cool_down(
    sessions: sessionmaker[Session],
) -> None:
    add_rule(sessions, cooldown_hours=24)
    assert _evaluate(sessions) == (1, 0)
    assert _alerts(sessions) == [(VIET_YEN, "2025", AlertState.OPEN, 45.0)]
    with sessions() as session:
        assert session.scalar(select(Alert.status_seen)) == "behind"
    assert _evaluate(sessions) == (0, 0)  # de-duplicated
    assert len(_alerts(sessions)) == 1

    record(sessions, [(VIET_YEN, "2025", 52)])  # back on track
    assert _evaluate(sessions) == (0, 1)
    assert _alerts(sessions)[0][2] is AlertState.RESOLVED

    record(sessions, [(VIET_YEN, "2025", 44)])  # behind again, within the cool-down
    assert _evaluate(sessions) == (0, 0)
    assert _evaluate(sessions, utcnow() + timedelta(hours=23)) == (0, 0)
    assert _evaluate(sessions, utcnow() + timedelta(hours=25)) == (1, 0)
    assert [row[2:] for row in _alerts(sessions)] == [
        (AlertState.RESOLVED, 45.0),
        (AlertState.OPEN, 44.0),
    ]


def test_not_achieved_is_off_track_too_and_on_track_units_stay_quiet(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:  # Đa Mai alone must reach 70 in 2025: 55 is không đạt
        plan_service.add_target(
            session,
            plan_service.get(session, "kh-canh-bao"),
            TargetCreate.model_validate(
                {
                    "indicator_code": INDICATOR,
                    "scope_unit": {"unit_set": "current", "code": DA_MAI},
                    "year": 2025,
                    "comparison": ">=",
                    "target_value": 70,
                }
            ),
        )
    record(sessions, [(VIET_YEN, "2025", 51)])  # on track
    add_rule(sessions)
    assert _evaluate(sessions) == (1, 0)
    with sessions() as session:
        assert session.scalar(select(Alert.status_seen)) == "not_achieved"
    assert [row[0] for row in _alerts(sessions)] == [DA_MAI]


def test_a_threshold_rule_opens_when_the_value_crosses_and_resolves_when_it_does_not(
    sessions: sessionmaker[Session],
) -> None:
    add_rule(
        sessions,
        code="duoi-50",
        kind="threshold",
        operator="<",
        threshold=50,
        scope_unit={"unit_set": "current", "code": VIET_YEN},
        scope_level=None,
        cooldown_hours=0,
    )
    assert _evaluate(sessions) == (1, 0)
    assert _alerts(sessions) == [(VIET_YEN, "2025", AlertState.OPEN, 45.0)]
    record(sessions, [(VIET_YEN, "2025", 50)])
    assert _evaluate(sessions) == (0, 1)
    record(sessions, [(VIET_YEN, "2025", 49.5)])
    assert _evaluate(sessions) == (1, 0)  # no cool-down: opens again at once
    assert len(_alerts(sessions)) == 2


def test_a_threshold_over_a_level_checks_every_unit(sessions: sessionmaker[Session]) -> None:
    add_rule(sessions, code="tren-50", kind="threshold", operator=">=", threshold=50)
    assert _evaluate(sessions) == (1, 0)
    assert [row[0] for row in _alerts(sessions)] == [DA_MAI]


def test_the_units_officials_are_mailed_once_per_opening_in_vietnamese_then_english(
    sessions: sessionmaker[Session],
) -> None:
    add_rule(sessions, cooldown_hours=0)
    _evaluate(sessions)
    _evaluate(sessions)
    mails = _mails(sessions)
    assert [m.recipient for m in mails] == [OFFICIAL_EMAIL]
    subject, body = mails[0].subject, mails[0].body
    assert subject.startswith("Cảnh báo: Tỷ lệ hộ có cáp quang – ")
    assert body.index("Chậm tiến độ") < body.index("Behind schedule")
    assert "45,00" in body and "45.00" in body
    assert mails[0].link_path == f"/monitoring/alerts?unit=current:{VIET_YEN}"
    record(sessions, [(VIET_YEN, "2025", 52)])
    _evaluate(sessions)
    record(sessions, [(VIET_YEN, "2025", 41)])
    _evaluate(sessions)
    assert len(_mails(sessions)) == 2  # a second opening, a second mail


def test_a_disabled_rule_opens_nothing(sessions: sessionmaker[Session]) -> None:
    add_rule(sessions, enabled=False)
    assert _evaluate(sessions) == (0, 0)
    with sessions.begin() as session:
        rule = session.scalars(select(AlertRule)).one()
        alert_service.update_rule(session, rule, RuleUpdate(enabled=True))
    assert _evaluate(sessions) == (1, 0)


def test_the_job_runs_the_evaluation_and_value_writes_make_it_due(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    add_rule(sessions)
    runner = JobRunner(engine, [alerts_job(engine)])
    runner.register()
    with sessions.begin() as session:
        job = session.scalars(select(ScheduledJob).where(ScheduledJob.name == ALERTS_JOB)).one()
        job.next_run_at = utcnow() + timedelta(days=1)
    record(sessions, [(DA_MAI, "2025", 56)])
    assert ALERTS_JOB in runner.due(utcnow() + timedelta(seconds=1))
    outcomes = asyncio.run(runner.run_due())
    assert [(o.job, o.status) for o in outcomes] == [(ALERTS_JOB, "succeeded")]
    assert len(_alerts(sessions)) == 1


def test_a_missing_value_opens_only_after_the_due_date_and_resolves_when_reported(
    sessions: sessionmaker[Session],
) -> None:
    # Yên Dũng has no 2025 value; Việt Yên has one.
    for code, unit in (("thieu-yen-dung", YEN_DUNG), ("thieu-viet-yen", VIET_YEN)):
        add_rule(
            sessions,
            code=code,
            kind="missing_value",
            scope_unit={"unit_set": "current", "code": unit},
            scope_level=None,
            due_days=5,
        )
    # 2025 ends on Wed 31/12; 5 working days: Thu 01/01 is New Year's Day, then Fri 02/01,
    # Mon 05/01 to Thu 08/01: due 08/01/2026 (Vietnam time, UTC+7).
    assert _evaluate(sessions, datetime(2026, 1, 8, 16, 0, tzinfo=UTC)) == (0, 0)
    assert _evaluate(sessions, datetime(2026, 1, 8, 17, 0, tzinfo=UTC)) == (1, 0)
    assert _alerts(sessions) == [(YEN_DUNG, "2025", AlertState.OPEN, 0.0)]
    record(sessions, [(YEN_DUNG, "2025", 30)])
    assert _evaluate(sessions, datetime(2026, 1, 10, tzinfo=UTC)) == (0, 1)
