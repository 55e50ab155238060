"""Field reports in the operations centre, through monitoring's extension point
(``monitoring.field_reports``), on both databases: the live counts per unit (a commune, the
province over its communes), the ``reports_late_share`` alert rule (opens when the late share
crosses the threshold, resolves when it drops, never twice for one window, waits out its
cool-down, mails the unit's officials), refused without the reports domain's figures, and the
dashboards' ``field_reports`` panel for the province and a commune.

Every moment is November 2026 (Vietnam time), in the past, so the late judgement of open
reports (at the window's end, or now) is the window's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from tests.reports.conftest import OTHER_COMMUNE, PROVINCE, WARD
from tinhso.core.calendar import VIETNAM, shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.errors import InvalidInput
from tinhso.core.models import OutgoingMail
from tinhso.monitoring import field_reports
from tinhso.monitoring.alerts.models import Alert, AlertState
from tinhso.monitoring.alerts.schemas import RuleCreate
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.dashboards.panel_data import Scope, panels_data
from tinhso.monitoring.dashboards.schemas import FieldReportsSettings, PanelKind
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.units import unit_service
from tinhso.reports.figures.provider import FIGURES
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel
from tinhso.reports.service import Step, Submission, report_service

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.reports.conftest import ReportsWorld

CALENDAR = shipped_calendar()
POLICY = DeadlinePolicy.from_settings(ReportsSection())
MONDAY = datetime(2026, 11, 9, 9, 0, tzinfo=VIETNAM)
OFFICIAL_EMAIL = "pho-chu-tich@vietyen.example.vn"


@pytest.fixture
def figures() -> Iterator[None]:
    previous = field_reports.register(FIGURES)
    yield
    field_reports.register(previous)


@pytest.fixture
def no_figures() -> Iterator[None]:
    previous = field_reports.register(None)
    yield
    field_reports.register(previous)


class Desk:
    """Submits and handles reports of the 'dien-nuoc' category (urgent: accepted within 8
    working hours, resolved within 4 after that) at given moments."""

    def __init__(self, sessions: sessionmaker[Session], officer: str) -> None:
        self.sessions, self.officer = sessions, officer

    def submit(self, unit: str, at: datetime, count: int = 1) -> list[str]:
        with self.sessions.begin() as session:
            return [
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
                    now=at,
                ).report.code
                for _ in range(count)
            ]

    def answer(self, code: str, at: datetime) -> None:
        with self.sessions.begin() as session:
            acting = principal_of(session, account_service.get(session, self.officer))
            report_service.act(session, acting, code, Step(Action.ACCEPT), CALENDAR, POLICY, at)
            report_service.act(
                session, acting, code, Step(Action.ANSWER, "Đã xử lý"), CALENDAR, POLICY, at
            )


@pytest.fixture
def desk(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> Desk:
    officer = make_official(platform_admin=True).username  # acts on every commune's reports
    admin = make_official(Role.ORGANISATION_ADMIN, reports_world.ward_org).username
    with sessions.begin() as session:
        account_service.get(session, admin).email = OFFICIAL_EMAIL
    return Desk(sessions, officer)


def _rule(sessions: sessionmaker[Session], **fields: Any) -> None:
    data = {
        "code": "tre-han",
        "name_vi": "Phản ánh trễ hạn trên 40%",
        "name_en": "More than 40% of field reports late",
        "kind": "reports_late_share",
        "scope_unit": {"unit_set": "current", "code": WARD},
        "threshold": 40,
        "cooldown_hours": 48,
        **fields,
    }
    with sessions.begin() as session:
        alert_service.create_rule(session, RuleCreate.model_validate(data))


def _evaluate(sessions: sessionmaker[Session], at: datetime) -> tuple[int, int]:
    with sessions.begin() as session:
        done = alert_service.evaluate(session, at.astimezone(UTC))
    return done.opened, done.resolved


def _alerts(sessions: sessionmaker[Session]) -> list[tuple[str, AlertState, float | None]]:
    with sessions() as session:
        rows = session.execute(
            select(Alert.period, Alert.state, Alert.value_seen).order_by(Alert.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.usefixtures("figures")
def test_the_late_share_rule_opens_resolves_never_duplicates_and_waits_out_its_cool_down(
    sessions: sessionmaker[Session], desk: Desk
) -> None:
    _rule(sessions)
    first, _open = desk.submit(WARD, MONDAY, 2)
    desk.submit(OTHER_COMMUNE, MONDAY, 3)  # another commune's: never counted for Việt Yên
    desk.answer(first, MONDAY + timedelta(minutes=30))  # on time
    # Monday 10:00: one handled on time, one open within its deadline: 0 % late.
    assert _evaluate(sessions, MONDAY + timedelta(hours=1)) == (0, 0)
    # Wednesday noon: the open one is past its acceptance deadline: 1 of 2 late, 50 % > 40 %.
    wednesday = datetime(2026, 11, 11, 12, 0, tzinfo=VIETNAM)
    assert _evaluate(sessions, wednesday) == (1, 0)
    assert _alerts(sessions) == [("2026-11", AlertState.OPEN, 50.0)]
    assert _evaluate(sessions, wednesday + timedelta(hours=1)) == (0, 0)  # no duplicate
    with sessions() as session:
        mails = list(session.scalars(select(OutgoingMail)))
    assert [m.recipient for m in mails] == [OFFICIAL_EMAIL]
    assert "trễ hạn" in mails[0].body and "50,0 %" in mails[0].body
    assert "50.0 % late" in mails[0].body
    # Thursday 10:00: two more handled on time: 1 late of 4 (3 handled + 1 open) = 25 %.
    thursday = datetime(2026, 11, 12, 9, 0, tzinfo=VIETNAM)
    for code in desk.submit(WARD, thursday, 2):
        desk.answer(code, thursday + timedelta(minutes=20))
    assert _evaluate(sessions, thursday + timedelta(hours=1)) == (0, 1)
    assert _alerts(sessions) == [("2026-11", AlertState.RESOLVED, 50.0)]
    # Four new ones left unanswered: past their deadline by Friday 16:00, (1 + 4) of 8 late,
    # 62.5 % — but the rule resolved 31 hours ago and its cool-down is 48 hours.
    desk.submit(WARD, thursday + timedelta(hours=1, minutes=5), 4)
    friday = datetime(2026, 11, 13, 16, 0, tzinfo=VIETNAM)
    assert _evaluate(sessions, friday) == (0, 0)
    saturday = datetime(2026, 11, 14, 11, 0, tzinfo=VIETNAM)  # 49 hours after resolving
    assert _evaluate(sessions, saturday) == (1, 0)
    assert _alerts(sessions)[-1] == ("2026-11", AlertState.OPEN, 62.5)
    # The next month is a new window: November's alert resolves; December's opens (the
    # reports still open on 1 December are past their deadline).
    assert _evaluate(sessions, datetime(2026, 12, 1, 8, 0, tzinfo=VIETNAM)) == (1, 1)
    assert _alerts(sessions)[-1] == ("2026-12", AlertState.OPEN, 100.0)


@pytest.mark.usefixtures("figures")
def test_a_rolling_window_and_a_province_over_its_communes(
    sessions: sessionmaker[Session], desk: Desk
) -> None:
    _rule(
        sessions,
        code="tre-han-xa",
        scope_unit={"unit_set": "current", "code": PROVINCE},
        scope_level="commune",
        window_days=7,
    )
    late = desk.submit(WARD, MONDAY)[0]
    for code in desk.submit(OTHER_COMMUNE, MONDAY, 2):
        desk.answer(code, MONDAY + timedelta(minutes=10))
    desk.answer(late, datetime(2026, 11, 12, 9, 0, tzinfo=VIETNAM))  # handled late
    assert _evaluate(sessions, datetime(2026, 11, 12, 10, 0, tzinfo=VIETNAM)) == (1, 0)
    with sessions() as session:
        ward = unit_service.get(session, UnitSet.CURRENT, WARD).id
        alerts = list(session.scalars(select(Alert)))
        counts = FIGURES.counts(
            session,
            [ward, unit_service.get(session, UnitSet.CURRENT, PROVINCE).id],
            MONDAY - timedelta(days=1),
            datetime(2026, 11, 12, 10, 0, tzinfo=VIETNAM),
        )
    assert [(a.unit_id, a.period, a.value_seen) for a in alerts] == [(ward, "7d", 100.0)]
    assert list(counts.values()) == [
        field_reports.ReportCounts(received=1, handled=1, on_time=0, late=1, open=0),
        field_reports.ReportCounts(received=3, handled=3, on_time=2, late=1, open=0),
    ]
    # Eight days later the late one has left the window: resolved.
    assert _evaluate(sessions, datetime(2026, 11, 20, 10, 0, tzinfo=VIETNAM)) == (0, 1)


@pytest.mark.usefixtures("no_figures")
def test_without_the_reports_figures_a_late_share_rule_is_refused_in_both_languages(
    sessions: sessionmaker[Session], reports_world: ReportsWorld
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _rule(sessions)
    assert refused.value.message.vi.startswith("Không có số liệu phản ánh hiện trường")
    assert "field reports module is not loaded" in refused.value.message.en
    assert refused.value.errors[0].field == "kind"


@pytest.mark.usefixtures("figures")
def test_a_late_share_rule_names_no_indicator_and_no_period_and_needs_a_percentage(
    sessions: sessionmaker[Session], reports_world: ReportsWorld
) -> None:
    for fields, field in (
        ({"indicator_code": "bat-ky"}, "indicator_code"),
        ({"period": "2026-11"}, "period"),
        ({"threshold": None}, "threshold"),
        ({"threshold": 100}, "threshold"),
    ):
        with pytest.raises(InvalidInput) as refused:
            _rule(sessions, **fields)
        assert refused.value.errors[0].field == field
    with pytest.raises(InvalidInput) as refused:
        _rule(sessions, kind="threshold", operator=">", threshold=1)
    assert refused.value.errors[0].field == "indicator_code"


@pytest.mark.usefixtures("figures")
def test_the_field_reports_panel_for_the_province_and_for_a_commune(
    sessions: sessionmaker[Session], desk: Desk
) -> None:
    october = datetime(2026, 10, 20, 9, 0, tzinfo=VIETNAM)
    desk.submit(WARD, october)  # never handled: late in October and still open after
    handled = desk.submit(WARD, MONDAY, 2)
    for code in handled:
        desk.answer(code, MONDAY + timedelta(minutes=5))
    desk.submit(OTHER_COMMUNE, MONDAY)
    now = datetime(2026, 11, 9, 15, 0, tzinfo=VIETNAM)
    with sessions() as session:
        province = unit_service.nodes(
            session, [unit_service.get(session, UnitSet.CURRENT, PROVINCE).id]
        )
        (province_node,) = province.values()
        ward = unit_service.get(session, UnitSet.CURRENT, WARD).id
        ward_node = unit_service.nodes(session, [ward])[ward]
        settings = FieldReportsSettings(months=3)
        panel = [(PanelKind.FIELD_REPORTS, settings)]
        (whole,) = panels_data(session, panel, Scope(province_node, province_node), now)
        (one,) = panels_data(session, panel, Scope(province_node, ward_node), now)
    assert isinstance(whole, dict) and isinstance(one, dict)
    assert [m["month"] for m in whole["trend"]] == ["2026-09", "2026-10", "2026-11"]
    assert whole["current"] == {
        "month": "2026-11",
        "received": 3,
        "open": 2,  # October's and Đa Mai's (within its deadline at 15:00)
        "handled": 2,
        "on_time": 2,
        "late": 1,
        "late_share": 25.0,
        "on_time_share": 100.0,
    }
    assert whole["trend"][1] == {
        "month": "2026-10",
        "received": 1,
        "open": 1,
        "handled": 0,
        "on_time": 0,
        "late": 1,
        "late_share": 100.0,
        "on_time_share": None,
    }
    assert whole["trend"][0]["received"] == 0 and whole["unit"]["code"] == PROVINCE
    assert one["unit"]["code"] == WARD
    assert (one["current"]["received"], one["current"]["open"], one["current"]["late"]) == (2, 1, 1)
