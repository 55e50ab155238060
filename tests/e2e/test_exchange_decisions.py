"""Journey 2 of issue 14 in a real browser, in Vietnamese, at 390 and 1920 px: the provider's
administrator opens a connection request from the queue, tries to refuse it without a proper
reason (marked in place), then refuses it in writing; the page becomes the written decision.
axe-core runs on every page visited. Screenshots: ``exchange-decision-{390,1920}.png``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.exchange.conftest import API, request_payload

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.e2e.conftest import BrowserThread
    from tests.exchange.conftest import ExchangeWorld

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1920])
def test_a_provider_refuses_a_request_in_writing(
    browser: BrowserThread,
    live_server: str,
    client: TestClient,
    exchange_world: ExchangeWorld,
    width: int,
) -> None:
    made = client.post(
        f"{API}/requests", json=request_payload(), headers=exchange_world.consumer_officer.headers
    )
    assert made.status_code == 201, made.text
    request_id = made.json()["id"]
    found: list[str] = []
    reason = "Chưa có căn cứ pháp lý cho việc khai thác dữ liệu cá nhân của công dân."

    def journey(page: Page) -> None:
        page.goto("/login?next=/exchange")
        page.get_by_label("Tên đăng nhập").fill(exchange_world.provider_admin.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("link", name=f"Quyết định yêu cầu số {request_id}").click()
        expect(page.locator("h1")).to_have_text(f"Yêu cầu kết nối số {request_id}")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Lý do từ chối").fill("Không")
        page.get_by_role("button", name="Từ chối bằng văn bản").click()
        expect(page.locator("#reason-error")).to_contain_text("ít nhất 10 ký tự")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Lý do từ chối").fill(reason)
        page.get_by_role("button", name="Từ chối bằng văn bản").click()
        expect(page.locator("#request-status")).to_have_text("Đã từ chối")
        expect(page.locator("#decision-reason")).to_have_text(reason)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        found.extend(serious_accessibility_violations(page))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"exchange-decision-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_a_consumer_requests_and_the_provider_approves(
    browser: BrowserThread, live_server: str, exchange_world: ExchangeWorld, width: int
) -> None:
    found: list[str] = []

    def log_in(page: Page, username: str, next_path: str) -> None:
        page.context.clear_cookies()
        page.goto(f"/login?next={next_path}")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()

    def journey(page: Page) -> None:
        log_in(page, exchange_world.consumer_officer.username, "/exchange")
        page.get_by_role("link", name="Đề nghị kết nối").first.click()
        expect(page.locator("h1")).to_have_text("Đề nghị kết nối")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Dịch vụ").select_option("so-yte/his/ho-so-suc-khoe/v1")
        page.get_by_label("Hệ thống khai thác").select_option("ubnd-viet-yen/mot-cua")
        page.get_by_label("Mục đích").fill("Giải quyết thủ tục hành chính cho công dân")
        page.get_by_label("Căn cứ pháp lý").fill("Nghị định 194/2025/NĐ-CP")
        page.get_by_label("Đường dẫn").fill("/citizens/{id}")
        page.get_by_role("button", name="Gửi đề nghị").click()
        expect(page.locator("#request-status")).to_have_text("Chờ quyết định")
        found.extend(serious_accessibility_violations(page))
        request_path = page.url.removeprefix(live_server)

        log_in(page, exchange_world.provider_admin.username, request_path)
        page.get_by_role("button", name="Chấp thuận và cấp quyền").click()
        expect(page.locator("#request-status")).to_have_text("Đã chấp thuận")
        found.extend(serious_accessibility_violations(page))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"exchange-approved-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
