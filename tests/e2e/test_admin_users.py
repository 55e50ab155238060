"""Journey 4 of issue 14 in a real browser, in Vietnamese, at 390 and 1920 px: a platform
admin creates a commune officer's account, the officer logs in with the password shown once
and reaches the data-entry page. axe-core runs on every page visited.

Screenshots: ``test-output/screenshots/admin-users-{390,1920}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations

if TYPE_CHECKING:
    from tests.conftest import Official
    from tests.e2e.conftest import BrowserThread

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("province_tree")]


def _log_in(page: Page, username: str, password: str, next_path: str) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


@pytest.mark.parametrize("width", [390, 1920])
def test_an_admin_creates_a_commune_officer_account(
    browser: BrowserThread, live_server: str, admin: Official, width: int
) -> None:
    found: list[str] = []
    username = f"can-bo-xa-{width}"

    def journey(page: Page) -> None:
        _log_in(page, admin.username, TEST_PASSWORD, "/admin/users")
        expect(page.locator("h1")).to_have_text("Người dùng")
        found.extend(serious_accessibility_violations(page))
        # A mistake first: the form says which field, nothing is created.
        page.get_by_label("Tên đăng nhập").fill("Cán bộ")
        page.get_by_role("button", name="Tạo tài khoản").click()
        expect(page.locator("#user-username-error")).to_contain_text("chữ thường không dấu")
        expect(page.locator("#user-full_name-error")).to_have_text("Trường này là bắt buộc.")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Họ và tên").fill("Nguyễn Thị Hoa")
        page.get_by_label("Tổ chức").select_option(label="UBND thị xã Việt Yên")
        page.get_by_label("Vai trò").select_option(label="Cán bộ")
        page.get_by_role("button", name="Tạo tài khoản").click()
        expect(page.locator("#created")).to_contain_text(f"Đã tạo tài khoản {username}")
        expect(page.locator(f'tr[data-username="{username}"]')).to_contain_text(
            "Cán bộ · UBND thị xã Việt Yên"
        )
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        found.extend(serious_accessibility_violations(page))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"admin-users-{width}.png"), full_page=True)
        password = page.locator("#created-password").inner_text()

        page.context.clear_cookies()
        _log_in(page, username, password, "/monitoring/entry")
        expect(page.locator("h1")).to_have_text("Nhập số liệu")
        expect(page.get_by_role("link", name="Người dùng")).to_have_count(0)
        found.extend(serious_accessibility_violations(page))

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
