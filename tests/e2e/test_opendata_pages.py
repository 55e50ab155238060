"""The open data portal in a real browser, in Vietnamese, without signing in, at 390 and
1920 px: a citizen searches "truong hoc" without diacritics, narrows by a facet, opens the
dataset a publisher uploaded as CSV and reads its preview. axe-core on every page visited.
An indicator's dataset draws its values over time. Screenshots:
``opendata-search-{390,1920}.png``, ``opendata-dataset-{390,1920}.png``,
``opendata-indicator-{390,1920}.png``; a search with a typo says what it searched for
instead: ``opendata-search-corrected-{390,1920}.png``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.opendata.publishing.test_publication import CODE, published  # noqa: F401 - fixture
from tests.portal.opendata.test_pages import SCHOOLS
from tinhso.opendata.access import PLATFORM
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.metadata import FileUpload
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.catalogue.storage import resource_store
from tinhso.opendata.publishing.indicators import dataset_name, publish_indicators
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread
    from tinhso.core.config import Settings

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1920])
def test_a_citizen_finds_a_dataset_without_diacritics_and_previews_it(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    settings: Settings,
    province_tree: dict[str, str],
    width: int,
) -> None:
    with sessions.begin() as session:
        load_reference(session)
        dataset = dataset_service.create(
            session,
            PLATFORM,
            {
                "title": "Danh sách trường học tiểu học",
                "owner_org": "so-tttt",
                "notes": "Các trường tiểu học và số học sinh năm học 2025–2026.",
                "license_id": "cc-by-4.0",
                "groups": [{"name": "giao-duc"}],
                "tags": [{"name": "giáo dục"}],
            },
        )
        dataset_service.attach_file(
            session,
            PLATFORM,
            dataset.id,
            FileUpload("truong-hoc.csv", SCHOOLS, name="Danh sách trường", format="CSV"),
            resource_store(settings),
        )
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/opendata")
        expect(page.locator("h1")).to_have_text("Dữ liệu mở")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Tìm bộ dữ liệu").fill("truong hoc")
        page.get_by_role("button", name="Tìm kiếm").click()
        expect(page.locator("#results-title")).to_have_text("Tìm thấy 1 bộ dữ liệu")
        page.get_by_role("link", name="Giáo dục và đào tạo").click()
        expect(page.get_by_role("link", name="Danh sách trường học tiểu học")).to_be_visible()
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"opendata-search-{width}.png"), full_page=True)
        page.get_by_role("link", name="Danh sách trường học tiểu học").click()
        expect(page.locator("table.preview-table")).to_contain_text("Trường Tiểu học Đồng Xuân")
        expect(page.locator("table.preview-table")).to_contain_text("1.502,5")
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        page.screenshot(path=str(SCREENSHOTS / f"opendata-dataset-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_a_search_with_a_typo_says_what_it_searched_for_instead(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    province_tree: dict[str, str],
    width: int,
) -> None:
    with sessions.begin() as session:
        load_reference(session)
        dataset_service.create(
            session,
            PLATFORM,
            {
                "title": "Danh sách trường học tiểu học",
                "owner_org": "so-tttt",
                "notes": "Các trường tiểu học và số học sinh năm học 2025–2026.",
            },
        )
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/opendata")
        page.get_by_label("Tìm bộ dữ liệu").fill("truong hco")
        page.get_by_role("button", name="Tìm kiếm").click()
        expect(page.get_by_role("status")).to_have_text(
            "Không tìm thấy 'truong hco'. Kết quả cho 'trường học'."
        )
        expect(page.get_by_role("link", name="Danh sách trường học tiểu học")).to_be_visible()
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"opendata-search-corrected-{width}.png"), full_page=True
        )

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_an_officer_publishes_a_csv_and_sees_its_preview(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    tmp_path: Path,
    width: int,
) -> None:
    with sessions.begin() as session:
        load_reference(session)
    officer = make_official(Role.OFFICER, "so-tttt")
    csv_file = tmp_path / "truong-hoc.csv"
    csv_file.write_bytes(SCHOOLS)
    ragged = tmp_path / "le.csv"
    ragged.write_bytes(b"a;b;c\r\n1;2;3\r\n4;5\r\n")
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/opendata/publish")
        page.get_by_label("Tên đăng nhập").fill(officer.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Công bố bộ dữ liệu")
        page.get_by_label("Tiêu đề").fill("Trường học tiểu học")
        page.locator("#od-owner_org").select_option("so-tttt")
        page.get_by_role("button", name="Công bố", exact=True).click()
        expect(page.locator("h1")).to_have_text("Trường học tiểu học")
        page.get_by_label("Tệp (CSV, XLSX, JSON, GeoJSON, PDF; tối đa 50 MB)").set_input_files(
            str(ragged)
        )
        page.get_by_role("button", name="Công bố tệp").click()
        expect(page.locator("#upload-error")).to_contain_text("dòng 3")
        found.extend(serious_accessibility_violations(page))
        page.get_by_label("Tệp (CSV, XLSX, JSON, GeoJSON, PDF; tối đa 50 MB)").set_input_files(
            str(csv_file)
        )
        page.get_by_role("button", name="Công bố tệp").click()
        expect(page.locator("#upload-done")).to_be_visible()
        expect(page.locator("table.preview-table")).to_contain_text("Trường Tiểu học Việt Yên")
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"opendata-published-{width}.png"), full_page=True)
        page.get_by_role("link", name="Sửa thông tin mô tả").click()
        expect(page.locator("h1")).to_have_text("Sửa thông tin mô tả bộ dữ liệu")
        page.get_by_label("Tiêu đề").fill("Trường tiểu học năm học 2025-2026")
        found.extend(serious_accessibility_violations(page))
        page.screenshot(path=str(SCREENSHOTS / f"opendata-edit-{width}.png"), full_page=True)
        page.get_by_role("button", name="Lưu thay đổi").click()
        expect(page.locator("#change-done")).to_be_visible()
        expect(page.locator("h1")).to_have_text("Trường tiểu học năm học 2025-2026")

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_an_indicators_dataset_shows_its_values_over_time(
    browser: BrowserThread,
    live_server: str,
    settings: Settings,
    sessions: sessionmaker[Session],
    published: None,  # noqa: F811 - the fixture
    width: int,
) -> None:
    with sessions.begin() as session:
        publish_indicators(session, resource_store(settings))
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto(f"/opendata/datasets/{dataset_name(CODE)}")
        expect(page.locator("#chart-title")).to_have_text("Giá trị theo thời gian")
        expect(page.locator("#indicator-chart canvas")).to_have_count(1)
        found.extend(serious_accessibility_violations(page))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"opendata-indicator-{width}.png"), full_page=True)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []
