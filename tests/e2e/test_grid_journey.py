"""Journey 3 in Chromium, in Vietnamese, at 390 and 1920 px: a ward officer fills the month's
reporting grid and submits it; a province officer sends it back with a comment, which the ward
officer then reads. axe-core on every page visited; screenshots ``grid-*.png``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.monitoring.test_grid import PERIOD, WARD, monthly  # noqa: F401 - a fixture
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread
    from tests.reports.conftest import ReportsWorld

pytestmark = pytest.mark.e2e


def _sign_in(page: Page, username: str, path: str) -> None:
    page.context.clear_cookies()
    page.goto(f"/login?next={path}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()


def _check(page: Page, name: str, width: int, found: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    if page.evaluate("document.documentElement.scrollWidth - window.innerWidth") > 0:
        found.append(f"{name}: wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    page.screenshot(path=str(SCREENSHOTS / f"grid-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [390, 1920])
def test_a_ward_fills_the_grid_and_the_province_sends_it_back(
    browser: BrowserThread,
    live_server: str,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    monthly: list[str],  # noqa: F811
    width: int,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ward = make_official(Role.OFFICER, reports_world.ward_org).username
    province = make_official(Role.OFFICER, reports_world.province_org).username
    path = f"/monitoring/grid?unit={WARD}&period={PERIOD}"
    found: list[str] = []

    def journey(page: Page) -> None:
        _sign_in(page, ward, path)
        page.goto(path)
        expect(page.locator("h1")).to_have_text("Bảng nhập số liệu kỳ báo cáo")
        page.get_by_label("Hồ sơ nộp trực tuyến").fill("1.250")
        page.get_by_label("Giao dịch thanh toán trực tuyến").fill("8x")
        page.get_by_role("button", name="Lưu tất cả").click()
        expect(page.locator(".field-error").first).to_contain_text("không phải là số")
        _check(page, "error", width, found)
        page.get_by_label("Giao dịch thanh toán trực tuyến").fill("87")
        page.get_by_role("button", name="Lưu tất cả").click()
        expect(page.get_by_role("status")).to_contain_text("Đã lưu")
        page.get_by_role("button", name="Gửi duyệt").click()
        expect(page.locator("#grid-state")).to_have_text("Đã gửi, chờ duyệt")
        _check(page, "submitted", width, found)

        _sign_in(page, province, path)
        page.goto(path)
        page.get_by_label("Nhận xét (bắt buộc khi trả lại)").fill("Số giao dịch tháng 10 còn thiếu")
        _check(page, "review", width, found)
        page.get_by_role("button", name="Trả lại").click()
        expect(page.locator("#grid-state")).to_have_text("Trả lại để sửa")

        _sign_in(page, ward, path)
        page.goto(path)
        expect(page.locator("#grid-comment")).to_contain_text("Số giao dịch tháng 10 còn thiếu")
        _check(page, "returned", width, found)

    browser.run(journey, live_server, width=width, height=900)
    assert found == []
