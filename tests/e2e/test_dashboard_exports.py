"""A dashboard's exports in a real browser, in Vietnamese, at 390 and 1920 px: the "Tải ảnh PNG"
button of a chart panel and of a KPI tile, and the whole dashboard's, each download a valid
PNG (read by Pillow) of plausible dimensions named <slug>-<unit>-<dd-mm-yyyy>, the
dashboard's laid out as the page lays it out (its columns, each panel's place and span, the
map's legend drawn); the XLSX
download opens with openpyxl; the monthly report's print page, on screen, with the print
media emulated, and printed to PDF (A4, its title, a sensible page count); axe-core clean.
Screenshots: ``dashboard-export-{w}.png``, ``dashboard-export-image-{w}.png`` (the dashboard's
PNG itself), ``dashboard-export-panel-{w}.png``, ``dashboard-export-print-{w}.png``,
``dashboard-export-print-media-{w}.png``.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.e2e.test_dashboards import _log_in, _world
from tinhso.core.i18n import LOCAL_TIMEZONE

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e


def _check(page: Page, name: str, found: list[str]) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{name}: {overflow} px wider than the window")
    found.extend(f"{name}: {v}" for v in serious_accessibility_violations(page))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _png(page: Page, button: object, folder: Path) -> tuple[str, Image.Image, Path]:
    with page.expect_download() as info:
        button.click()  # type: ignore[attr-defined]
    download = info.value
    path = folder / download.suggested_filename
    download.save_as(path)
    image = Image.open(path)
    image.load()
    return download.suggested_filename, image, path


FRAME = (188, 204, 220)  # a panel's frame in the dashboard's PNG (#bcccdc)


def _follows_the_layout(page: Page, image: Image.Image, width: int) -> None:
    """The dashboard's PNG places its panels as the page does: the page's columns (a phone's
    one column as two), each panel in the page's order and column, a map or series spanning
    two columns; every panel's frame is drawn where the layout puts it."""
    page_layout = page.evaluate(
        """() => Array.from(document.querySelectorAll('#dashboard-panels .dash-panel')).map((s) => {
             const r = s.getBoundingClientRect(); return [r.left, r.top, r.width, s.className]; })"""
    )
    layout = page.evaluate(
        """() => { const sections = Array.from(document.querySelectorAll('#dashboard-panels .dash-panel'));
             return window.tinhsoDashboardExport.dashboardCanvas(sections, ['a', 'b'])
               .then((c) => [c.width, c.height, c.tinhsoLayout]); }"""
    )
    canvas_width, canvas_height, places = layout
    assert image.size == (canvas_width, canvas_height)
    tracks = page.evaluate(
        "getComputedStyle(document.getElementById('dashboard-panels'))"
        ".gridTemplateColumns.split(' ').length"
    )
    columns = 2 if width == 390 else tracks
    assert tracks == 1 if width == 390 else tracks >= 3
    assert image.width == 2 * (2 * 20 + columns * 640 + (columns - 1) * 20)
    # Left edges and rows in the same order as on the page.
    if width == 1920:
        lefts = sorted({round(left) for left, _top, _w, _c in page_layout})
        tops = sorted({round(top) for _left, top, _w, _c in page_layout})
        xs = sorted({round(p["x"]) for p in places})
        ys = sorted({round(p["y"]) for p in places})
        for (left, top, _w, _c), place in zip(page_layout, places, strict=True):
            assert xs.index(round(place["x"])) == lefts.index(round(left))
            assert ys.index(round(place["y"])) == tops.index(round(top))
    for (_left, _top, _w, classes), place in zip(page_layout, places, strict=True):
        wide = "dash-map" in classes or "dash-timeseries" in classes
        assert place["width"] == (1300 if wide else 640), (classes, place)
        if wide and columns == 2:  # a full-width panel spans the image
            assert place["x"] == 20 and place["x"] + place["width"] == image.width / 2 - 20
        rgb = image.convert("RGB")
        x0, y0 = int(place["x"] * 2), int(place["y"] * 2)
        x1 = int((place["x"] + place["width"]) * 2) - 1
        middle = y0 + int(place["height"])  # half the panel's height, in image pixels
        for x, y in ((x0, middle), (x1, middle), ((x0 + x1) // 2, y0)):
            pixel = rgb.getpixel((x, y))
            assert isinstance(pixel, tuple)
            assert max(abs(a - b) for a, b in zip(pixel, FRAME, strict=True)) < 40, (
                classes,
                x,
                y,
                rgb.getpixel((x, y)),
            )


def _pdf_title(content: bytes) -> str:
    """The PDF's /Title (chromium writes the page's <title> there, as UTF-16 hex)."""
    found = re.search(rb"/Title\s*(<[0-9A-Fa-f]+>|\((?:[^)\\]|\\.)*\))", content)
    assert found is not None, "no /Title in the PDF"
    raw = found[1]
    if raw.startswith(b"<"):
        data = bytes.fromhex(raw[1:-1].decode())
        return data.decode("utf-16") if data.startswith(b"\xfe\xff") else data.decode("latin-1")
    return raw[1:-1].decode("latin-1")


@pytest.mark.parametrize("width", [390, 1920])
def test_a_dashboard_downloads_as_png_and_xlsx_and_prints_on_a4(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    tmp_path: Path,
    width: int,
) -> None:
    _world(sessions)
    viewer = make_official(username=f"xuat-anh-{width}")
    day = datetime.now(LOCAL_TIMEZONE).strftime("%d-%m-%Y")
    found: list[str] = []

    def journey(page: Page) -> None:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        _log_in(page, viewer.username, "/monitoring/dashboards/tong-quan-tinh")
        expect(page.locator("h1")).to_have_text("Tổng quan tỉnh")
        expect(page.locator(".dash-map-chart[data-ready='1']")).to_have_count(1)
        expect(page.locator(".dash-chart[data-ready='1']")).to_have_count(1)
        page.wait_for_load_state("networkidle")
        # The map panel's legend: its value ranges in Vietnamese number format, the unit tree.
        legend = page.locator(".dash-map .unit-map-legend")
        expect(legend).to_contain_text("Chú giải: khoảng giá trị (%)")
        expect(legend).to_contain_text("48,5 – 52 %")
        expect(legend).to_contain_text("Đơn vị: theo địa giới hành chính hiện hành")
        _check(page, f"dashboard-export-{width}", found)
        panels = page.locator("#dashboard-panels .dash-panel")
        # A chart panel (the series against its target): ECharts' own image below its title.
        series = panels.nth(3)
        name, image, path = _png(page, series.get_by_role("button", name="Tải ảnh PNG"), tmp_path)
        assert name == f"tong-quan-tinh-24-{day}-o4.png"
        assert image.format == "PNG" and image.width == 1280 and 500 < image.height < 1400
        shutil.copy(path, SCREENSHOTS / f"dashboard-export-panel-{width}.png")
        # A KPI tile (no chart): its figures written onto the canvas.
        name, image, _path = _png(
            page, panels.nth(0).get_by_role("button", name="Tải ảnh PNG"), tmp_path
        )
        assert name == f"tong-quan-tinh-24-{day}-o1.png"
        assert image.format == "PNG" and image.width == 1280 and 150 < image.height < 700
        assert len(image.convert("L").getcolors(65536) or []) > 10  # text drawn, not blank
        # The whole dashboard: every panel, laid out as the page lays them out.
        exports = page.locator("#dashboard-exports")
        name, image, path = _png(page, exports.get_by_role("button", name="Tải ảnh PNG"), tmp_path)
        assert name == f"tong-quan-tinh-24-{day}.png"
        shutil.copy(path, SCREENSHOTS / f"dashboard-export-image-{width}.png")
        _follows_the_layout(page, image, width)
        # The data as XLSX, a sheet per panel and the one saying what the export is.
        with page.expect_download() as info:
            exports.get_by_role("link", name="Tải số liệu (XLSX)").click()
        assert info.value.suggested_filename == f"tong-quan-tinh-24-{day}.xlsx"
        saved = tmp_path / "bang.xlsx"
        info.value.save_as(saved)
        book = load_workbook(saved)
        assert len(book.worksheets) == 8
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        assert ("24", "Tỉnh Bắc Ninh", "2025", 58) in [row[:4] for row in rows]
        # The monthly report: on screen, with the print media, and as a PDF.
        exports.get_by_role("link", name="In báo cáo tháng").click()
        expect(page.locator("h1")).to_have_text("Tổng quan tỉnh")
        expect(page.locator(".print-eyebrow")).to_contain_text("Báo cáo tháng")
        expect(page.locator("#print-panels .dash-panel")).to_have_count(7)
        expect(page.locator("#print-panels .dash-map-chart[data-ready='1']")).to_have_count(1)
        page.wait_for_load_state("networkidle")
        _check(page, f"dashboard-export-print-{width}", found)
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        expect(page.locator(".print-toolbar")).to_be_hidden()
        page.screenshot(
            path=str(SCREENSHOTS / f"dashboard-export-print-media-{width}.png"), full_page=True
        )
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        (SCREENSHOTS / f"dashboard-export-print-{width}.pdf").write_bytes(pdf)
        assert pdf.startswith(b"%PDF")
        pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
        assert 1 <= pages <= 4, pages
        assert "Tổng quan tỉnh" in _pdf_title(pdf)
        assert re.search(rb"/MediaBox \[0 0 59[45][.0-9]* 84[12]", pdf)  # A4 portrait (points)
        found.extend(errors)

    browser.run(journey, live_server, width=width, height=1000)
    assert found == []


def test_the_workbook_of_a_commune_chosen_on_the_dashboard(
    browser: BrowserThread,
    live_server: str,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    tmp_path: Path,
) -> None:
    _world(sessions)
    viewer = make_official(username="xuat-xa")

    def journey(page: Page) -> None:
        _log_in(page, viewer.username, "/monitoring/dashboards/tong-quan-tinh?unit=07777")
        expect(page.locator("#dashboard-unit")).to_contain_text("Việt Yên")
        with page.expect_download() as info:
            page.locator("#dashboard-panels .dash-panel").nth(0).get_by_role(
                "link", name="XLSX"
            ).click()
        saved = tmp_path / "o.xlsx"
        info.value.save_as(saved)
        rows = list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))
        assert ("07777", "Phường Việt Yên", "2025", 66) in [row[:4] for row in rows]

    browser.run(journey, live_server, width=1366, height=900)
