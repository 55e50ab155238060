"""The map in a real browser, in Vietnamese, at 390 and 1920 px: the demo's indicator over
the provinces as a choropleth on synthetic boundaries (said on the page); a click on Bắc
Ninh on the map (through ECharts' own hit test) opens its communes, and the breadcrumb goes
back. axe-core on each page. Screenshots: ``map-provinces-{w}.png``, ``map-communes-{w}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.monitoring.support import load_test_plan
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.service import Provenance, value_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e

# Bắc Ninh's centroid, as vietnamadminunits gives it, is inside its synthetic cell.
BAC_NINH = (106.15, 21.2)


def _check(page: Page, name: str, width: int, found: list[str]) -> None:
    expect(page.locator("#unit-map")).to_have_attribute("data-ready", "1")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{name}: {overflow} px wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [390, 1920])
def test_the_province_map_drills_into_communes_and_back(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    width: int,
) -> None:
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
            ("01", 81.5),
            ("19", 44.0),
            ("79", 77.0),
            ("31", 52.5),
            ("07777", 66.0),
            ("07228", 48.5),
        )
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
    viewer = make_official(username="xem-ban-do")
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/monitoring/map?indicator=kt_thanh_toan%26period=2025")
        page.get_by_label("Tên đăng nhập").fill(viewer.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Bản đồ")
        expect(page.locator("#synthetic-note")).to_contain_text("Ranh giới mô phỏng")
        expect(page.locator("#map-values tbody tr")).to_have_count(34)
        expect(page.locator("#map-breadcrumb")).to_contain_text("Toàn quốc")
        expect(page.locator('#map-values tr[data-code="01"]')).to_contain_text("81,5")
        _check(page, "map-provinces", width, found)
        # A click where Bắc Ninh is drawn: ECharts finds the province under the pointer.
        page.locator("#unit-map").scroll_into_view_if_needed()
        box = page.locator("#unit-map").bounding_box()
        assert box is not None
        inner = page.evaluate(
            "([lon, lat]) => document.getElementById('unit-map').tinhsoChart"
            ".convertToPixel({seriesIndex: 0}, [lon, lat])",
            list(BAC_NINH),
        )
        page.mouse.click(box["x"] + inner[0], box["y"] + inner[1])
        expect(page.locator("#map-breadcrumb")).to_contain_text("Tỉnh Bắc Ninh")
        expect(page.locator('#map-values tr[data-code="07777"]')).to_contain_text("66")
        _check(page, "map-communes", width, found)
        page.locator("#map-breadcrumb").get_by_role("link", name="Toàn quốc").click()
        expect(page.locator("#map-values tbody tr")).to_have_count(34)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
