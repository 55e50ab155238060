"""Submitting, routing and every officer's action on a report, on both databases: what is
allowed, what is refused (another commune's officer, answering a report not accepted), and
the timeline that records it all."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tinhso.core.calendar import VIETNAM, shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.errors import Conflict, Forbidden, InvalidInput
from tinhso.monitoring.maps.boundaries import load_synthetic, load_upload
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import Role, UnitLevel
from tinhso.registry.organisations import organisation_service
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel, Rating, ReportState
from tinhso.reports.service import Step, Submission, report_service

from .conftest import OTHER_COMMUNE, WARD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tinhso.registry.auth import Principal

    from .conftest import ReportsWorld

CALENDAR = shipped_calendar()
POLICY = DeadlinePolicy.from_settings(ReportsSection())
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=VIETNAM)


def _submit(session: Session, **changes: Any) -> str:
    fields: dict[str, Any] = {
        "category_code": "dien-nuoc",
        "description": "Mất nước từ sáng",
        "channel": Channel.WEB,
        "unit_code": WARD,
    }
    fields.update(changes)
    submitted = report_service.submit(
        session,
        Submission(**fields),
        CALENDAR,
        POLICY,
        now=MONDAY,
    )
    return submitted.report.code


def _principal(session: Session, username: str) -> Principal:
    return principal_of(session, account_service.get(session, username))


def _act(session: Session, who: str, code: str, step: Step, now: datetime = MONDAY) -> ReportState:
    report = report_service.act(
        session, _principal(session, who), code, step, CALENDAR, POLICY, now
    )
    return report.state


def _org_id(session: Session, code: str) -> int:
    return organisation_service.get(session, code).id


def test_routing(sessions: sessionmaker[Session], reports_world: ReportsWorld) -> None:
    with sessions.begin() as session:
        ward = report_service.get(session, _submit(session))
        other = report_service.get(session, _submit(session, unit_code=OTHER_COMMUNE))
        health = report_service.get(session, _submit(session, category_code="y-te"))
        unplaced = report_service.get(
            session, _submit(session, unit_code=None, address="Số 1 đường A")
        )
        assert ward.organisation_id == _org_id(session, reports_world.ward_org)
        assert other.organisation_id == _org_id(session, reports_world.province_org)
        assert health.organisation_id == _org_id(session, reports_world.health)
        assert unplaced.organisation_id is None  # the operations centre's triage queue
        # Acceptance deadline: 8 working hours after Monday 09:00 is Tuesday 09:00.
        assert ward.accept_due_at == datetime(2026, 12, 8, 9, 0, tzinfo=VIETNAM)
        assert ward.code == f"PA-2026-{ward.id:06d}"


def test_a_legacy_commune_name_is_carried_to_its_current_unit(
    sessions: sessionmaker[Session], reports_world: ReportsWorld
) -> None:
    with sessions.begin() as session:
        report = report_service.get(
            session, _submit(session, unit_code=None, unit_name="Bích Động")
        )
        assert report.unit_as_typed == "Bích Động"
        assert report.organisation_id == _org_id(session, reports_world.ward_org)
        # Two current units are called "… Việt Yên": refused with both readings.
        with pytest.raises(InvalidInput) as refused:
            _submit(session, unit_code=None, unit_name="viet yen")
        assert "Phường Việt Yên" in refused.value.message.vi
        assert "Xã Việt Yên" in refused.value.message.vi


def test_the_whole_path_and_its_timeline(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    colleague = make_official(Role.VIEWER, reports_world.ward_org).username
    with sessions.begin() as session:
        submitted = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất nước",
                channel=Channel.WEB,
                unit_code=WARD,
            ),
            CALENDAR,
            POLICY,
            now=MONDAY,
        )
        code, key = submitted.report.code, submitted.reporter_key
        # Answering before accepting is refused.
        with pytest.raises(Conflict):
            _act(session, officer, code, Step(Action.ANSWER, "Đã sửa"))
        assert (
            _act(session, officer, code, Step(Action.ACCEPT), MONDAY + timedelta(hours=1))
            is ReportState.ACCEPTED
        )
        report = report_service.get(session, code)
        # Urgent: 4 working hours after Monday 10:00 is 15:30 (lunch 11:30–13:00 skipped).
        assert report.resolve_due_at == datetime(2026, 12, 7, 15, 30, tzinfo=VIETNAM)
        assert (
            _act(session, officer, code, Step(Action.ASSIGN, assignee=colleague))
            is ReportState.ASSIGNED
        )
        assert _act(session, officer, code, Step(Action.START)) is ReportState.IN_PROGRESS
        with pytest.raises(InvalidInput):  # an answer needs its text
            _act(session, officer, code, Step(Action.ANSWER, "  "))
        assert (
            _act(session, officer, code, Step(Action.ANSWER, "Đã khắc phục đường ống"))
            is ReportState.RESOLVED
        )
        report_service.rate(session, code, key, Rating.UNSATISFIED, "Vẫn yếu")
        with pytest.raises(Forbidden):
            report_service.rate(session, code, "wrong-key", Rating.SATISFIED)
        reopened = report_service.reopen(session, code, key, "Nước vẫn yếu", CALENDAR, POLICY)
        assert reopened.state is ReportState.REOPENED
        actions = [e.action for e in report_service.timeline(session, reopened, public_only=True)]
        assert actions == ["submit", "accept", "assign", "start", "answer", "rate", "reopen"]


def test_an_officer_of_another_commune_is_refused(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    stranger = make_official(Role.OFFICER, reports_world.outsider).username
    viewer = make_official(Role.VIEWER, reports_world.ward_org).username
    province_admin = make_official(Role.ORGANISATION_ADMIN, reports_world.province_org).username
    with sessions.begin() as session:
        code = _submit(session)
        for who in (stranger, viewer):
            with pytest.raises(Forbidden):
                _act(session, who, code, Step(Action.ACCEPT))
        # An admin of the province committee above the ward may act.
        assert _act(session, province_admin, code, Step(Action.ACCEPT)) is ReportState.ACCEPTED


def test_refuse_reroute_duplicate_and_extend(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    admin = make_official(Role.ORGANISATION_ADMIN, reports_world.ward_org).username
    health_officer = make_official(Role.OFFICER, reports_world.health).username
    with sessions.begin() as session:
        refused = _submit(session)
        with pytest.raises(InvalidInput):
            _act(session, officer, refused, Step(Action.REFUSE))
        assert (
            _act(session, officer, refused, Step(Action.REFUSE, "Không đúng địa bàn"))
            is ReportState.REFUSED
        )

        moved = _submit(session)
        later = MONDAY + timedelta(days=1)
        assert (
            _act(
                session,
                officer,
                moved,
                Step(Action.REROUTE, "Thuộc ngành y tế", organisation_code=reports_world.health),
                later,
            )
            is ReportState.SUBMITTED
        )
        report = report_service.get(session, moved)
        assert report.organisation_id == _org_id(session, reports_world.health)
        assert report.accept_due_at == datetime(2026, 12, 9, 9, 0, tzinfo=VIETNAM)  # 8 wh later
        with pytest.raises(Forbidden):  # no longer the ward's
            _act(session, officer, moved, Step(Action.ACCEPT))
        _act(session, health_officer, moved, Step(Action.ACCEPT))

        original = _submit(session)
        copy = _submit(session)
        assert (
            _act(session, officer, copy, Step(Action.MARK_DUPLICATE, duplicate_of=original))
            is ReportState.DUPLICATE
        )
        with pytest.raises(InvalidInput):
            _act(session, officer, original, Step(Action.MARK_DUPLICATE, duplicate_of=original))

        extended = _submit(session)
        _act(session, officer, extended, Step(Action.ACCEPT))
        due = report_service.get(session, extended).resolve_due_at
        assert due is not None
        with pytest.raises(Forbidden):  # only an administrator extends
            _act(
                session, officer, extended, Step(Action.EXTEND, "Chờ vật tư", extra_working_days=2)
            )
        _act(session, admin, extended, Step(Action.EXTEND, "Chờ vật tư", extra_working_days=2))
        new_due = report_service.get(session, extended).resolve_due_at
        assert new_due == CALENDAR.add_working_hours(due, timedelta(hours=16))
        with pytest.raises(Conflict):  # once only
            _act(session, admin, extended, Step(Action.EXTEND, "Lần nữa", extra_working_days=1))


def test_triage_is_the_operations_centres(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    operator = make_official(platform_admin=True).username
    with sessions.begin() as session:
        code = _submit(session, unit_code=None, address="Ngã tư không rõ")
        with pytest.raises(Forbidden):
            _act(session, officer, code, Step(Action.ACCEPT))
        with pytest.raises(Conflict):  # nobody to accept it yet
            _act(session, operator, code, Step(Action.ACCEPT))
        _act(
            session,
            operator,
            code,
            Step(Action.REROUTE, "Thuộc phường Việt Yên", organisation_code=reports_world.ward_org),
        )
        assert _act(session, officer, code, Step(Action.ACCEPT)) is ReportState.ACCEPTED


def test_bad_submissions_are_refused_with_the_field(
    sessions: sessionmaker[Session], reports_world: ReportsWorld
) -> None:
    with sessions.begin() as session:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"description": "x" * 4001}, "description"),
            ({"description": "  "}, "description"),
            ({"description": "Mất điện\x07"}, "description"),
            ({"reporter_email": "khong-phai-thu"}, "email"),
            ({"latitude": 91.0, "longitude": 105.0}, "lat"),
            ({"latitude": 21.0}, "long"),
            ({"unit_code": None}, "lat"),
            ({"category_code": "moi-truong"}, "attribute[muc-do]"),
            (
                {"category_code": "moi-truong", "attributes": {"muc-do": "rat-lon"}},
                "attribute[muc-do]",
            ),
            (
                {
                    "category_code": "moi-truong",
                    "attributes": {"muc-do": "nho", "dien-tich": "1.500"},
                },
                "attribute[dien-tich]",
            ),
            (
                {"category_code": "moi-truong", "attributes": {"muc-do": "nho", "khong-co": "1"}},
                "attribute[khong-co]",
            ),
        ]
        for changes, field in cases:
            with pytest.raises(InvalidInput) as refused:
                _submit(session, **changes)
            assert field in [e.field for e in refused.value.errors], (changes, refused.value.errors)
        answered = report_service.get(
            session,
            _submit(
                session,
                category_code="moi-truong",
                attributes={"muc-do": "lon", "loai": ["a", "b"], "dien-tich": "12,5"},
            ),
        )
        assert answered.attributes == {"muc-do": "lon", "loai": ["a", "b"], "dien-tich": "12.5"}


def test_open_reports_nearby_are_offered(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    with sessions.begin() as session:
        here = _submit(session, latitude=21.2735, longitude=106.1946)
        near = _submit(session, latitude=21.2738, longitude=106.1946)  # about 33 m north
        _submit(session, latitude=21.2760, longitude=106.1946)  # about 280 m: too far
        _submit(session, category_code="y-te", latitude=21.2735, longitude=106.1946)
        closed = _submit(session, latitude=21.2735, longitude=106.1947)
        _act(session, officer, closed, Step(Action.REFUSE, "Trùng địa bàn khác"))
        found = report_service.nearby_open(session, "dien-nuoc", 21.27351, 106.19460)
        assert [report.code for report, _ in found] == [here, near]
        assert found[1][1] == pytest.approx(32.2, abs=1.5)


def test_a_point_only_report_gets_the_commune_whose_uploaded_boundary_holds_it(
    reports_world: ReportsWorld, sessions: sessionmaker[Session]
) -> None:
    """Uploaded boundaries place a point in its commune (and route by it); a point outside
    every uploaded boundary, or inside a synthetic one only, gets no unit."""
    square = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ma": WARD},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[106.0, 21.2], [106.1, 21.2], [106.1, 21.3], [106.0, 21.3], [106.0, 21.2]]
                    ],
                },
            }
        ],
    }
    with sessions.begin() as session:
        load_synthetic(session, "24")  # synthetic cells everywhere: never used for placing
        outside = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất điện",
                channel=Channel.WEB,
                latitude=21.25,
                longitude=106.05,
            ),
            CALENDAR,
            POLICY,
            now=MONDAY,
        ).report
        assert outside.unit_id is None
        load_upload(
            session, json.dumps(square).encode(), "viet-yen.geojson", UnitLevel.COMMUNE, "24"
        )
        inside = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất điện",
                channel=Channel.WEB,
                latitude=21.25,
                longitude=106.05,
            ),
            CALENDAR,
            POLICY,
            now=MONDAY,
        ).report
        ward = organisation_service.get(session, reports_world.ward_org)
        assert inside.unit_id is not None and inside.organisation_id == ward.id
        elsewhere = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất điện",
                channel=Channel.WEB,
                latitude=21.35,
                longitude=106.05,
            ),
            CALENDAR,
            POLICY,
            now=MONDAY,
        ).report
        assert elsewhere.unit_id is None
