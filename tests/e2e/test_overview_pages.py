"""The plan overview a page at a time, in a real browser at a phone's width (390 px) and a
wall screen's (1920 px): the first page's rows, the pager's links to the next and back, the
status tiles counting every target; no serious or critical axe-core violation, nothing
wider than the window.

Screenshots: ``test-output/screenshots/overview-paged-{390,1920}.png`` (page 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.monitoring.support import AS_OF, load_demo
from tinhso.portal.monitoring import overview
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1920])
def test_the_plan_overview_is_read_a_page_at_a_time(
    browser: BrowserThread,
    live_server: str,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    monkeypatch: Any,
    width: int,
) -> None:
    load_demo(sessions)  # Plan 324: 18 targets, 4 pages of 5
    monkeypatch.setattr(overview, "PAGE_SIZE", 5)
    username = make_official(Role.VIEWER, "so-tttt", username=f"trang-{width}").username
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto(f"/login?next=/monitoring?as_of={AS_OF}")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        rows = page.locator("tr[data-indicator]")
        expect(rows).to_have_count(5)
        pager = page.locator("#targets-pager")
        expect(pager).to_contain_text("Trang 1 / 4")
        expect(pager).to_contain_text("mục tiêu 1–5 trên tổng số 18")
        expect(pager.get_by_role("link", name="Trang trước")).to_have_count(0)
        tiles = page.locator(".status-stat-value").all_inner_texts()
        assert sum(int(t) for t in tiles) == 18  # every target counted, not the page's
        first = rows.first.get_attribute("data-indicator")
        found.extend(serious_accessibility_violations(page))

        pager.get_by_role("link", name="Trang sau").click()
        expect(page.locator("#targets-pager")).to_contain_text("Trang 2 / 4")
        expect(page.locator("tr[data-indicator]")).to_have_count(5)
        expect(page.locator("#status-chart canvas")).to_have_count(1)
        found.extend(serious_accessibility_violations(page))
        wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wider <= 0, f"the page is {wider} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"overview-paged-{width}.png"), full_page=True)

        page.locator("#targets-pager").get_by_role("link", name="Trang trước").click()
        expect(page.locator("#targets-pager")).to_contain_text("Trang 1 / 4")
        assert page.locator("tr[data-indicator]").first.get_attribute("data-indicator") == first

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
