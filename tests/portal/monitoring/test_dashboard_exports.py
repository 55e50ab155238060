"""A dashboard's exports, on both databases: its data as XLSX (a sheet per panel, numbers as
numbers) and CSV (the page's convention, read back to the same numbers), with the headers in
the page's language and the lines saying the dashboard, the unit, the period, the date and
the source; the unit chosen on the dashboard is honoured; a text a spreadsheet would run is
neutralised; the monthly report's print page; only officials, and odd input never a 500."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook

from tests.portal.monitoring.support import load_test_plan
from tests.portal.test_pages import log_in
from tinhso.core.i18n import LOCAL_TIMEZONE
from tinhso.monitoring.dashboards.schemas import DashboardCreate, PanelIn, PanelKind
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.number_format import NumberFormat, read_number
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.portal.rendering import LANGUAGE_COOKIE

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

VIET_YEN, DA_MAI, YEN_DUNG, TAN_AN = "07777", "07228", "07681", "07682"
VALUES = {"24": 58.0, VIET_YEN: 66.0, DA_MAI: 48.5, YEN_DUNG: 55.0, TAN_AN: 61.25}
BASE = "/monitoring/dashboards/tong-quan"


@pytest.fixture
def board(sessions: sessionmaker[Session]) -> list[int]:
    """Bắc Ninh's values of kt_thanh_toan in 2025 and a dashboard with every kind of panel;
    the panels' ids."""
    load_test_plan(sessions)
    items = [
        ValueIn.model_validate(
            {
                "element_code": "kt_thanh_toan_pct",
                "unit": {"unit_set": "current", "code": code},
                "period": "2025",
                "value": value,
            }
        )
        for code, value in VALUES.items()
    ]
    legacy = {"unit_set": "legacy", "code": "24"}
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
        made = dashboard_service.create(
            session,
            DashboardCreate(
                slug="tong-quan",
                title_vi="Tổng quan tỉnh",
                title_en="Province overview",
                unit="24",
                panels=[
                    PanelIn(kind=PanelKind.KPI, settings={"indicator": "kt_thanh_toan", "period": "2025"}),
                    PanelIn(kind=PanelKind.STATUS_COUNTS, settings={"plan": "kh_kiem_thu", "as_of": 2024}),
                    PanelIn(kind=PanelKind.TIMESERIES, settings={"indicator": "kt_cap_quang", "unit": legacy}),
                    PanelIn(kind=PanelKind.MAP, settings={"indicator": "kt_thanh_toan", "period": "2025"}),
                    PanelIn(kind=PanelKind.RANKING, settings={"indicator": "kt_thanh_toan", "period": "2025"}),
                    PanelIn(kind=PanelKind.EXCHANGE, settings={"days": 30}),
                    PanelIn(kind=PanelKind.KPI, title_vi="=HYPERLINK(\"x\")", settings={"indicator": "kt_thanh_toan"}),
                    PanelIn(kind=PanelKind.FIELD_REPORTS, settings={"months": 3}),
                ],
            ),
        )  # fmt: skip
        return [panel.id for panel in dashboard_service.panels(session, made)]


@pytest.fixture
def viewer(client: TestClient, make_official: MakeOfficial) -> TestClient:
    log_in(client, make_official(username="xuat-bang").username)
    return client


def _today() -> str:
    return f"{datetime.now(LOCAL_TIMEZONE):%d/%m/%Y}"


def _csv(content: bytes, delimiter: str) -> tuple[dict[str, str], list[list[str]]]:
    """The lines above the table (label → value) and the table (headers first)."""
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))
    blank = rows.index([])
    return {row[0]: row[1] for row in rows[:blank]}, rows[blank + 1 :]


