"""Dashboards in a real browser, in Vietnamese. The province dashboard at 390 and 1920 px: a
KPI tile with its target and status, the plan's status counts, a series against the target
line, the map of Bắc Ninh's communes (synthetic boundaries), a ranking whose commune link
(or a click on the map) chooses that commune for the other panels; axe-core clean, nothing wider than the window. The
wall screen at 1920 × 1080: two dashboards rotate (5 s each); then the server is stopped and
the last data stays with "Dữ liệu chưa cập nhật từ hh:mm dd/mm/yyyy". Screenshots:
``dashboard-{w}.png``, ``dashboard-commune-{w}.png``, ``wall-first.png``, ``wall-second.png``,
``wall-stale.png``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.monitoring.support import load_test_plan
from tinhso.monitoring.dashboards.schemas import DashboardCreate, PanelIn, PanelKind
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.monitoring.maps.synthetic_boundaries import commune_centroids
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.service import Provenance, value_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e

VIET_YEN, DA_MAI, YEN_DUNG, TAN_AN = "07777", "07228", "07681", "07682"
STALE = re.compile(r"Dữ liệu chưa cập nhật từ \d{2}:\d{2} \d{2}/\d{2}/\d{4}")


def _world(sessions: sessionmaker[Session]) -> None:
    """The test plan (kt_thanh_toan with targets), values for four communes of Bắc Ninh in
    2025, and two dashboards of Bắc Ninh shown 5 s each on a wall."""
    load_test_plan(sessions)
    items = [
        ValueIn.model_validate(
            {
                "element_code": "kt_thanh_toan_pct",
                "unit": {"unit_set": "current", "code": code},
                "period": "2025",
                "value": value,
            }
        )
        for code, value in (
            ("24", 58.0),
            (VIET_YEN, 66.0),
            (DA_MAI, 48.5),
            (YEN_DUNG, 55.0),
            (TAN_AN, 61.0),
        )
    ]
    legacy = {"unit_set": "legacy", "code": "24"}
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
        for slug, title, panels in (
            ("tong-quan-tinh", "Tổng quan tỉnh", [
                PanelIn(kind=PanelKind.KPI, settings={"indicator": "kt_thanh_toan", "period": "2025"}),
                PanelIn(kind=PanelKind.KPI, settings={"indicator": "kt_cap_quang", "unit": legacy}),
                PanelIn(kind=PanelKind.STATUS_COUNTS, settings={"plan": "kh_kiem_thu", "as_of": 2024}),
                PanelIn(kind=PanelKind.TIMESERIES, settings={"indicator": "kt_cap_quang", "unit": legacy}),
                PanelIn(kind=PanelKind.MAP, settings={"indicator": "kt_thanh_toan", "period": "2025"}),
                PanelIn(kind=PanelKind.RANKING, settings={"indicator": "kt_thanh_toan", "period": "2025"}),
                PanelIn(kind=PanelKind.EXCHANGE, settings={"days": 30}),
            ]),
            ("thanh-toan-so", "Thanh toán số", [
                PanelIn(kind=PanelKind.MAP, settings={"indicator": "kt_thanh_toan", "mode": "target"}),
                PanelIn(kind=PanelKind.RANKING, settings={"indicator": "kt_thanh_toan", "limit": 3}),
            ]),
        ):  # fmt: skip
            dashboard_service.create(
                session,
                DashboardCreate(
                    slug=slug, title_vi=title, unit="24", rotation_seconds=5, panels=panels
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
def test_the_province_dashboard_renders_and_a_commune_filters_its_panels(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    width: int,
) -> None:
    _world(sessions)
    viewer = make_official(username="xem-bang-dieu-khien")
    found: list[str] = []

    def journey(page: Page) -> None:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        _log_in(page, viewer.username, "/monitoring/dashboards/tong-quan-tinh")
        expect(page.locator("h1")).to_have_text("Tổng quan tỉnh")
        panels = page.locator("#dashboard-panels .dash-panel")
        expect(panels).to_have_count(7)
        expect(panels.nth(0)).to_contain_text("58")
        fibre = panels.nth(1)  # Bắc Giang's fibre against its target: behind schedule
        expect(fibre).to_contain_text("Chỉ tiêu 2025")
        expect(fibre.locator(".status-badge")).to_contain_text("Chậm tiến độ")
        expect(panels.nth(2)).to_contain_text("Tiến độ kế hoạch")
        expect(page.locator(".dash-map-chart[data-ready='1']")).to_have_count(1)
        expect(page.locator(".dash-chart[data-ready='1']")).to_have_count(1)
        expect(panels.nth(4)).to_contain_text("ranh giới mô phỏng")
        page.wait_for_load_state("networkidle")
        _check(page, f"dashboard-{width}", found)
        # A commune of the ranking chosen: the KPI tile shows it, the province is one click away.
        panels.nth(5).get_by_role("link", name=re.compile("Việt Yên")).first.click()
        expect(page).to_have_url(re.compile(f"unit={VIET_YEN}"))
        expect(page.locator("#dashboard-unit")).to_contain_text("Đang xem")
        expect(page.locator("#dashboard-panels .dash-panel").nth(0)).to_contain_text("66")
        expect(page.locator(".dash-selected")).to_contain_text("Việt Yên")
        page.wait_for_load_state("networkidle")
        _check(page, f"dashboard-commune-{width}", found)
        # A click on Đa Mai on the map (ECharts' own hit test) chooses it the same way.
        page.get_by_role("link", name="Quay lại Tỉnh Bắc Ninh").click()
        expect(page.locator("#dashboard-unit")).not_to_contain_text("Đang xem")
        chart = page.locator(".dash-map-chart[data-ready='1']")
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert box is not None
        inner = page.evaluate(
            "([lon, lat]) => document.querySelector('.dash-map-chart').tinhsoChart"
            ".convertToPixel({geoIndex: 0}, [lon, lat])",
            list(commune_centroids("24")[DA_MAI]),
        )
        page.mouse.click(box["x"] + inner[0], box["y"] + inner[1])
        expect(page).to_have_url(re.compile(f"unit={DA_MAI}"))
        expect(page.locator("#dashboard-panels .dash-panel").nth(0)).to_contain_text("48,50")
        found.extend(errors)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


def test_the_wall_screen_rotates_two_dashboards_and_says_when_the_server_is_gone(
    browser: BrowserThread,
    stoppable_server: tuple[str, Callable[[], None]],
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
) -> None:
    base_url, stop = stoppable_server
    _world(sessions)
    viewer = make_official(username="man-hinh-tuong")
    found: list[str] = []

    def journey(page: Page) -> None:
        _log_in(page, viewer.username, "/monitoring/dashboards")
        expect(page.locator("h1")).to_have_text("Bảng điều khiển")
        page.goto("/monitoring/wall?d=tong-quan-tinh,thanh-toan-so&refresh=5")
        wall = page.locator("#wall")
        expect(page.locator(".main-nav")).to_have_count(0)
        expect(wall).to_have_attribute("data-current", "tong-quan-tinh")
        expect(page.locator("#screen-1")).to_be_visible()
        expect(page.locator("#screen-2")).to_be_hidden()
        expect(page.locator("#screen-1 .dash-map-chart[data-ready='1']")).to_have_count(1)
        _check(page, "wall-first", found)
        # The second dashboard after its 5 seconds, drawn when shown.
        expect(wall).to_have_attribute("data-current", "thanh-toan-so", timeout=9_000)
        expect(page.locator("#screen-2")).to_be_visible()
        expect(page.locator("#screen-1")).to_be_hidden()
        expect(page.locator("#screen-2 h1")).to_have_text("Thanh toán số")
        expect(page.locator("#screen-2 .dash-map-chart[data-ready='1']")).to_have_count(1)
        expect(page.locator("#wall-stale")).to_be_hidden()
        page.screenshot(path=str(SCREENSHOTS / "wall-second.png"))
        # The server goes away: the panels stay, with the notice of since when.
        stop()
        stale = page.locator("#wall-stale")
        expect(stale).to_be_visible(timeout=15_000)
        expect(stale).to_have_text(STALE)
        expect(page.locator(".wall-screen:not([hidden]) .dash-panel").first).to_be_visible()
        expect(wall).to_have_attribute("data-current", "tong-quan-tinh", timeout=9_000)
        expect(page.locator("#screen-1 .dash-kpi-value").first).to_contain_text("58")
        found.extend(f"wall-stale: {v}" for v in serious_accessibility_violations(page))
        page.screenshot(path=str(SCREENSHOTS / "wall-stale.png"))

    browser.run(journey, base_url, width=1920, height=1080)
    assert found == []
