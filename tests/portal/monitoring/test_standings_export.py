"""The rankings and composite-index tables as XLSX, on both databases: the page's rows with
numbers as numbers, headers in the page's language, a rank column only when the page shows
ranks, and a sheet saying what the table is."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from openpyxl import load_workbook

from tests.portal.monitoring.test_pages import data, viewer  # noqa: F401 - fixtures
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.portal.workbooks import table_workbook

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

RANKING = "/monitoring/rankings?indicator=kt_thanh_toan&period=2024&tree=legacy&level=province"


def _book(client: TestClient, path: str) -> tuple[list[tuple[object, ...]], dict[object, object]]:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert answer.headers["cache-control"] == "no-store"
    book = load_workbook(io.BytesIO(answer.content))
    first, about = book.worksheets
    return list(first.iter_rows(values_only=True)), {
        r[0]: r[1] for r in about.iter_rows(values_only=True)
    }


def test_the_ranking_workbook_is_the_pages_table(
    viewer: TestClient,  # noqa: F811
    data: None,  # noqa: F811
    sessions: sessionmaker[Session],
) -> None:
    page = viewer.get(RANKING)
    link = re.search(r'id="export-xlsx" href="([^"]+)"', page.text)
    assert link is not None
    rows, about = _book(viewer, link[1].replace("&amp;", "&"))
    assert rows[0] == ("Đơn vị", "Mã đơn vị", "Giá trị", "Cơ sở tính")  # one unit: no rank
    assert rows[1][:3] == ("Tỉnh Bắc Giang", "24", 45.5)
    assert "Chưa đủ đơn vị để xếp hạng" in str(about["Hạng"])
    assert "kt_thanh_toan" in str(about["Chỉ số"])
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", str(about["Thời điểm xuất"]))
    items = [
        ValueIn.model_validate(
            {
                "element_code": "kt_thanh_toan_pct",
                "unit": {"unit_set": "legacy", "code": code},
                "period": "2024",
                "value": value,
            }
        )
        for code, value in (("19", 60), ("01", 30))
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
    rows, _ = _book(viewer, RANKING.replace("/rankings?", "/rankings.xlsx?"))
    assert rows[0][0] == "Hạng"
    assert [(r[0], r[2]) for r in rows[1:]] == [(1, "19"), (2, "24"), (3, "01")]
    viewer.get("/lang/en?next=/monitoring")
    rows, about = _book(viewer, RANKING.replace("/rankings?", "/rankings.xlsx?"))
    assert rows[0] == ("Rank", "Unit", "Unit code", "Value", "Basis")
    assert "Exported at" in about


def test_the_index_workbook_is_the_pages_table(
    viewer: TestClient,  # noqa: F811
    data: None,  # noqa: F811
) -> None:
    page = viewer.get("/monitoring/index?tree=legacy")
    link = re.search(r'id="export-xlsx" href="([^"]+)"', page.text)
    assert link is not None and 'id="print-report"' in page.text
    rows, about = _book(viewer, link[1].replace("&amp;", "&"))
    header = rows[0]
    assert header[:2] == ("Đơn vị", "Mã đơn vị") and header[-3:] == (
        "Tổng điểm",
        "Điểm quy đổi",
        "Số thành phần có dữ liệu",
    )
    assert len(rows) == 2 and rows[1][1] == "24"
    assert all(isinstance(v, int | float) for v in rows[1][2:-2])
    assert "DTI" in str(about["Phiên bản phương pháp"])


def test_nothing_to_export_is_a_404(
    viewer: TestClient,  # noqa: F811
) -> None:
    assert viewer.get("/monitoring/rankings.xlsx?indicator=khong_co").status_code == 404
    assert viewer.get("/monitoring/index.xlsx").status_code == 404


def test_the_indicator_workbook_is_the_pages_values_table(
    viewer: TestClient,  # noqa: F811
    data: None,  # noqa: F811
) -> None:
    page = viewer.get("/monitoring/indicators/kt_thanh_toan?tree=legacy")
    assert page.status_code == 200
    link = re.search(r'id="export-xlsx" href="([^"]+)"', page.text)
    assert link is not None
    table = re.search(r'id="computed-values">(.*?)</table>', page.text, re.DOTALL)
    assert table is not None
    shown = table[1].count("<tr") - 1  # the header row
    rows, about = _book(viewer, link[1].replace("&amp;", "&"))
    assert rows[0] == ("Đơn vị", "Mã đơn vị", "Kỳ báo cáo", "Giá trị", "Cơ sở tính")
    assert len(rows) - 1 == shown > 0
    assert ("Tỉnh Bắc Giang", "24", "2024", 45.5) in [r[:4] for r in rows[1:]]
    assert "kt_thanh_toan" in str(about["Chỉ số"])
    assert viewer.get("/monitoring/indicators/khong_co.xlsx").status_code == 404


def test_a_sheet_name_loses_what_excel_refuses() -> None:
    content = table_workbook("Thiết bị IoT/100 dân [ước tính]", ["A"], [[1]], [], title="T")
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames[0] == "Thiết bị IoT-100 dân -ước tính-"
