"""Journey 1 of issue 14, its last steps, in a real browser, in Vietnamese, at 390 and 1920 px,
against a running gateway: the consumer's administrator creates a client secret in the portal,
the consumer's software obtains a token with it and calls the service through the gateway, and
both the consumer's and the provider's officials find that exchange in the audit search, proven
by its hash and its link. (Publishing, requesting and approving are the journeys of
test_exchange_catalogue and test_exchange_decisions; here the service is published and granted
through the API.) axe-core on every page visited. Screenshots:
``journey1-audit-{consumer,provider}-{390,1920}.png``."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.exchange.conftest import consumer_secret  # noqa: F401 - a fixture
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    settings,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e


def _log_in(page: Page, username: str, next_path: str) -> None:
    page.context.clear_cookies()
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


@pytest.mark.parametrize("width", [390, 1920])
def test_a_credential_made_in_the_portal_calls_the_gateway_and_both_see_the_exchange(
    browser: BrowserThread,
    live_server: str,
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    width: int,
) -> None:
    world = gateway_world
    gateway = world.gateway()
    found: list[str] = []
    issued: dict[str, str] = {}

    def make_credential(page: Page) -> None:
        _log_in(page, world.world.consumer_admin.username, "/exchange/credentials")
        page.get_by_label("Hệ thống", exact=True).select_option(
            label="Hệ thống mot-cua (ubnd-viet-yen/mot-cua)"
        )
        page.get_by_label("Nhãn").fill("Máy chủ một cửa 2")
        page.get_by_role("button", name="Tạo thông tin xác thực").click()
        expect(page.locator("h1")).to_have_text("Đã cấp thông tin xác thực")
        issued["client_id"] = page.locator("#issued-client-id").inner_text()
        issued["secret"] = page.locator("#issued-secret").inner_text()
        found.extend(serious_accessibility_violations(page))

    browser.run(make_credential, live_server, width=width, height=1000)
    token = world.token(issued["client_id"], issued["secret"])
    # A new credential reaches the gateway by the registry's change notice, not at once (the
    # 2 s promise is tested in tests/exchange/test_registry_notices.py; a loaded machine
    # stretches it, and this journey is about the flow, not that latency).
    deadline = time.monotonic() + 10
    while True:
        answer = raw_request(
            gateway.url, "GET", f"/{SERVICE}/citizens/42", {"Authorization": f"Bearer {token}"}
        )
        if answer.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer.status == 200, answer
    deadline = time.monotonic() + 10
    while not any(r["consumer"] == "ubnd-viet-yen/mot-cua" for r in world.records()):
        assert time.monotonic() < deadline, "the gateway wrote no audit record"
        time.sleep(0.1)

    def see_it(page: Page) -> None:
        for who, official in (
            ("consumer", world.world.consumer_officer),
            ("provider", world.world.provider_officer),
        ):
            _log_in(page, official.username, "/exchange/audit")
            expect(page.locator("h1")).to_have_text("Nhật ký trao đổi dữ liệu")
            page.get_by_label("Hệ thống bên kia").fill("ubnd-viet-yen/mot-cua")
            page.get_by_role("button", name="Tìm kiếm").click()
            expect(page.locator("table")).to_contain_text("/citizens/")
            found.extend(serious_accessibility_violations(page))
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / f"journey1-audit-{who}-{width}.png"), full_page=True
            )
            page.get_by_role("link", name=re.compile(r"^Bản ghi số \d+$")).first.click()
            expect(page.locator("body")).to_contain_text("khớp với nội dung")
            expect(page.locator("body")).to_contain_text("nối đúng")
            found.extend(serious_accessibility_violations(page))

    browser.run(see_it, live_server, width=width, height=1000)
    assert found == []
