"""Kiosk links in a real browser, in Vietnamese, at 390 and 1920 px: a platform administrator
creates a link for two dashboards and the commune Việt Yên on the management page and copies
its address (shown once); signed out, the address opens the wall screen of those dashboards
for Việt Yên (no navigation, no sign-in); the link is revoked and the screen, at its next
fetch, keeps its last picture under "Liên kết trình chiếu đã bị thu hồi"; opened again, the
address says the same. axe-core clean, nothing wider than the window. Screenshots:
``kiosk-links-{w}.png``, ``kiosk-{w}.png``, ``kiosk-revoked-{w}.png``, ``kiosk-ended-{w}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.test_dashboards import VIET_YEN, _check, _log_in, _world
from tinhso.monitoring.dashboards.kiosk import kiosk_service
from tinhso.monitoring.dashboards.models import KioskLink

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e

REVOKED = "Liên kết trình chiếu đã bị thu hồi"


@pytest.mark.parametrize("width", [390, 1920])
def test_a_kiosk_link_opens_signed_out_and_says_when_it_is_revoked(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    width: int,
) -> None:
    _world(sessions)
    admin = make_official(platform_admin=True, username="quan-tri-trinh-chieu")
    found: list[str] = []

    def revoke() -> None:
        with sessions.begin() as session:
            link = session.scalars(select(KioskLink)).one()
            kiosk_service.revoke(session, link, None)

    def journey(page: Page) -> None:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        _log_in(page, admin.username, "/monitoring/kiosk-links")
        expect(page.locator("h1")).to_have_text("Liên kết trình chiếu")
        page.get_by_label("Nhãn (nơi đặt màn hình)").fill("Phòng họp UBND tỉnh")
        page.get_by_label("Tổng quan tỉnh").check()
        page.get_by_label("Thanh toán số").check()
        page.get_by_label("Đơn vị hiển thị", exact=False).fill(VIET_YEN)
        page.get_by_label("Làm mới sau mỗi (giây)").fill("10")
        page.get_by_label("Hết hạn vào cuối ngày", exact=False).fill("31/12/2099")
        page.get_by_role("button", name="Tạo liên kết").click()
        address = page.locator("#kiosk-url")
        expect(address).to_be_visible()
        expect(page.locator("#kiosk-list")).to_contain_text("Phòng họp UBND tỉnh")
        expect(page.locator("#kiosk-list")).to_contain_text("Chưa dùng")
        expect(page.locator("#kiosk-list")).to_contain_text("31/12/2099")
        url = address.input_value()
        assert "/monitoring/kiosk?k=" in url
        _check(page, f"kiosk-links-{width}", found)
        # Signed out, the address alone opens the wall screen of Việt Yên.
        page.context.clear_cookies()
        kiosk = "/monitoring/kiosk?" + url.split("/monitoring/kiosk?", 1)[1]
        page.goto(kiosk)
        wall = page.locator("#wall")
        expect(page.locator(".main-nav")).to_have_count(0)
        # The playlist in the list's order (by address name): Thanh toán số, then Tổng quan.
        expect(wall).to_have_attribute("data-current", "thanh-toan-so")
        expect(page.locator(".wall-kiosk-label")).to_contain_text("Phòng họp UBND tỉnh")
        expect(wall).to_have_attribute("data-current", "tong-quan-tinh", timeout=9_000)
        expect(page.locator("#screen-2 h1")).to_have_text("Tổng quan tỉnh")
        expect(page.locator("#screen-2 .wall-unit")).to_contain_text("Việt Yên")
        expect(page.locator("#screen-2 .dash-kpi-value").first).to_contain_text("66")
        expect(page.locator("#screen-2 .dash-map-chart[data-ready='1']")).to_have_count(1)
        page.wait_for_load_state("networkidle")
        _check(page, f"kiosk-{width}", found)
        # Revoked: at the next fetch (10 s) the last picture stays under the notice.
        revoke()
        ended = page.locator("#wall-ended")
        expect(ended).to_be_visible(timeout=25_000)
        expect(ended).to_have_text(REVOKED)
        expect(page.locator(".wall-screen:not([hidden]) .dash-panel").first).to_be_visible()
        _check(page, f"kiosk-revoked-{width}", found)
        page.goto(kiosk)
        expect(page.locator("#kiosk-ended")).to_have_text(REVOKED)
        _check(page, f"kiosk-ended-{width}", found)
        found.extend(errors)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
