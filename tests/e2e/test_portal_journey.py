"""A real browser (Playwright driving Debian's chromium) logs in and uses the home page.

The app runs under uvicorn in a background thread on a free loopback port, on the
suite's database. A screenshot of the home page is saved to
``test-output/screenshots/portal-home.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, BrowserThread
from tinhso.registry.schemas import SystemCreate
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

pytestmark = pytest.mark.e2e


@pytest.fixture
def registry_data(
    province_tree: dict[str, str], sessions: sessionmaker[Session], make_official: MakeOfficial
) -> str:
    systems = [
        (
            "so-yte",
            "his",
            "Hệ thống thông tin bệnh viện",
            "Hospital information system",
            True,
            True,
        ),
        (
            "so-yte",
            "tiem-chung",
            "Hệ thống quản lý tiêm chủng",
            "Immunisation register",
            False,
            True,
        ),
        ("so-tttt", "mot-cua", "Hệ thống một cửa điện tử", "One-stop-shop system", True, False),
        (
            "so-tttt",
            "lgsp",
            "Nền tảng tích hợp, chia sẻ dữ liệu",
            "Data sharing platform",
            True,
            True,
        ),
        (
            "ubnd-viet-yen",
            "qlvb",
            "Quản lý văn bản và điều hành",
            "Document management",
            True,
            False,
        ),
    ]
    with sessions.begin() as session:
        for organisation, code, name_vi, name_en, consumer, provider in systems:
            system_service.create(
                session,
                SystemCreate(
                    organisation_code=organisation,
                    code=code,
                    name_vi=name_vi,
                    name_en=name_en,
                    is_consumer=consumer,
                    is_provider=provider,
                ),
            )
    return make_official(username="nguyen-van-an").username


def test_official_logs_in_sees_the_home_page_switches_language_and_logs_out(
    browser: BrowserThread, live_server: str, registry_data: str
) -> None:
    browser.run(lambda page: _home_journey(page, live_server, registry_data), live_server)


def _home_journey(page: Page, live_server: str, registry_data: str) -> None:
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Not logged in: the home page sends the official to the login form, in Vietnamese.
    page.goto("/")
    expect(page).to_have_url(f"{live_server}/login?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()

    # A wrong password is refused with a clear message.
    page.get_by_label("Tên đăng nhập").fill(registry_data)
    page.get_by_label("Mật khẩu").fill("mat-khau-sai")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng")

    # The right one opens the home page.
    page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", name="Tổng quan")).to_be_visible()
    expect(page.locator(".user-name")).to_have_text("Cán bộ nguyen-van-an")
    tree = page.locator("#organisation-tree")
    for name in (
        "UBND tỉnh Bắc Giang",
        "Sở Y tế",
        "Sở Thông tin và Truyền thông",
        "UBND tỉnh khác",
    ):
        expect(tree.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(tree.get_by_text("Hệ thống thông tin bệnh viện")).to_be_visible()
    expect(tree.get_by_text("Quản lý văn bản và điều hành")).to_be_visible()
    expect(tree.locator(".badge-provider").first).to_have_text("Cung cấp dữ liệu")
    expect(page.locator(".stat-value").nth(1)).to_have_text("5")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOTS / "portal-home.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000

    # HTMX: filtering without diacritics updates the tree in place.
    page.get_by_label("Tìm kiếm").fill("y te")
    expect(tree.get_by_text("1 tổ chức phù hợp với bộ lọc.")).to_be_visible()
    expect(tree.get_by_role("heading", name="UBND tỉnh khác")).to_have_count(0)
    expect(tree.get_by_role("heading", name="Sở Y tế", exact=True)).to_be_visible()
    expect(page).to_have_url(f"{live_server}/?q=y+te")

    # English.
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("Hospital information system")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Log out: back to the login form, and the home page is closed again.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(f"{live_server}/login?next=/")

    # The refused login answers 401, which chromium reports; anything else is a real problem.
    refused = "Failed to load resource: the server responded with a status of 401"
    assert [text for text in problems if not text.startswith(refused)] == []
    outside = [url for url in requested if not url.startswith(live_server)]
    assert outside == []  # nothing is loaded from outside the platform
