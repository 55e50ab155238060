"""A field report from a phone (390 px), in Chromium, in Vietnamese: a citizen sends it with a
photo and a short video, an officer of the ward watches and releases the video, accepts and
answers the report, the citizen rates the answer, and the
monthly statistics count it. Every page visited passes axe-core (no serious or critical
violation) and fits the window; each page also at 1920 px.

Screenshots: ``test-output/screenshots/reports-*.png``.
"""

from __future__ import annotations

import io
import re
import time
from typing import TYPE_CHECKING

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import TEST_PASSWORD, TEST_SECRET
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.support.videos import phone_video
from tinhso.core.calendar import shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.portal.reports.citizen import MIN_FILL_SECONDS
from tinhso.registry.models import Role
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Channel
from tinhso.reports.reporters import token_for
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.e2e.conftest import BrowserThread
    from tests.reports.conftest import ReportsWorld

pytestmark = pytest.mark.e2e


def _check(page: Page, name: str, width: int, found: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{name}: {overflow} px wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    page.screenshot(path=str(SCREENSHOTS / f"reports-{name}-{width}.png"), full_page=True)


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "cot-dien.jpg"
    image = Image.new("RGB", (1200, 900), (90, 120, 160))
    output = io.BytesIO()
    image.save(output, "JPEG")
    path.write_bytes(output.getvalue())
    return path


@pytest.mark.parametrize("width", [390, 1920])
def test_from_a_phone_to_an_answer_and_a_rating(
    browser: BrowserThread,
    live_server: str,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    tmp_path: Path,
    width: int,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    photo = _photo(tmp_path)
    video = tmp_path / "cot-dien.mp4"
    video.write_bytes(phone_video(video_codec="libx264", width=320, height=240, seconds=3))
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/reports")
        _check(page, "list-empty", width, found)
        page.get_by_role("link", name="Gửi phản ánh hiện trường").click()
        expect(page.locator("h1")).to_have_text("Gửi phản ánh hiện trường")
        page.get_by_label("Phản ánh về lĩnh vực nào?").select_option(label="Điện, nước")
        page.get_by_label("Nội dung").fill("Cột điện trước nhà số 12 bị nghiêng, dây võng thấp.")
        page.get_by_label("Xã, phường", exact=True).select_option("07777")
        page.get_by_label("Ảnh (tối đa 5)").set_input_files(str(photo))
        page.get_by_label("Video ngắn (tối đa 2)").set_input_files(str(video))
        _check(page, "new", width, found)
        time.sleep(MIN_FILL_SECONDS + 0.5)  # people take a while to fill a form
        page.get_by_role("button", name="Gửi phản ánh").click()
        expect(page.locator("h1")).to_have_text("Đã gửi phản ánh")
        code = page.locator("#tracking-code").inner_text()
        key = page.locator("#reporter-key").inner_text()
        _check(page, "sent", width, found)

        page.context.clear_cookies()
        page.goto("/login?next=/reports/queue")
        page.get_by_label("Tên đăng nhập").fill(officer)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Phản ánh cần xử lý")
        _check(page, "queue", width, found)
        page.get_by_role("link", name=code).click()
        expect(page.locator("h1")).to_contain_text(code)
        expect(page.get_by_text("Chỉ cán bộ xử lý phản ánh xem được video này.")).to_be_visible()
        page.get_by_role("button", name="Đã xem: công khai video cho người dân").click()
        expect(page.get_by_text("Người dân xem được video này từ")).to_be_visible()
        page.get_by_role("button", name="Tiếp nhận", exact=True).click()
        page.wait_for_load_state()
        page.locator("summary", has_text="Trả lời").click()
        page.get_by_label("Nội dung trả lời công khai").fill("Điện lực đã chằng chống cột điện.")
        _check(page, "handle", width, found)
        page.get_by_role("button", name="Trả lời", exact=True).click()
        expect(page.locator(".badges")).to_contain_text("Đã xử lý")

        page.context.clear_cookies()
        page.goto(f"/reports/{code}")
        expect(page.get_by_text("Điện lực đã chằng chống cột điện.", exact=True)).to_be_visible()
        expect(page.locator("video")).to_have_attribute("poster", re.compile(r"/poster$"))
        assert (
            page.evaluate("fetch(document.querySelector('video source').src).then(r => r.status)")
            == 200
        )
        page.get_by_label("Hài lòng", exact=True).check()
        page.locator("#rate-key").fill(key)
        page.get_by_role("button", name="Gửi đánh giá").click()
        expect(page.get_by_role("status")).to_contain_text("đánh giá đã được ghi nhận")
        _check(page, "track", width, found)
        page.goto("/reports/statistics")
        expect(page.get_by_role("cell", name="UBND phường Việt Yên")).to_be_visible()
        _check(page, "statistics", width, found)
        page.goto("/reports")
        _check(page, "list", width, found)

    browser.run(journey, live_server, width=width, height=900)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_the_operators_page(
    browser: BrowserThread,
    live_server: str,
    reports_world: ReportsWorld,
    admin: Official,
    width: int,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/login?next=/reports/operators")
        page.get_by_label("Tên đăng nhập").fill(admin.username)
        page.get_by_label("Mật khẩu").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Phản ánh hiện trường: khoá ứng dụng và phân luồng")
        page.get_by_label("Tên ứng dụng").fill("Ứng dụng Bắc Ninh số")
        page.get_by_role("button", name="Cấp khoá").click()
        expect(page.locator("#issued-key")).to_contain_text("pa_")
        _check(page, "operators", width, found)

    browser.run(journey, live_server, width=width, height=900)
    assert found == []


@pytest.mark.parametrize("width", [390, 1920])
def test_my_reports(
    browser: BrowserThread,
    live_server: str,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    width: int,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sessions.begin() as session:
        code = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Đèn đường hỏng cả dãy phố.",
                channel=Channel.WEB,
                unit_code="07777",
                reporter_email="an@example.vn",
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        ).report.code
    cookie = token_for(TEST_SECRET.encode(), "an@example.vn", "session")
    found: list[str] = []

    def journey(page: Page) -> None:
        page.goto("/reports/mine")
        expect(page.locator("h1")).to_have_text("Phản ánh của tôi")
        _check(page, "mine-sign-in", width, found)
        page.context.add_cookies(
            [{"name": "tinhso_reporter", "value": cookie, "url": f"{live_server}/reports"}]
        )
        page.goto("/reports/mine")
        expect(page.get_by_role("link", name=code)).to_be_visible()
        _check(page, "mine", width, found)

    browser.run(journey, live_server, width=width, height=900)
    assert found == []
