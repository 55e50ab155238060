"""The map in a real browser, in Vietnamese, at 390 and 1920 px: the demo's indicator over
the provinces as a choropleth on synthetic boundaries (said on the page); a click on Bắc
Ninh on the map (through ECharts' own hit test) opens its communes; coloured by % of the
target, each commune takes its status' colour (đạt / đúng tiến độ / chậm tiến độ / không
đạt) with a legend, the tooltip gives value and target, a commune without a boundary is a
point; the breadcrumb goes back. axe-core on each page. Screenshots:
``map-provinces-{w}.png``, ``map-communes-{w}.png``, ``map-targets-{w}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.monitoring.support import load_test_plan
from tinhso.monitoring.maps.synthetic_boundaries import commune_centroids
from tinhso.monitoring.models import UnitBoundary
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import PlanCreate, TargetCreate, ValueIn
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import AdministrativeUnit, UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e

# Bắc Ninh's centroid, as vietnamadminunits gives it, is inside its synthetic cell.
BAC_NINH = (106.15, 21.2)
VIET_YEN, DA_MAI, YEN_DUNG, TAN_AN = "07777", "07228", "07681", "07682"


def _targets(sessions: sessionmaker[Session]) -> None:
    """Targets on the current set: every commune of Bắc Ninh ≥ 60 in 2026 (from 40 in 2024),
    Việt Yên ≥ 70 in 2025; Đa Mai's boundary removed (a point on the map)."""
    with sessions.begin() as session:
        plan = plan_service.create(
            session,
            PlanCreate(
                code="kh-ban-do",
                number="2/KH-BD",
                title_vi="Kế hoạch thanh toán số",
                issuing_body="UBND tỉnh Bắc Ninh",
            ),
        )
        for fields in (
            {
                "scope_unit": {"unit_set": "current", "code": "24"},
                "scope_level": "commune",
                "year": 2026,
                "target_value": 60,
                "baseline_value": 40,
                "baseline_year": 2024,
            },
            {
                "scope_unit": {"unit_set": "current", "code": VIET_YEN},
                "year": 2025,
                "target_value": 70,
            },
        ):
            plan_service.add_target(
                session,
                plan,
                TargetCreate.model_validate(
                    {"indicator_code": "kt_thanh_toan", "comparison": ">=", **fields}
                ),
            )
        da_mai = session.scalars(
            select(AdministrativeUnit.id).where(
                AdministrativeUnit.unit_set == UnitSet.CURRENT, AdministrativeUnit.code == DA_MAI
            )
        ).one()
        session.execute(delete(UnitBoundary).where(UnitBoundary.unit_id == da_mai))


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
            (VIET_YEN, 66.0),
            (DA_MAI, 48.5),
            (YEN_DUNG, 55.0),
            (TAN_AN, 61.0),
        )
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
    _targets(sessions)
    viet_yen = commune_centroids("24")[VIET_YEN]
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
        # The legend says what the colours mean, in Vietnamese number format, and which tree.
        legend = page.locator(".unit-map-legend")
        expect(legend).to_contain_text("Chú giải: khoảng giá trị")
        expect(legend).to_contain_text("44 – 51,5")
        expect(legend).to_contain_text("74 – 81,5")
        expect(legend.locator("li")).to_have_count(6)
        expect(legend).to_contain_text("Đơn vị: theo địa giới hành chính hiện hành")
        _check(page, "map-provinces", width, found)
        # A click where Bắc Ninh is drawn: ECharts finds the province under the pointer.
        page.locator("#unit-map").scroll_into_view_if_needed()
        box = page.locator("#unit-map").bounding_box()
        assert box is not None
        inner = page.evaluate(
            "([lon, lat]) => document.getElementById('unit-map').tinhsoChart"
            ".convertToPixel({geoIndex: 0}, [lon, lat])",
            list(BAC_NINH),
        )
        page.mouse.click(box["x"] + inner[0], box["y"] + inner[1])
        expect(page.locator("#map-breadcrumb")).to_contain_text("Tỉnh Bắc Ninh")
        expect(page.locator('#map-values tr[data-code="07777"]')).to_contain_text("66")
        expect(page.locator("#point-note")).to_contain_text("Phường Đa Mai")
        _check(page, "map-communes", width, found)
        # By % of the target: the statuses' colours, a legend, the table's badges.
        page.get_by_label("Tô màu theo").select_option("target")
        page.get_by_role("button", name="Xem").click()
        expect(page.locator("#map-values thead")).to_contain_text("% chỉ tiêu")
        rows = page.locator("#map-values")
        expect(rows.locator(f'tr[data-code="{VIET_YEN}"]')).to_contain_text("Không đạt")
        expect(rows.locator(f'tr[data-code="{VIET_YEN}"]')).to_contain_text("94,3")
        expect(rows.locator(f'tr[data-code="{DA_MAI}"]')).to_contain_text("Chậm tiến độ")
        expect(rows.locator(f'tr[data-code="{YEN_DUNG}"]')).to_contain_text("Đúng tiến độ")
        expect(rows.locator(f'tr[data-code="{TAN_AN}"]')).to_contain_text("Đạt")
        legend = page.locator(".unit-map-legend")
        expect(legend).to_contain_text("Chú giải: tình trạng so với chỉ tiêu")
        for status in ("Đạt", "Đúng tiến độ", "Chậm tiến độ", "Không đạt", "Chưa có số liệu"):
            expect(legend).to_contain_text(status)
        expect(page.locator("#unit-map")).to_have_attribute("data-ready", "1")
        colours = page.evaluate(
            """(codes) => { const chart = document.getElementById('unit-map').tinhsoChart;
                 const series = chart.getModel().getSeriesByIndex(0);
                 const data = series.getData();
                 return codes.map((code) => data.getItemVisual(data.indexOfName(code), 'style').fill); }""",
            [VIET_YEN, YEN_DUNG, TAN_AN],
        )
        assert colours == ["#a4161a", "#0b4a8b", "#17683a"], colours
        point = page.evaluate(
            """(code) => { const chart = document.getElementById('unit-map').tinhsoChart;
                 const data = chart.getModel().getSeriesByIndex(1).getData();
                 return [data.count(), data.getItemVisual(data.indexOfName(code), 'style').fill]; }""",
            DA_MAI,
        )
        assert point == [1, "#d08a00"], point
        page.locator("#unit-map").scroll_into_view_if_needed()
        box = page.locator("#unit-map").bounding_box()
        assert box is not None
        inner = page.evaluate(
            "([lon, lat]) => document.getElementById('unit-map').tinhsoChart"
            ".convertToPixel({geoIndex: 0}, [lon, lat])",
            list(viet_yen),
        )
        page.mouse.move(box["x"] + inner[0], box["y"] + inner[1])
        tip = page.locator("#unit-map div").filter(has_text="Mục tiêu 2025: 70")
        expect(tip.last).to_contain_text("Phường Việt Yên")
        expect(tip.last).to_contain_text("Không đạt")
        _check(page, "map-targets", width, found)
        page.locator("#map-breadcrumb").get_by_role("link", name="Toàn quốc").click()
        expect(page.locator("#map-values tbody tr")).to_have_count(34)
        expect(page.locator("#no-target-note")).to_be_visible()  # the targets are communes'
        # In English: the same legend, English words and number format.
        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.goto("/monitoring/map?indicator=kt_thanh_toan&period=2025&mode=value")
        legend = page.locator(".unit-map-legend")
        expect(legend).to_contain_text("Legend: value ranges")
        expect(legend).to_contain_text("44 – 51.5")
        expect(legend).to_contain_text("74 – 81.5")
        expect(legend).to_contain_text("Units: current administrative boundaries")
        _check(page, "map-legend-en", width, found)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
