"""The working calendar in the portal: platform admins see a year's days off and decided days,
add and remove a decided day (the deadlines follow at once), and bad input is marked field by
field with nothing stored; other officials are refused."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest

from tests.portal.test_pages import form_token, log_in
from tinhso.core.calendar import load_calendar, remove_decided_day
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

# A Friday in a year no shipped notice covers (the table is reference data: undo what we add).
DAY = date(2031, 5, 2)


@pytest.fixture
def clean_day(sessions: sessionmaker[Session]) -> Iterator[None]:
    yield
    with sessions.begin() as session:
        remove_decided_day(session, DAY)


def _post(client: TestClient, path: str, **fields: str) -> tuple[int, str]:
    page = client.get("/admin/calendar")
    answer = client.post(
        path, data={**fields, "csrf_token": form_token(page)}, follow_redirects=False
    )
    return answer.status_code, answer.text


@pytest.mark.usefixtures("clean_day")
def test_an_admin_adds_and_removes_a_decided_day_and_deadlines_follow(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, admin.username).status_code == 303
    page = client.get("/admin/calendar?year=2026")
    assert page.status_code == 200
    assert "Tết Bính Ngọ" in page.text  # the shipped 2026 decisions
    assert 'href="/admin/calendar"' in page.text  # in the menu
    with sessions() as session:
        assert load_calendar(session).is_working_day(DAY)
    status, _ = _post(
        client,
        "/admin/calendar",
        day="02/05/2031",
        kind="off",
        reason="Nghỉ 02/05/2031, hoán đổi với thứ Bảy 10/05/2031",
        source="Thông báo 1234/TB-BNV",
        issuer="Bộ Nội vụ",
        issued_on="15/11/2030",
        url="https://moha.gov.vn/thong-bao-1234",
    )
    assert status == 303
    with sessions() as session:
        calendar = load_calendar(session)
        assert not calendar.is_working_day(DAY)
        assert calendar.add_working_days(date(2031, 5, 1), 1) == date(2031, 5, 5)
    listed = client.get("/admin/calendar?year=2031").text
    assert 'data-day="2031-05-02"' in listed and "Thông báo 1234/TB-BNV" in listed

    status, _ = _post(client, "/admin/calendar/remove", day="02/05/2031")
    assert status == 303
    with sessions() as session:
        assert load_calendar(session).is_working_day(DAY)
    status, text = _post(client, "/admin/calendar/remove", day="02/05/2031")
    assert status == 404
    assert "Không có ngày 02/05/2031" in text


def test_bad_fields_are_marked_and_nothing_is_stored(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, admin.username).status_code == 303
    status, text = _post(
        client,
        "/admin/calendar",
        day="31/02/2031",
        kind="holiday",
        reason="",
        source="x" * 501,
        issuer="Bộ Nội vụ",
        issued_on="2030-11-15",
        url="javascript:alert(1)",
    )
    assert status == 422
    for name in ("day", "kind", "reason", "source", "issued_on", "url"):
        assert f'id="day-{name}-error"' in text, name
    assert "Tối đa 500 ký tự" in text
    status, text = _post(
        client,
        "/admin/calendar",
        day="02/05/2031",
        kind="off",
        reason="Nghỉ",
        source="Thông báo",
        issuer="Bộ Nội vụ",
        issued_on="03/05/2031",
    )
    assert status == 422
    assert "Ngày ban hành sau ngày được quyết định" in text
    with sessions() as session:
        assert DAY not in load_calendar(session).decided


@pytest.mark.parametrize("role", [Role.ORGANISATION_ADMIN, Role.OFFICER])
def test_officials_who_are_not_platform_admins_are_refused(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str], role: Role
) -> None:
    official = make_official(role, "so-tttt")
    assert log_in(client, official.username).status_code == 303
    assert 'href="/admin/calendar"' not in client.get("/").text
    answer = client.get("/admin/calendar")
    assert answer.status_code == 403
    assert "Chỉ quản trị viên nền tảng được sửa lịch làm việc" in answer.text


def test_a_year_without_a_decided_notice_is_shown_loudly(
    client: TestClient, admin: Official
) -> None:
    assert log_in(client, admin.username).status_code == 303
    text = client.get("/admin/calendar").text
    # The shipped decisions end with 2026; less than a year of coverage remains.
    assert 'id="coverage-gap"' in text
    assert "năm 2027" in text
