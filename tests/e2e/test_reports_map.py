"""Field reports on maps in a real browser, in Vietnamese, at 390 and 1920 px: the public map
draws a report's point on the province's communes and a click on it opens the report; on the
form, a tap on the map gives the report its point. axe-core on each page. Screenshots:
``reports-map-{w}.png``, ``reports-form-map-{w}.png``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tinhso.core.calendar import shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.monitoring.maps.boundaries import load_synthetic
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Channel
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.e2e.conftest import BrowserThread
    from tests.reports.conftest import ReportsWorld

pytestmark = pytest.mark.e2e

POINT = (106.12, 21.26)  # in Bắc Ninh


def _check(page: Page, name: str, width: int, found: list[str]) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{name}: {overflow} px wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def _click_at(page: Page, element: str, lon_lat: tuple[float, float]) -> None:
    """A click where ECharts draws a longitude/latitude (its own hit test does the rest)."""
    page.locator(element).scroll_into_view_if_needed()
    box = page.locator(element).bounding_box()
    assert box is not None
    x, y = page.evaluate(
        f"([lon, lat]) => document.querySelector('{element}').tinhsoChart"
        ".convertToPixel({geoIndex: 0}, [lon, lat])",
        list(lon_lat),
    )
    page.mouse.click(box["x"] + x, box["y"] + y)


@pytest.mark.parametrize("width", [390, 1920])
def test_a_report_on_the_public_map_and_a_place_tapped_on_the_form(
    browser: BrowserThread,
    live_server: str,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    width: int,
) -> None:
    with sessions.begin() as session:
        load_synthetic(session, "24")
        code = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Cột điện nghiêng",
                channel=Channel.WEB,
                latitude=POINT[1],
                longitude=POINT[0],
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        ).report.code
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/reports/map")
        expect(page.locator("h1")).to_have_text("Phản ánh hiện trường trên bản đồ")
        expect(page.locator("#reports-map")).to_have_attribute("data-ready", "1")
        expect(page.locator("#map-count")).to_contain_text("1 phản ánh có vị trí")
        _check(page, "reports-map", width, found)
        _click_at(page, "#reports-map", POINT)
        expect(page).to_have_url(f"{live_server}/reports/{code}")
        page.goto("/reports/new")
        expect(page.locator("#location-map")).to_have_attribute("data-ready", "1")
        _click_at(page, "#location-map", (106.05, 21.2))
        latitude = float(page.locator("#rep-latitude").input_value())
        longitude = float(page.locator("#rep-longitude").input_value())
        assert abs(latitude - 21.2) < 0.05 and abs(longitude - 106.05) < 0.05
        expect(page.locator("#position-status")).to_contain_text("21.")
        _check(page, "reports-form-map", width, found)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
