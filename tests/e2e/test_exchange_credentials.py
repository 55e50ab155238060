"""Credentials in a real browser, in Vietnamese, at 390 and 1920 px: the provider's
administrator makes a client secret, sees it once with its copy and download buttons, then
revokes it after ticking the confirmation. axe-core on every page visited. Screenshots:
``exchange-credentials-{390,1920}.png``, ``exchange-credential-issued-{390,1920}.png``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations

if TYPE_CHECKING:
    from tests.e2e.conftest import BrowserThread
    from tests.exchange.conftest import ExchangeWorld

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1920])
def test_an_admin_makes_a_secret_sees_it_once_and_revokes_it(
    browser: BrowserThread, live_server: str, exchange_world: ExchangeWorld, width: int
) -> None:
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/exchange/credentials")
        page.get_by_label("Tên đăng nhập").fill(exchange_world.provider_admin.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Thông tin xác thực ứng dụng")
        page.get_by_label("Hệ thống", exact=True).select_option(label="Hệ thống his (so-yte/his)")
        page.get_by_label("Nhãn").fill("Máy chủ HIS 1")
        page.get_by_label("Ngày hết hạn").fill("31/02/2030")
        page.get_by_role("button", name="Tạo thông tin xác thực").click()
        expect(page.locator("#cred-expires_on-error")).to_contain_text("dd/mm/yyyy")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Ngày hết hạn").fill("31/12/2030")
        page.get_by_role("button", name="Tạo thông tin xác thực").click()
        expect(page.locator("h1")).to_have_text("Đã cấp thông tin xác thực")
        secret = page.locator("#issued-secret").inner_text()
        assert len(secret) >= 32
        expect(page.get_by_role("button", name="Sao chép khoá bí mật")).to_be_visible()
        expect(page.get_by_role("link", name="Tải về (JSON)")).to_be_visible()
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"exchange-credential-issued-{width}.png"), full_page=True
        )
        page.get_by_role("link", name="Quay lại danh sách thông tin xác thực").click()
        expect(page.locator("body")).not_to_contain_text(secret)
        expect(page.locator("body")).to_contain_text("31/12/2030")
        page.get_by_label("Tôi xác nhận").check()
        page.get_by_role("button", name="Thu hồi").click()
        expect(page.locator("#credentials-notice")).to_contain_text("Đã thu hồi")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        found.extend(serious_accessibility_violations(page))
        page.screenshot(path=str(SCREENSHOTS / f"exchange-credentials-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
