"""The demo's alert rules open alerts on the demo's own values (on both databases)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tests.portal.monitoring.support import load_demo
from tinhso.monitoring.alerts.models import Alert, AlertRule, AlertState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def test_the_demo_has_two_rules_with_open_alerts(sessions: sessionmaker[Session]) -> None:
    load_demo(sessions)
    load_demo(sessions)  # idempotent: no second rule, no second alert
    with sessions() as session:
        assert len(session.scalars(select(AlertRule)).all()) == 2
        alerts = session.execute(select(Alert.state, Alert.value_seen).order_by(Alert.id)).all()
    assert [state for state, _ in alerts] == [AlertState.OPEN, AlertState.OPEN]
    assert all(value is not None and value < 50 for _, value in alerts)
