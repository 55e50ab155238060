"""Every portal page, with the monitoring demo loaded, in a real browser at a phone's width
(390 px) and a wall screen's (1920 px): no serious or critical axe-core violation, nothing
wider than the window, no console error.

Screenshots: ``test-output/screenshots/page-{name}-{width}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.portal.exchange.test_catalogue import DOCUMENT_YAML
from tests.portal.monitoring.support import AS_OF, load_demo
from tinhso.core.db import utcnow
from tinhso.exchange.catalogue.documents import read_openapi
from tinhso.exchange.models import ExchangeService, ServiceStatus
from tinhso.monitoring.dashboards.demo import load_dashboard_demo
from tinhso.registry.models import Role
from tinhso.registry.schemas import SystemCreate
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e

# (screenshot name, path, who opens it, the page's heading)
PAGES = [
    ("home", "/", "viewer", None),
    ("monitoring", f"/monitoring?as_of={AS_OF}", "viewer", None),
    (
        "indicator",
        f"/monitoring/indicators/iot_devices_per_100_people?as_of={AS_OF}",
        "viewer",
        None,
    ),
    ("rankings", "/monitoring/rankings", "viewer", "Xếp hạng"),
    ("index", "/monitoring/index", "viewer", "Chỉ số chuyển đổi số"),
    ("map", "/monitoring/map", "viewer", "Bản đồ"),
    ("map-admin", "/monitoring/map", "admin", "Bản đồ"),
    ("dashboards", "/monitoring/dashboards", "viewer", "Bảng điều khiển"),
    ("dashboard", "/monitoring/dashboards/tong-quan-tinh", "viewer", "Tổng quan tỉnh"),
    ("wall", "/monitoring/wall?d=tong-quan-tinh,phan-anh-va-trao-doi", "viewer", "Tổng quan tỉnh"),
    ("dashboards-admin", "/monitoring/dashboards", "admin", "Bảng điều khiển"),
    ("dashboard-edit", "/monitoring/dashboards/tong-quan-tinh/edit", "admin", "Sửa các ô"),
    ("dashboard-print", "/monitoring/dashboards/tong-quan-tinh/print", "viewer", "Tổng quan tỉnh"),
    ("alerts", "/monitoring/alerts", "viewer", "Cảnh báo"),
    ("alert-rules", "/monitoring/alerts/rules", "admin", "Quy tắc cảnh báo"),
    ("entry", "/monitoring/entry", "officer", None),
    ("import", "/monitoring/import", "officer", None),
    ("grid", "/monitoring/grid?period=2026-Q3", "officer", "Bảng nhập số liệu kỳ báo cáo"),
    ("reporting", "/monitoring/reporting?period=2026-Q3", "officer", "Tình hình báo cáo"),
    ("exchange", "/exchange", "viewer", None),
    ("exchange-statistics", "/exchange/statistics", "viewer", None),
    ("catalogue", "/exchange/catalogue", "viewer", "Danh mục dịch vụ"),
    ("catalogue-service", "/exchange/catalogue/1", "viewer", None),  # see `people`
    ("catalogue-new", "/exchange/catalogue/new", "admin", "Công bố dịch vụ"),
    ("credentials", "/exchange/credentials", "admin", "Thông tin xác thực ứng dụng"),
    ("systems", "/exchange/systems", "admin", "Hệ thống thông tin"),
    ("report-categories", "/reports/operators/categories", "admin", "Loại phản ánh"),
    ("audit", "/exchange/audit", "admin", "Nhật ký trao đổi dữ liệu"),
    ("opendata", "/opendata", "viewer", "Dữ liệu mở"),
    ("opendata-publish", "/opendata/publish", "officer", "Công bố bộ dữ liệu"),
    ("opendata-list", "/opendata/lists/ubnd-viet-yen", "officer", None),
    ("jobs", "/admin/jobs", "admin", "Công việc định kỳ"),
    ("users", "/admin/users", "admin", "Người dùng"),
    ("calendar", "/admin/calendar?year=2026", "admin", "Lịch làm việc"),
    ("organisations", "/admin/organisations", "admin", "Tổ chức"),
    ("organisation", "/admin/organisations/so-tttt", "admin", "Sở Thông tin và Truyền thông"),
    ("reports", "/reports", "viewer", "Phản ánh hiện trường"),
    ("reports-statistics", "/reports/statistics?by=unit", "viewer", None),
    ("reports-queue", "/reports/queue", "admin", "Phản ánh cần xử lý"),
    ("reports-operators", "/reports/operators", "admin", None),
]


@pytest.fixture
def people(
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    admin: Official,
) -> dict[str, str]:
    load_demo(sessions)
    with sessions.begin() as session:  # the demo's two dashboards
        load_dashboard_demo(session)
    with sessions.begin() as session:  # a published service with a data standard, id 1
        system = system_service.create(
            session,
            SystemCreate(
                code="csdl-dkkd",
                organisation_code="so-tttt",
                name_vi="CSDL đăng ký kinh doanh",
                is_provider=True,
            ),
        )
        service = ExchangeService(
            provider_system_id=system.id,
            code="dang-ky-kinh-doanh",
            version="v1",
            name_vi="Tra cứu đăng ký kinh doanh",
            base_url="https://10.0.0.5/api",
            openapi=read_openapi(DOCUMENT_YAML),
            status=ServiceStatus.PUBLISHED,
            published_at=utcnow(),
        )
        session.add(service)
        session.flush()
        assert service.id == 1, "the catalogue-service page expects the first service"
    return {
        "viewer": make_official(Role.VIEWER, "so-tttt", username="tran-thi-binh").username,
        "officer": make_official(Role.OFFICER, "ubnd-viet-yen", username="le-van-cuong").username,
        "admin": admin.username,
    }


def _visit(page: Page, people: dict[str, str], width: int) -> list[str]:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    found: list[str] = []
    page.goto("/login")
    shot = SCREENSHOTS / f"page-login-{width}.png"
    found += [f"/login: {v}" for v in serious_accessibility_violations(page)]
    page.screenshot(path=str(shot), full_page=True)
    signed_in: str | None = None
    for name, path, who, heading in PAGES:
        if who != signed_in:
            page.context.clear_cookies()
            page.goto(f"/login?next={path.split('?')[0]}")
            page.get_by_label("Tên đăng nhập").fill(people[who])
            page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_load_state()
            signed_in = who
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, f"{path}: {response.status}"
        page.wait_for_load_state("networkidle")
        expect(page.locator("h1").first).to_be_visible()
        if heading:
            expect(page.locator("h1").first).to_have_text(heading)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => !(e.parentElement && e.parentElement.closest('.table-scroll')))
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 3).map(e => e.tagName + '.' + e.className + '#' + e.id)"""
            )
            found.append(f"{path}: the page is {overflow} px wider than the window: {wide}")
        found += [f"{path}: {v}" for v in serious_accessibility_violations(page)]
        page.screenshot(path=str(SCREENSHOTS / f"page-{name}-{width}.png"), full_page=True)
        if name == "monitoring":  # the first pillar's targets, as cards on a phone
            page.locator(".targets-table").first.screenshot(
                path=str(SCREENSHOTS / f"targets-{width}.png")
            )
    return found + [f"console: {p}" for p in problems]


