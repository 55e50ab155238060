"""The scheduled-jobs page in a real browser at 390 px and 1920 px, checked with axe-core.

Screenshots: ``test-output/screenshots/admin-jobs-{390,1920}.png``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, BrowserThread, serious_accessibility_violations
from tinhso.core.jobs.runner import Job, JobContext, JobRunner
from tinhso.core.jobs.schedule import Schedule

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tests.conftest import Official

pytestmark = pytest.mark.e2e


async def _collect(context: JobContext) -> str:
    return "succeeded=12 failed=1 skipped=0"


async def _refresh(context: JobContext) -> str:
    msg = "the national directory did not answer within 30 s"
    raise TimeoutError(msg)


@pytest.fixture
def ran_jobs(engine: Engine) -> None:
    jobs = [
        Job(
            "monitoring.collection",
            Schedule.every(1),
            _collect,
            "Thu thập số liệu tự động qua trục trao đổi",
            "Automatic collection of values through the exchange hub",
        ),
        Job(
            "exchange.directory",
            Schedule.daily(6, 30),
            _refresh,
            "Làm mới danh bạ dịch vụ quốc gia",
            "Refresh of the national service directory",
        ),
    ]
    runner = JobRunner(engine, jobs, worker="lgsp-node-1:4242:a1b2c3")
    runner.register()
    asyncio.run(runner.run_due())


@pytest.mark.usefixtures("ran_jobs")
@pytest.mark.parametrize("width", [390, 1920])
def test_the_jobs_page_reads_well_and_passes_axe_at_phone_and_wall_widths(
    browser: BrowserThread, live_server: str, admin: Official, width: int
) -> None:
    def journey(page: Page) -> None:
        page.goto("/login?next=/admin/jobs")
        page.fill("input[name=username]", admin.username)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Công việc định kỳ")
        expect(page.get_by_text("hằng ngày lúc 06:30")).to_be_visible()
        expect(page.get_by_text("TimeoutError: the national directory").first).to_be_visible()
        # nothing is wider than the window
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        assert serious_accessibility_violations(page) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"admin-jobs-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=900)
