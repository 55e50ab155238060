"""Report categories in a real browser, in Vietnamese, at 390 and 1920 px: a platform admin
opens the categories from the operators' page, creates one whose list question has no
choice (the problem is marked at the field, nothing is stored), adds the choices and saves;
the new category is on the list, and the citizens' form asks its question once it is
chosen. axe-core on every page visited.

Screenshots: ``report-categories-{390,1920}.png``, ``report-category-{390,1920}.png``, ``report-questions-{390,1920}.png``.
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
    from tests.reports.conftest import ReportsWorld

pytestmark = pytest.mark.e2e


def _check(page: Page, name: str, width: int, found: list[str]) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{name}: {overflow} px wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [390, 1920])
def test_an_operator_creates_a_category_with_a_list_question(
    browser: BrowserThread,
    live_server: str,
    reports_world: ReportsWorld,
    admin: Official,
    width: int,
) -> None:
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/reports/operators")
        page.get_by_label("Tên đăng nhập").fill(admin.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.locator("main").get_by_role("link", name="Loại phản ánh", exact=True).click()
        expect(page.locator("h1")).to_have_text("Loại phản ánh")
        expect(page.locator('tr[data-code="moi-truong"]')).to_contain_text("Đang sử dụng")
        page.get_by_role("link", name="Thêm loại phản ánh").click()
        expect(page.locator("h1")).to_have_text("Loại phản ánh mới")
        page.locator("#cat-code").fill("cay-xanh")
        page.get_by_label("Tên tiếng Việt").fill("Cây xanh")
        page.get_by_label("Tên tiếng Anh").fill("Trees")
        page.get_by_label("Mức độ (quyết định thời hạn xử lý)").select_option(label="Khẩn")
        question = page.locator("#question-0")
        question.get_by_label("Mã", exact=True).fill("tinh-trang")
        question.get_by_label("Kiểu trả lời").select_option(label="Chọn một trong danh sách")
        question.get_by_label("Câu hỏi tiếng Việt").fill("Tình trạng cây")
        question.get_by_label("Bắt buộc trả lời").check()
        page.get_by_role("button", name="Tạo loại phản ánh").click()
        expect(page.locator("#form-problems")).to_be_visible()
        expect(page.locator("#q-0-values-error")).to_contain_text("ít nhất một lựa chọn")
        _check(page, "report-category", width, found)
        page.locator("#question-0").get_by_label("Các lựa chọn (chỉ với danh sách)").fill(
            "Gãy đổ\nNghiêng nguy hiểm"
        )
        page.get_by_role("button", name="Tạo loại phản ánh").click()
        expect(page.locator("#saved")).to_be_visible()
        expect(page.locator("#q-0-values")).to_have_value(
            "gay-do = Gãy đổ\nnghieng-nguy-hiem = Nghiêng nguy hiểm"
        )
        page.get_by_role("link", name="Loại phản ánh", exact=True).first.click()
        expect(page.locator('tr[data-code="cay-xanh"]')).to_contain_text("Khẩn")
        _check(page, "report-categories", width, found)
        # The citizens' form asks the new category's question once it is chosen (HTMX).
        page.goto("/reports/new")
        expect(page.locator("#rep-attribute-tinh-trang")).to_have_count(0)
        page.get_by_label("Phản ánh về lĩnh vực nào?").select_option(label="Cây xanh")
        question = page.get_by_label("Tình trạng cây (bắt buộc)")
        expect(question).to_be_visible()
        question.select_option(label="Nghiêng nguy hiểm")
        _check(page, "report-questions", width, found)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
