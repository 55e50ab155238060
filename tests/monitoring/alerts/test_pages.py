"""The alert pages on both databases: the list with its history and filters and the rules
page in Vietnamese and English, admins add and disable a rule through the form (officers
are refused), odd filters and odd forms are answered without a 500, and the map shows the
badge of open alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.monitoring.alerts.conftest import INDICATOR, VIET_YEN, add_rule
from tests.portal.test_pages import form_token, log_in
from tinhso.monitoring.alerts.service import alert_service
from tinhso.portal.rendering import LANGUAGE_COOKIE
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

pytestmark = pytest.mark.usefixtures("world")


def _open_one(sessions: sessionmaker[Session]) -> None:
    add_rule(sessions)
    with sessions.begin() as session:
        alert_service.evaluate(session)


def test_the_alert_list_in_vietnamese_and_english(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    _open_one(sessions)
    viewer = make_official(username="xem-canh-bao")
    log_in(client, viewer.username)
    page = client.get("/monitoring/alerts")
    assert page.status_code == 200, page.text
    assert "Cảnh báo" in page.text and "Đang mở" in page.text and "Xã chậm tiến độ" in page.text
    assert "Chậm tiến độ" in page.text and "Open" not in page.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    english = client.get(f"/monitoring/alerts?unit={VIET_YEN}&state=open&indicator={INDICATOR}")
    assert english.status_code == 200
    assert "1 alert" in english.text and "Commune behind on fibre" in english.text
    assert "Behind schedule" in english.text
    empty = client.get("/monitoring/alerts?state=resolved")
    assert "No alert matches." in empty.text


@pytest.mark.parametrize(
    "query",
    ["unit=99999", "unit=%20", "state=maybe", "indicator=khong-co", "unit=abc&state=open"],
)
def test_odd_filters_are_answered_without_a_500(
    client: TestClient, make_official: MakeOfficial, query: str
) -> None:
    viewer = make_official(username="loc-la")
    log_in(client, viewer.username)
    answer = client.get(f"/monitoring/alerts?{query}")
    assert answer.status_code in {200, 422}, answer.text


def test_an_admin_adds_and_disables_a_rule_on_the_rules_page(
    client: TestClient, make_official: MakeOfficial
) -> None:
    admin = make_official(platform_admin=True, username="quan-tri-canh-bao")
    log_in(client, admin.username)
    page = client.get("/monitoring/alerts/rules")
    assert page.status_code == 200 and "Thêm quy tắc" in page.text
    form = {
        "csrf_token": form_token(page),
        "code": "duoi-50",
        "name_vi": "Dưới 50%",
        "kind": "threshold",
        "indicator": INDICATOR,
        "scope": "24",
        "communes": "yes",
        "operator": "<",
        "threshold": "50,5",
        "cooldown_hours": "12",
    }
    added = client.post("/monitoring/alerts/rules", data=form, follow_redirects=False)
    assert added.status_code == 303, added.text
    listed = client.get("/monitoring/alerts/rules")
    assert "Dưới 50%" in listed.text and "Đang bật" in listed.text
    toggled = client.post(
        "/monitoring/alerts/rules/duoi-50/enabled",
        data={"csrf_token": form_token(listed), "enabled": "no"},
        follow_redirects=False,
    )
    assert toggled.status_code == 303
    assert "Đã tắt" in client.get("/monitoring/alerts/rules").text
    again = client.post("/monitoring/alerts/rules", data=form)
    assert again.status_code == 422 and "Đã có quy tắc cảnh báo duoi-50" in again.text


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "sometimes"},
        {"threshold": "nhiều"},
        {"scope": "99999"},
        {"period": "2025-13"},
        {"cooldown_hours": "-3"},
        {"code": ""},
        {"operator": ""},
    ],
)
def test_odd_forms_are_answered_with_the_problem_not_a_500(
    client: TestClient, make_official: MakeOfficial, changes: dict[str, str]
) -> None:
    admin = make_official(platform_admin=True, username="quan-tri-la")
    log_in(client, admin.username)
    page = client.get("/monitoring/alerts/rules")
    form = {
        "csrf_token": form_token(page),
        "code": "nguong",
        "name_vi": "Ngưỡng",
        "kind": "threshold",
        "indicator": INDICATOR,
        "scope": "24",
        "operator": "<",
        "threshold": "50",
        **changes,
    }
    answer = client.post("/monitoring/alerts/rules", data=form)
    assert answer.status_code == 422, answer.text
    assert 'role="alert"' in answer.text


def test_an_officer_may_not_add_or_disable_rules(
    client: TestClient,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    add_rule(sessions)
    officer = make_official(Role.OFFICER, "ubnd-tinh", username="can-bo-canh-bao")
    log_in(client, officer.username)
    page = client.get("/monitoring/alerts/rules")
    assert page.status_code == 200 and "Thêm quy tắc" not in page.text
    token = form_token(client.get("/monitoring/alerts"))
    refused = client.post(
        "/monitoring/alerts/rules", data={"csrf_token": token, "code": "x"}, follow_redirects=False
    )
    assert refused.status_code == 403
    toggled = client.post(
        "/monitoring/alerts/rules/cham-tien-do/enabled",
        data={"csrf_token": token, "enabled": "no"},
        follow_redirects=False,
    )
    assert toggled.status_code == 403


def test_the_map_shows_the_badge_of_open_alerts(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    viewer = make_official(username="xem-ban-do-canh-bao")
    log_in(client, viewer.username)
    quiet = client.get(f"/monitoring/map?indicator={INDICATOR}&period=2025&parent=24")
    assert quiet.status_code == 200 and 'id="open-alerts"' not in quiet.text
    _open_one(sessions)
    page = client.get(f"/monitoring/map?indicator={INDICATOR}&period=2025&parent=24")
    assert "1 cảnh báo đang mở" in page.text
    assert "/monitoring/alerts?state=open&amp;unit=24" in page.text


def test_the_plan_progress_page_shows_the_badge_of_open_alerts(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    viewer = make_official(username="xem-tien-do-canh-bao")
    log_in(client, viewer.username)
    assert 'id="open-alerts"' not in client.get("/monitoring").text
    _open_one(sessions)
    client.cookies.set(LANGUAGE_COOKIE, "en")
    page = client.get("/monitoring")
    assert page.status_code == 200
    assert "1 open alert" in page.text and "/monitoring/alerts?state=open" in page.text


def test_an_admin_adds_a_late_share_rule_without_an_indicator_through_the_form(
    client: TestClient, make_official: MakeOfficial
) -> None:
    admin = make_official(platform_admin=True, username="quan-tri-phan-anh")
    log_in(client, admin.username)
    page = client.get("/monitoring/alerts/rules")
    assert "Không có (phản ánh hiện trường)" in page.text
    assert "Số ngày làm việc sau khi hết kỳ" in page.text
    form = {
        "csrf_token": form_token(page),
        "code": "tre-han",
        "name_vi": "Phản ánh trễ hạn trên 30%",
        "kind": "reports_late_share",
        "indicator": "",
        "scope": "24",
        "communes": "yes",
        "threshold": "30",
        "window_days": "30",
    }
    added = client.post("/monitoring/alerts/rules", data=form, follow_redirects=False)
    assert added.status_code == 303, added.text
    listed = client.get("/monitoring/alerts/rules").text
    assert "Tỷ lệ phản ánh hiện trường trễ hạn vượt ngưỡng" in listed
    assert "30 ngày gần nhất" in listed and "Phản ánh hiện trường" in listed
    with_indicator = client.post(
        "/monitoring/alerts/rules",
        data=form | {"code": "tre-han-2", "indicator": INDICATOR, "csrf_token": form_token(page)},
    )
    assert with_indicator.status_code == 422
    assert "không theo dõi chỉ số nào" in with_indicator.text
