"""Real-browser journeys of the monitoring pages (Playwright driving Debian's chromium).

1. An official opens the overview of Plan 324/KH-UBND: targets with their statuses (as
   text, with colour), the status chart drawn by ECharts, no console error; then the
   indicator page with its chart against the target.
2. An officer of UBND thị xã Việt Yên enters a value through the HTMX form: a bad number
   is refused next to the field, a Vietnamese-format number is saved and shows up on the
   indicator page.
Screenshots: ``test-output/screenshots/monitoring-*.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import SCREENSHOTS
from tests.portal.monitoring.support import AS_OF, DEMO_PLAN, load_demo
from tinhso.monitoring import repository
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e


@pytest.fixture
def monitoring_data(
    province_tree: dict[str, str], sessions: sessionmaker[Session], make_official: MakeOfficial
) -> dict[str, str]:
    load_demo(sessions)
    return {
        "viewer": make_official(Role.VIEWER, "so-tttt", username="tran-thi-binh").username,
        "officer": make_official(Role.OFFICER, "ubnd-viet-yen", username="le-van-cuong").username,
    }


def _watch(page: Page, live_server: str) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    requested: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))
    return problems, requested


def _login(page: Page, username: str, next_path: str) -> None:
    page.goto(next_path)
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"monitoring-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_overview_of_plan_324_shows_statuses_and_charts(
    browser: BrowserThread,
    live_server: str,
    monitoring_data: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        plan = repository.plan_by_code(session, DEMO_PLAN)
        assert plan is not None
        statuses = sorted(
            (a.indicator_code, str(a.year), str(a.status))
            for a in progress_service.plan_progress(session, plan, AS_OF)
        )
    browser.run(
        lambda page: _overview(page, live_server, monitoring_data["viewer"], statuses), live_server
    )


def _overview(
    page: Page, live_server: str, username: str, statuses: list[tuple[str, str, str]]
) -> None:
    problems, requested = _watch(page, live_server)
    _login(page, username, f"/monitoring?as_of={AS_OF}")  # Plan 324 is the default plan
    expect(page).to_have_url(f"{live_server}/monitoring?as_of={AS_OF}")
    expect(page.get_by_role("link", name="Giám sát chuyển đổi số")).to_have_attribute(
        "aria-current", "page"
    )
    expect(
        page.get_by_role("heading", name="Kế hoạch chuyển đổi số tỉnh Bắc Giang")
    ).to_be_visible()
    expect(page.locator(".eyebrow").first).to_contain_text("324/KH-UBND")

    # Every target is shown with the status the monitoring service computes, as text.
    rows = page.locator("tr[data-indicator]")
    expect(rows).to_have_count(len(statuses))
    shown = sorted(
        (
            str(row.get_attribute("data-indicator")),
            str(row.get_attribute("data-year")),
            str(row.get_attribute("data-status")),
        )
        for row in rows.all()
    )
    assert shown == statuses
    labels = {
        "achieved": "✔ Đạt",
        "on_track": "↗ Đúng tiến độ",
        "behind": "⚠ Chậm tiến độ",
        "not_achieved": "✖ Không đạt",
    }
    for status, label in labels.items():
        if any(s == status for *_key, s in statuses):
            badge = page.locator(f'tr[data-status="{status}"] .status-badge').first
            expect(badge).to_have_text(label)
    iot = page.locator('tr[data-indicator="iot_devices_per_100_people"]').first
    expect(iot).to_contain_text("75–100")  # the target range
    expect(iot.locator("svg.sparkline polyline")).to_have_count(1)

    # The status chart is drawn on a canvas by ECharts.
    expect(page.locator("#status-chart canvas")).to_have_count(1)
    _shot(page, "overview")

    # Indicator detail: chart of values against the target band.
    iot.get_by_role("link").click()
    expect(page).to_have_url(
        f"{live_server}/monitoring/indicators/iot_devices_per_100_people?tree=legacy&unit=24"
    )
    expect(
        page.get_by_role("heading", name="Số thiết bị IoT trên 100 dân", exact=False)
    ).to_be_visible()
    expect(page.locator("#indicator-chart canvas")).to_have_count(1)
    expect(page.locator(".tree-note")).to_contain_text("Theo địa giới hành chính cũ")
    expect(page.locator("#provenance tbody tr").first).to_be_visible()
    _shot(page, "indicator")

    # The same indicator on the current units: legacy values re-aggregated, and said so.
    page.get_by_role("link", name="Đơn vị hiện hành (từ 01/07/2025)").click()
    expect(page.locator(".tree-note")).to_contain_text("Theo địa giới hành chính hiện hành")
    expect(page.locator("#computed-values")).to_contain_text("tổng hợp lại từ đơn vị cũ")
    expect(page.locator("#indicator-chart canvas")).to_have_count(1)

    # Rankings: the units on one indicator and period.
    page.get_by_role("link", name="Xếp hạng").click()
    page.get_by_label("Chỉ số", exact=True).select_option("households_fibre_rate")
    page.get_by_role("button", name="Xem").click()
    expect(page.locator("#ranking")).to_contain_text("Tỉnh Bắc Giang")
    _shot(page, "rankings")

    # Index by pillar for a methodology version.
    page.get_by_role("link", name="Chỉ số chuyển đổi số").click()
    expect(page.get_by_label("Phiên bản phương pháp")).to_be_visible()
    _shot(page, "index")

    assert problems == []
    assert [url for url in requested if not url.startswith(live_server)] == []


def test_officer_enters_a_value_through_the_form_and_sees_it(
    browser: BrowserThread, live_server: str, monitoring_data: dict[str, str]
) -> None:
    browser.run(lambda page: _entry(page, live_server, monitoring_data["officer"]), live_server)


def _entry(page: Page, live_server: str, username: str) -> None:
    problems, _requested = _watch(page, live_server)
    _login(page, username, "/monitoring/entry")
    expect(page).to_have_url(f"{live_server}/monitoring/entry")
    units = page.get_by_label("Địa bàn")
    expect(units.locator("option[value='legacy:222']")).to_have_count(1)
    expect(units.locator("option[value='legacy:215']")).to_have_count(0)  # not their district

    units.select_option("legacy:222")
    page.get_by_label("Chỉ tiêu dữ liệu").select_option("households_fibre_pct")
    page.get_by_label("Kỳ báo cáo").fill("2024")
    page.get_by_label("Giá trị", exact=True).fill("47,8x")
    page.get_by_role("button", name="Lưu giá trị").click()
    error = page.locator("#entry-value-error")
    expect(error).to_have_text("“47,8x” không phải là số. Hãy viết như 1.380 hoặc 47,85.")
    expect(page.get_by_label("Giá trị", exact=True)).to_have_attribute("aria-invalid", "true")
    _shot(page, "entry-error")

    page.get_by_label("Giá trị", exact=True).fill("47,85")
    page.get_by_role("button", name="Lưu giá trị").click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu.")
    expect(page.locator("#entry-value-error")).to_have_count(0)
    expect(page).to_have_url(f"{live_server}/monitoring/entry")  # HTMX: no page load
    _shot(page, "entry-saved")

    page.get_by_role("status").get_by_role("link").first.click()
    expect(page.locator("#provenance")).to_contain_text("47,85")
    expect(page.locator("#provenance")).to_contain_text(username)
    expect(page.locator("#provenance")).to_contain_text("Nhập trên biểu mẫu")
    expect(page.locator("#indicator-chart canvas")).to_have_count(1)
    _shot(page, "entry-reflected")

    # A 422/403 would be reported by chromium; the HTMX answers were 200.
    assert problems == []

    # Import: a file with a bad number and another district's row is refused, row by row.
    page.get_by_role("link", name="Nhập từ tệp").first.click()
    page.get_by_label("Tệp (.csv hoặc .xlsx, tối đa 10 MB)").set_input_files(
        files={
            "name": "so-lieu-viet-yen.csv",
            "mimeType": "text/csv",
            "buffer": (
                "Mã chỉ tiêu dữ liệu,Mã đơn vị hành chính,Bộ đơn vị (hiện hành/cũ),"
                "Kỳ báo cáo,Giá trị,Ghi chú\n"
                "iot_devices,222,cũ,2024,1.500,\n"
                "iot_devices,222,cũ,2023,một nghìn,\n"
                "population,222,cũ,2024,abc,\n"
            ).encode(),
        }
    )
    page.get_by_role("button", name="Kiểm tra và nhập").click()
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.first).to_contain_text("một nghìn")
    expect(page.get_by_role("alert")).to_contain_text("không có số liệu nào được ghi")
    _shot(page, "import-errors")


def test_indicator_page_says_which_value_it_shows_across_the_boundary(
    browser: BrowserThread,
    live_server: str,
    monitoring_data: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    """Issue 12: for 2025 (which spans 1 July 2025) values are recorded under legacy Bắc
    Giang (24) and under current Bắc Ninh (24); the current view shows the recorded one and
    says which and why."""
    rows = [
        ("iot_devices", "legacy", 1_000),
        ("population", "legacy", 1_900_000),
        ("iot_devices", "current", 5_000),
        ("population", "current", 3_600_000),
    ]
    items = [
        ValueIn.model_validate(
            {
                "element_code": code,
                "unit": {"unit_set": unit_set, "code": "24"},
                "period": "2025",
                "value": value,
            }
        )
        for code, unit_set, value in rows
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))

    def journey(page: Page) -> None:
        problems, _requested = _watch(page, live_server)
        path = "/monitoring/indicators/iot_devices_per_100_people?tree=current&unit=24"
        _login(page, monitoring_data["viewer"], path)
        expect(page.locator("#computed-values")).to_contain_text(
            "không dùng số liệu của đơn vị cũ cho kỳ này"
        )
        expect(page.locator("#basis-note")).to_be_visible()
        expect(page.locator("#basis-note")).to_contain_text("Trang hiển thị số liệu nhập")
        _shot(page, "indicator-recorded-over-legacy")
        assert problems == []

    browser.run(journey, live_server)
