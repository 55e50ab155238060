"""Field report figures flow into monitoring as values of six monthly elements, per commune,
through the monitoring domain's value service; publishing again corrects, never duplicates;
a month that has not ended is refused."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.reports.conftest import OTHER_COMMUNE, WARD
from tinhso.core.calendar import VIETNAM, shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.errors import InvalidInput
from tinhso.monitoring.models import DataElement, DataValue
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.units import unit_service
from tinhso.reports.figures import indicators
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel
from tinhso.reports.service import Step, Submission, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.reports.conftest import ReportsWorld

CALENDAR = shipped_calendar()
POLICY = DeadlinePolicy.from_settings(ReportsSection())
NOVEMBER = datetime(2026, 11, 9, 9, 0, tzinfo=VIETNAM)  # a Monday


def _values(session: Session, unit_code: str) -> dict[str, float]:
    unit = unit_service.get(session, UnitSet.CURRENT, unit_code)
    rows = session.execute(
        select(DataElement.code, DataValue.value)
        .join(DataElement, DataElement.id == DataValue.data_element_id)
        .where(DataValue.unit_id == unit.id, DataValue.period == "2026-11")
    )
    return {code: float(value) for code, value in rows}


def test_a_month_of_reports_becomes_monitoring_values(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    with sessions.begin() as session:
        acting = principal_of(session, account_service.get(session, officer))
        codes = [
            report_service.submit(
                session,
                Submission(
                    category_code="dien-nuoc",
                    description="Mất điện",
                    channel=Channel.WEB,
                    unit_code=unit,
                ),
                CALENDAR,
                POLICY,
                now=NOVEMBER,
            ).report
            for unit in (WARD, WARD, WARD, OTHER_COMMUNE)
        ]
        first, second = codes[0].code, codes[1].code
        report_service.act(session, acting, first, Step(Action.ACCEPT), CALENDAR, POLICY, NOVEMBER)
        report_service.act(
            session,
            acting,
            first,
            Step(Action.ANSWER, "Xong"),
            CALENDAR,
            POLICY,
            NOVEMBER.replace(hour=10),
        )  # on time (urgent: 4 working hours)
        report_service.act(session, acting, second, Step(Action.ACCEPT), CALENDAR, POLICY, NOVEMBER)
        report_service.act(
            session,
            acting,
            second,
            Step(Action.ANSWER, "Xong"),
            CALENDAR,
            POLICY,
            datetime(2026, 11, 12, 9, 0, tzinfo=VIETNAM),
        )  # days late
        assert indicators.publish_month(session, date(2026, 11, 1)) == 12
    with sessions() as session:
        ward = _values(session, WARD)
        assert ward == {
            "field_reports_received": 3,
            "field_reports_handled": 2,
            "field_reports_on_time": 1,
            "field_reports_late": 2,  # one answered late, one never accepted
            "field_reports_rated": 0,
            "field_reports_satisfied": 0,
        }
        assert _values(session, OTHER_COMMUNE)["field_reports_received"] == 1
    with sessions.begin() as session:  # again: nothing changed, nothing written twice
        assert indicators.publish_month(session, date(2026, 11, 1)) == 0
        with pytest.raises(InvalidInput):
            indicators.publish_month(session, indicators.previous_month(date(2099, 1, 15)))
    with sessions() as session:
        assert session.query(DataValue).count() == 12


def test_previous_month() -> None:
    assert indicators.previous_month(date(2026, 12, 4)) == date(2026, 11, 1)
    assert indicators.previous_month(date(2027, 1, 1)) == date(2026, 12, 1)
