"""The catalogue journey of issue 14 in a real browser, in Vietnamese, at 390 and 1920 px: a
provider's officer uploads an OpenAPI file with a mistake, sees the line it is on, corrects it
in place and registers the service, then publishes it; a consumer's officer finds it by a
search without diacritics, reads its data standard and opens the request form with the
service chosen. axe-core runs on every page visited.

Screenshots: ``catalogue-error-{w}.png``, ``catalogue-published-{w}.png``,
``catalogue-search-{w}.png``, ``catalogue-service-{w}.png`` (and its data standard alone,
``catalogue-standard-{w}.png``), ``catalogue-request-{w}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.exchange.test_catalogue import BROKEN_LINE, BROKEN_YAML, DOCUMENT_YAML

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import BrowserThread
    from tests.exchange.conftest import ExchangeWorld

pytestmark = pytest.mark.e2e


def _fits(page: Page) -> list[str]:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return [f"{page.url}: {overflow} px wider than the window"] if overflow > 0 else []


@pytest.mark.parametrize("width", [390, 1920])
def test_a_provider_publishes_from_openapi_and_a_consumer_finds_it_without_diacritics(
    browser: BrowserThread,
    live_server: str,
    exchange_world: ExchangeWorld,
    width: int,
    tmp_path: Path,
) -> None:
    found: list[str] = []
    upload = tmp_path / "dang-ky-kinh-doanh.yaml"
    upload.write_text(BROKEN_YAML, encoding="utf-8")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def log_in(page: Page, username: str, next_path: str) -> None:
        page.context.clear_cookies()
        page.goto(f"/login?next={next_path}")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()

    def check(page: Page) -> None:
        found.extend(serious_accessibility_violations(page))
        found.extend(_fits(page))

    def journey(page: Page) -> None:
        log_in(page, exchange_world.provider_officer.username, "/exchange/catalogue")
        expect(page.locator("h1")).to_have_text("Danh mục dịch vụ")
        check(page)
        page.get_by_role("link", name="Công bố dịch vụ").click()
        expect(page.locator("h1")).to_have_text("Công bố dịch vụ")
        check(page)
        page.get_by_label("Hệ thống cung cấp").select_option("so-yte/his")
        page.get_by_label("Mã dịch vụ").fill("dang-ky-kinh-doanh")
        page.get_by_label("Địa chỉ đích của cổng kết nối").fill("https://10.20.30.41/api")
        page.get_by_label("Tải lên tệp (.json, .yaml)").set_input_files(upload)
        page.get_by_role("button", name="Kiểm tra và đăng ký bản nháp").click()
        error = page.locator("#svc-document-error")
        expect(error).to_contain_text(f"Dòng {BROKEN_LINE}:")
        expect(error).to_contain_text("duong-dan")
        check(page)
        error.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"catalogue-error-{width}.png"), full_page=True)
        document = page.get_by_label("hoặc dán vào đây")
        expect(document).to_have_value(BROKEN_YAML)  # shown again to correct in place
        selected = document.evaluate("a => a.value.slice(a.selectionStart, a.selectionEnd)")
        assert selected.strip() == "in: duong-dan"  # the faulty line, selected
        document.fill(DOCUMENT_YAML)
        page.get_by_role("button", name="Kiểm tra và đăng ký bản nháp").click()
        expect(page.locator("#service-status")).to_have_text("Bản nháp")
        page.get_by_role("button", name="Công bố").click()
        expect(page.locator("#service-status")).to_have_text("Đã công bố")
        expect(page.locator("#published-at")).not_to_have_text("—")
        check(page)
        page.screenshot(path=str(SCREENSHOTS / f"catalogue-published-{width}.png"), full_page=True)

        log_in(page, exchange_world.consumer_officer.username, "/exchange/catalogue")
        page.get_by_role("searchbox", name="Tìm kiếm").fill("dang ky kinh doanh")
        page.get_by_role("button", name="Tìm kiếm").click()
        expect(page.locator("#catalogue-count")).to_have_text("1 dịch vụ")
        check(page)
        page.screenshot(path=str(SCREENSHOTS / f"catalogue-search-{width}.png"), full_page=True)
        page.get_by_role("link", name="Tra cứu đăng ký kinh doanh").click()
        expect(page.locator("h1")).to_contain_text("Tra cứu đăng ký kinh doanh")
        expect(page.locator("#data-standard")).to_contain_text("ma_so_thue")
        expect(page.locator("#provider-contact")).to_contain_text("cntt@sokhdt.example.vn")
        check(page)
        page.screenshot(path=str(SCREENSHOTS / f"catalogue-service-{width}.png"), full_page=True)
        page.locator("#data-standard").screenshot(
            path=str(SCREENSHOTS / f"catalogue-standard-{width}.png")
        )
        page.get_by_role("link", name="Đề nghị kết nối").click()
        expect(page.locator("h1")).to_have_text("Đề nghị kết nối")
        expect(page.get_by_label("Dịch vụ")).to_have_value("so-yte/his/dang-ky-kinh-doanh/v1")
        check(page)
        page.screenshot(path=str(SCREENSHOTS / f"catalogue-request-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