def test_the_workbook_has_a_sheet_per_panel_with_numbers_and_vietnamese_headers(
    viewer: TestClient, board: list[int]
) -> None:
    answer = viewer.get(f"{BASE}/export.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    stamp = datetime.now(LOCAL_TIMEZONE).strftime("%d-%m-%Y")
    assert f'filename="tong-quan-24-{stamp}.xlsx"' in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    assert len(book.worksheets) == 9  # eight panels and what the export is
    kpi = list(book.worksheets[0].iter_rows(values_only=True))
    lines = {row[0]: row[1] for row in kpi[:8] if row[0]}
    assert lines["Bảng điều khiển"] == "Tổng quan tỉnh"
    assert lines["Đơn vị"] == "Tỉnh Bắc Ninh (24)"
    assert lines["Kỳ báo cáo"] == "2025"
    assert lines["Ngày xuất"] == _today()
    assert "/monitoring/dashboards/tong-quan" in str(lines["Nguồn"])
    assert "kt_thanh_toan" in str(lines["Số liệu"])
    header = kpi.index(next(row for row in kpi if row[0] == "Mã đơn vị"))
    assert kpi[header][:4] == ("Mã đơn vị", "Địa bàn", "Kỳ báo cáo", "Giá trị")
    assert kpi[header + 1][:4] == ("24", "Tỉnh Bắc Ninh", "2025", 58)
    assert isinstance(kpi[header + 1][3], int | float)  # a number, not a text
    assert book.worksheets[0].freeze_panes == f"A{header + 2}"
    ranking = list(book.worksheets[4].iter_rows(values_only=True))
    top = ranking.index(("Hạng", "Mã đơn vị", "Địa bàn", "Giá trị"))
    assert [(r[0], r[1], r[3]) for r in ranking[top + 1 : top + 3]] == [
        (1, VIET_YEN, 66.0),
        (2, TAN_AN, 61.25),
    ]
    exchange = list(book.worksheets[5].iter_rows(values_only=True))
    assert ("Dịch vụ", "Lượt trao đổi", "Lỗi", "Tỷ lệ lỗi (%)") in exchange
    # A title a spreadsheet would run as a formula is only text.
    injected = book.worksheets[6]
    assert all(
        not str(cell.value).startswith("=")
        for row in injected.iter_rows()
        for cell in row
        if cell.value is not None
    )
    assert book.worksheets[6].title.startswith("7. ")
    reports = list(book.worksheets[7].iter_rows(values_only=True))
    top = reports.index(next(row for row in reports if row[0] == "Mã đơn vị"))
    assert reports[top][2:5] == ("Tháng", "Tiếp nhận", "Chưa xử lý xong")
    assert len(reports) - top - 1 == 3  # the three months asked for, none yet with a report
    assert reports[-1][:4] == ("24", "Tỉnh Bắc Ninh", reports[-1][2], 0)
    about = {row[0]: row[1] for row in book.worksheets[8].iter_rows(values_only=True)}
    assert about["Bảng điều khiển"] == "Tổng quan tỉnh"


def test_the_unit_chosen_on_the_dashboard_is_exported_in_english_too(
    viewer: TestClient, board: list[int]
) -> None:
    chosen = viewer.get(f"{BASE}/export.xlsx?unit={VIET_YEN}")
    assert chosen.status_code == 200
    assert f"tong-quan-{VIET_YEN}-" in chosen.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(chosen.content)).worksheets[0].iter_rows(values_only=True))
    lines = {row[0]: row[1] for row in rows if row and row[0]}
    assert lines["Đơn vị"] == "Phường Việt Yên (07777), thuộc Tỉnh Bắc Ninh"
    assert (VIET_YEN, "Phường Việt Yên", "2025", 66.0) in [row[:4] for row in rows]
    viewer.cookies.set(LANGUAGE_COOKIE, "en")
    english = viewer.get(f"{BASE}/export.xlsx?unit={DA_MAI}")
    rows = list(
        load_workbook(io.BytesIO(english.content)).worksheets[0].iter_rows(values_only=True)
    )
    lines = {row[0]: row[1] for row in rows if row and row[0]}
    assert lines["Dashboard"] == "Province overview" and lines["Exported on"] == _today()
    assert ("Unit code", "Administrative unit", "Period", "Value") in [row[:4] for row in rows]
    assert [row[3] for row in rows if row[0] == DA_MAI] == [48.5]