@pytest.mark.parametrize("width", [390, 1920])
def test_every_page_passes_axe_and_fits_at_phone_and_wall_widths(
    browser: BrowserThread, live_server: str, people: dict[str, str], width: int
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: list[str] = []

    def journey(page: Page) -> None:
        found.extend(_visit(page, people, width))

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_the_main_menu_collapses_behind_a_button_on_a_phone(
    browser: BrowserThread, live_server: str, people: dict[str, str], width: int
) -> None:
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/")
        page.get_by_label("Tên đăng nhập").fill(people["admin"])
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        button = page.get_by_role("button", name="Danh mục")
        monitoring = page.locator(".main-nav").get_by_role("link", name="Giám sát chuyển đổi số")
        if width < 600:
            expect(button).to_be_visible()
            expect(button).to_have_attribute("aria-expanded", "false")
            expect(monitoring).to_be_hidden()
            button.click()
            expect(button).to_have_attribute("aria-expanded", "true")
            expect(monitoring).to_be_visible()
            found.extend(serious_accessibility_violations(page))
            page.screenshot(path=str(SCREENSHOTS / "menu-open-390.png"))
            monitoring.click()
            expect(page).to_have_url(f"{live_server}/monitoring")
        else:
            expect(button).to_be_hidden()
            expect(monitoring).to_be_visible()

    browser.run(journey, live_server, width=width, height=900)
    assert found == []


def test_the_unit_picker_offers_units_as_one_types(
    browser: BrowserThread, live_server: str, people: dict[str, str]
) -> None:
    def journey(page: Page) -> None:
        page.goto("/login?next=/monitoring/rankings?tree=legacy")
        page.get_by_label("Tên đăng nhập").fill(people["viewer"])
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_label("Trong đơn vị").press_sequentially("viet yen", delay=40)
        options = page.locator("#parent-options option")
        expect(options.first).to_have_attribute("value", "222", timeout=10_000)
        assert "Thị xã Việt Yên" in (options.first.text_content() or "")
        assert serious_accessibility_violations(page) == []

    browser.run(journey, live_server, width=390, height=900)
