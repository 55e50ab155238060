"""Journey 5 of issue 14 in a real browser: the official preparing the monthly report exports
the plan progress to XLSX and prints it on A4 (landscape) with no column cut off.

Files: ``test-output/screenshots/progress-print-{390,1920}.png`` (the page as printed) and
``progress-{390,1920}.pdf``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.monitoring.support import AS_OF, load_demo
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e

# A4 landscape is 297 mm wide; less 2 x 10 mm of margin, at 96 CSS px per inch.
A4_LANDSCAPE_CONTENT_PX = int((297 - 20) / 25.4 * 96)


@pytest.mark.parametrize("width", [390, 1920])
def test_the_plan_progress_is_exported_and_printed_on_a4(
    browser: BrowserThread,
    live_server: str,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    width: int,
) -> None:
    load_demo(sessions)
    username = make_official(Role.VIEWER, "so-tttt", username=f"bao-cao-{width}").username
    found: list[str] = []
    workbook: list[bytes] = []

    def journey(page: Page) -> None:
        page.goto(f"/login?next=/monitoring?as_of={AS_OF}")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("#export-xlsx")).to_be_visible()
        rows = page.locator("tr[data-indicator]").count()
        assert rows > 0
        found.extend(serious_accessibility_violations(page))

        with page.expect_download() as download:
            page.locator("#export-xlsx").click()
        path = download.value.path()
        workbook.append(path.read_bytes())
        assert download.value.suggested_filename.endswith(f"-{AS_OF}.xlsx")

        # The page as the printer gets it, on an A4 landscape sheet.
        page.set_viewport_size({"width": A4_LANDSCAPE_CONTENT_PX, "height": 1000})
        page.emulate_media(media="print")
        assert page.locator(".main-nav").is_hidden()
        assert page.locator("#export-xlsx").is_hidden()
        cut = page.evaluate(
            """() => [...document.querySelectorAll('.table-scroll')]
                .filter(box => box.scrollWidth > box.clientWidth + 1)
                .map(box => box.getAttribute('aria-labelledby'))"""
        )
        assert cut == [], f"columns cut off in print: {cut}"
        wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wider <= 0, f"the printed page is {wider} px wider than A4"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"progress-print-{width}.png"), full_page=True)
        page.pdf(
            path=str(SCREENSHOTS / f"progress-{width}.pdf"),
            format="A4",
            landscape=True,
            print_background=True,
        )

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
    book = load_workbook(io.BytesIO(workbook[0]))
    sheet = book["Tiến độ kế hoạch"]
    assert sheet.max_row > 1
    assert next(sheet.iter_rows(values_only=True))[1] == "Chỉ số"
    assert (SCREENSHOTS / f"progress-{width}.pdf").stat().st_size > 10_000