def test_a_panels_csv_reads_back_to_the_same_numbers_in_either_language(
    viewer: TestClient, board: list[int]
) -> None:
    ranking = board[4]
    answer = viewer.get(f"{BASE}/panels/{ranking}/export.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert re.search(
        r'filename="tong-quan-24-\d{2}-\d{2}-\d{4}-o5\.csv"', answer.headers["content-disposition"]
    )
    lines, table = _csv(answer.content, ";")
    assert lines["Ô"].startswith("5. ") and lines["Ngày xuất"] == _today()
    assert lines["Kỳ báo cáo"] == "2025"
    assert table[0] == ["Hạng", "Mã đơn vị", "Địa bàn", "Giá trị"]
    assert "61,25" in answer.content.decode("utf-8-sig")
    read = {row[1]: read_number(row[3], NumberFormat.VI) for row in table[1:]}
    assert {code: r.value for code, r in read.items() if r} == {
        code: value for code, value in VALUES.items() if code != "24"
    }
    viewer.cookies.set(LANGUAGE_COOKIE, "en")
    english = viewer.get(f"{BASE}/panels/{ranking}/export.csv")
    lines, table = _csv(english.content, ",")
    assert table[0] == ["Rank", "Unit code", "Administrative unit", "Value"]
    assert {row[1]: float(row[3]) for row in table[1:]}[TAN_AN] == 61.25
    # One panel as XLSX: one sheet and the one saying what it is.
    book = load_workbook(io.BytesIO(viewer.get(f"{BASE}/panels/{ranking}/export.xlsx").content))
    assert len(book.worksheets) == 2 and book.worksheets[0].title.startswith("5. ")


def test_the_csv_zip_holds_a_file_per_panel_for_the_unit_chosen(
    viewer: TestClient, board: list[int]
) -> None:
    answer = viewer.get(f"{BASE}/export.zip?unit={VIET_YEN}")
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = archive.namelist()
    assert len(names) == 8 and names[0].startswith("01-") and names[0].endswith(".csv")
    lines, table = _csv(archive.read(names[0]), ";")
    assert lines["Đơn vị"].startswith("Phường Việt Yên")
    assert table[1][:4] == [VIET_YEN, "Phường Việt Yên", "2025", "66"]
    counts_lines, counts = _csv(archive.read(names[1]), ";")
    assert counts_lines["Kỳ báo cáo"] == "2024"
    assert counts[0] == ["Trạng thái", "Số chỉ tiêu và đơn vị"]
    assert counts[-1][0] == "Tổng cộng" and int(counts[-1][1]) == sum(
        int(r[1]) for r in counts[1:-1]
    )


def test_the_print_page_lays_out_the_dashboard_for_the_monthly_report(
    viewer: TestClient, board: list[int]
) -> None:
    page = viewer.get(f"{BASE}/print?unit={VIET_YEN}&month=2025-11")
    assert page.status_code == 200, page.text
    assert "Báo cáo tháng 11/2025" in page.text and "Tổng quan tỉnh" in page.text
    assert "Phường Việt Yên" in page.text and _today() in page.text
    assert page.text.count('class="dash-panel ') == 8
    assert "dashboard_export.css" in page.text
    dashboard = viewer.get(f"{BASE}?unit={VIET_YEN}")
    assert f"{BASE}/export.xlsx?unit={VIET_YEN}" in dashboard.text
    assert f"{BASE}/print?unit={VIET_YEN}" in dashboard.text
    assert (
        dashboard.text.count('data-png="panel"') == 8 and 'data-png="dashboard"' in dashboard.text
    )
    assert f"{BASE}/panels/{board[0]}/export.csv?unit={VIET_YEN}" in dashboard.text


def test_odd_input_is_refused_and_never_a_500(viewer: TestClient, board: list[int]) -> None:
    for path in [
        f"{BASE}/export.xlsx?unit=99999",
        f"{BASE}/export.xlsx?unit=%00",
        f"{BASE}/export.zip?unit=" + "1" * 40,
        f"{BASE}/panels/999999/export.csv",
        f"{BASE}/panels/0/export.xlsx",
        f"{BASE}/panels/abc/export.csv",
        f"{BASE}/print?month=2025-13",
        f"{BASE}/print?unit=01",  # Hà Nội is not in Bắc Ninh
        "/monitoring/dashboards/khong-co/export.xlsx",
        "/monitoring/dashboards/BAD!/print",
    ]:
        answer = viewer.get(path)
        assert answer.status_code in {404, 422}, (path, answer.status_code)


def test_only_officials_export(client: TestClient, board: list[int]) -> None:
    for path in [f"{BASE}/export.xlsx", f"{BASE}/export.zip", f"{BASE}/print",
                 f"{BASE}/panels/{board[0]}/export.csv", f"{BASE}/panels/{board[0]}/export.xlsx"]:  # fmt: skip
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
