"""The dashboards' field-report panel in a real browser, in Vietnamese, at 390 and 1920 px:
this month's counts for Bắc Ninh (received, not handled yet, handled, late, the shares) with
the months before as a series and a table, then the same panel for a commune chosen on the
dashboard, and on the wall screen; axe-core clean, nothing wider than the window.
The alert rules page offers the late-share kind (no indicator) and says due days are working
days. Screenshots: ``dashboard-field-reports-{w}.png``,
``dashboard-field-reports-commune-{w}.png``, ``dashboard-field-reports-wall.png``,
``alert-rules-late-share-{w}.png``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.reports.conftest import OTHER_COMMUNE, WARD, reports_world  # noqa: F401 - fixture
from tests.reports.figures.test_live_figures import Desk
from tinhso.core.db import utcnow
from tinhso.monitoring.dashboards.schemas import DashboardCreate, PanelIn, PanelKind
from tinhso.monitoring.dashboards.service import dashboard_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("reports_world")]


def _world(sessions: sessionmaker[Session], make_official: MakeOfficial) -> None:
    """Four reports this month in two communes of Bắc Ninh, one answered; a dashboard of
    Bắc Ninh with the field-report panel and the exchange panel."""
    desk = Desk(sessions, make_official(platform_admin=True).username)
    now = utcnow() - timedelta(minutes=2)
    first = desk.submit(WARD, now, 2)[0]
    desk.answer(first, now + timedelta(minutes=1))
    desk.submit(OTHER_COMMUNE, now, 2)
    with sessions.begin() as session:
        dashboard_service.create(
            session,
            DashboardCreate(
                slug="tong-quan-tinh",
                title_vi="Tổng quan tỉnh",
                unit="24",
                rotation_seconds=30,
                panels=[
                    PanelIn(kind=PanelKind.FIELD_REPORTS, settings={"months": 6}),
                    PanelIn(kind=PanelKind.EXCHANGE, settings={"days": 30}),
                ],
            ),
        )


def _log_in(page: Page, username: str, path: str) -> None:
    page.goto(f"/login?next={path}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def _check(page: Page, name: str, found: list[str]) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{name}: {overflow} px wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [390, 1920])
def test_the_field_report_panel_for_the_province_a_commune_and_the_wall(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    width: int,
) -> None:
    _world(sessions, make_official)
    viewer = make_official(username="xem-phan-anh")
    found: list[str] = []

    def journey(page: Page) -> None:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        _log_in(page, viewer.username, "/monitoring/dashboards/tong-quan-tinh")
        expect(page.locator("h1")).to_have_text("Tổng quan tỉnh")
        panel = page.locator(".dash-field_reports")
        expect(panel.locator("h2")).to_have_text("Phản ánh hiện trường")
        counts = panel.locator(".status-stat")
        expect(counts).to_have_count(4)
        expect(counts.nth(0)).to_contain_text("4")  # received
        expect(counts.nth(0)).to_contain_text("Tiếp nhận")
        expect(counts.nth(1)).to_contain_text("3")  # not handled yet
        expect(counts.nth(2)).to_contain_text("1")  # handled
        expect(panel).to_contain_text("100,0\u00a0%")  # handled on time
        expect(panel.locator(".dash-chart[data-ready='1']")).to_have_count(1)
        panel.locator("summary").click()
        expect(panel.locator("tbody tr")).to_have_count(6)
        page.wait_for_load_state("networkidle")
        _check(page, f"dashboard-field-reports-{width}", found)
        # The commune chosen on the dashboard: its own reports.
        page.goto(f"/monitoring/dashboards/tong-quan-tinh?unit={WARD}")
        expect(page.locator("#dashboard-unit")).to_contain_text("Đang xem")
        expect(panel.locator(".dash-subtitle")).to_contain_text("Việt Yên")
        expect(panel.locator(".status-stat").nth(0)).to_contain_text("2")
        page.wait_for_load_state("networkidle")
        _check(page, f"dashboard-field-reports-commune-{width}", found)
        if width == 1920:
            page.goto("/monitoring/wall?d=tong-quan-tinh")
            wall_panel = page.locator("#screen-1 .dash-field_reports")
            expect(wall_panel.locator(".status-stat").nth(0)).to_contain_text("4")
            expect(wall_panel.locator(".dash-chart[data-ready='1']")).to_have_count(1)
            _check(page, "dashboard-field-reports-wall", found)
        found.extend(errors)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_the_rules_page_offers_the_late_share_kind_and_working_days(
    browser: BrowserThread,
    live_server: str,
    make_official: MakeOfficial,
    width: int,
) -> None:
    admin = make_official(platform_admin=True, username="quan-tri-quy-tac")
    found: list[str] = []

    def journey(page: Page) -> None:
        _log_in(page, admin.username, "/monitoring/alerts/rules")
        expect(page.locator("h1")).to_have_text("Quy tắc cảnh báo")
        page.locator("#rule-code").fill("tre-han")
        page.locator("#rule-name-vi").fill("Phản ánh trễ hạn trên 30%")
        page.locator("#rule-kind").select_option("reports_late_share")
        page.locator("#rule-indicator").select_option("")
        page.locator("#rule-scope").fill("24")
        page.locator("#rule-threshold").fill("30")
        expect(page.locator("#rule-due-hint")).to_contain_text("Ngày làm việc")
        page.get_by_role("button", name="Thêm quy tắc").click()
        expect(page.locator("#alert-rules")).to_contain_text("Phản ánh hiện trường")
        expect(page.locator("#alert-rules")).to_contain_text("Tháng này")
        page.wait_for_load_state("networkidle")
        _check(page, f"alert-rules-late-share-{width}", found)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
