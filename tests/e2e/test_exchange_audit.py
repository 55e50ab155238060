"""The audit log in a real browser, in Vietnamese, at 390 and 1920 px: the provider's officer
filters its exchanges to the refused ones, opens one and reads its proof. axe-core on every
page visited. Screenshots: ``exchange-audit-{390,1920}.png``,
``exchange-audit-record-{390,1920}.png``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.exchange.test_audit import _record

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.e2e.conftest import BrowserThread
    from tests.exchange.conftest import ExchangeWorld
    from tinhso.core.config import Settings

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1920])
def test_an_officer_finds_a_refused_exchange_and_reads_its_proof(
    browser: BrowserThread,
    live_server: str,
    exchange_world: ExchangeWorld,
    engine: Engine,
    settings: Settings,
    sessions: sessionmaker[Session],
    width: int,
) -> None:
    _record(engine, settings, sessions)
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/exchange/audit")
        page.get_by_label("Tên đăng nhập").fill(exchange_world.provider_officer.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Nhật ký trao đổi dữ liệu")
        page.get_by_label("Trạng thái").select_option("4xx")
        page.get_by_role("button", name="Tìm kiếm").click()
        expect(page.get_by_role("link", name="Bản ghi số 2")).to_be_visible()
        expect(page.get_by_role("link", name="Bản ghi số 1")).to_have_count(0)
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"exchange-audit-{width}.png"), full_page=True)
        page.get_by_role("link", name="Bản ghi số 2").click()
        expect(page.locator("#proof-verdict")).to_contain_text("Đã chứng minh")
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        page.screenshot(
            path=str(SCREENSHOTS / f"exchange-audit-record-{width}.png"), full_page=True
        )

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
