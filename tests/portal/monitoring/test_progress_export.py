"""The plan-progress table as XLSX (the monthly report): the page's figures, numbers as numbers,
headers in the page's language, formulas neutralised; and the page says when a target is
judged on an earlier year's value."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from openpyxl import load_workbook

from tests.portal.monitoring.support import AS_OF, PLAN, load_test_plan
from tests.portal.monitoring.test_pages import ROW, login
from tinhso.monitoring import repository
from tinhso.monitoring.progress.service import progress_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial


def test_the_workbook_holds_the_pages_targets_with_numbers_as_numbers(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    load_test_plan(sessions)
    login(client, make_official(username="bao-cao-thang").username)
    page = client.get(f"/monitoring?plan={PLAN}&as_of={AS_OF}")
    assert f'href="/monitoring/progress.xlsx?plan={PLAN}&amp;as_of={AS_OF}"' in page.text
    shown = sorted(ROW.findall(page.text))

    answer = client.get(f"/monitoring/progress.xlsx?plan={PLAN}&as_of={AS_OF}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="tien-do-{PLAN}-{AS_OF}.xlsx"' in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Tiến độ kế hoạch", "Thông tin báo cáo"]
    sheet = book["Tiến độ kế hoạch"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[:3] == ("Trụ cột", "Chỉ số", "Đơn vị tính")
    assert "Mức hoàn thành (%)" in header and "Trạng thái" in header
    assert len(rows) - 1 == len(shown)
    with sessions() as session:
        plan = repository.plan_by_code(session, PLAN)
        assert plan is not None
        expected = {
            (a.unit.code, a.year, a.actual)
            for a in progress_service.plan_progress(session, plan, AS_OF)
        }
    code, year, latest = (
        header.index("Mã đơn vị"),
        header.index("Năm mục tiêu"),
        header.index("Giá trị mới nhất"),
    )
    assert {(r[code], r[year], r[latest]) for r in rows[1:]} == expected
    assert any(isinstance(r[latest], float | int) for r in rows[1:])  # numbers, not text
    about = {row[0]: row[1] for row in book["Thông tin báo cáo"].iter_rows(values_only=True)}
    assert about["Đánh giá tại năm"] == str(AS_OF)
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", str(about["Thời điểm xuất"]))


def test_the_workbook_follows_the_page_language(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    load_test_plan(sessions)
    login(client, make_official(username="report-en").username)
    client.get("/lang/en?next=/monitoring")
    answer = client.get(f"/monitoring/progress.xlsx?plan={PLAN}&as_of={AS_OF}")
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Plan progress", "About this report"]
    header = next(book["Plan progress"].iter_rows(values_only=True))
    assert header[:3] == ("Pillar", "Indicator", "Unit of measure")


def test_an_unknown_plan_is_a_404_and_anonymous_visitors_log_in(
    client: TestClient, make_official: MakeOfficial
) -> None:
    assert client.get("/monitoring/progress.xlsx", follow_redirects=False).status_code == 303
    login(client, make_official(username="khong-co-ke-hoach").username)
    assert client.get("/monitoring/progress.xlsx?plan=khong-co").status_code == 404


def test_a_target_judged_on_an_earlier_years_value_says_so(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    load_test_plan(sessions)
    login(client, make_official(username="xem-nam").username)
    text = client.get(f"/monitoring?plan={PLAN}&as_of={AS_OF}").text
    # kt_thanh_toan: a 2025 target, latest value 2024.
    row = re.search(r'data-indicator="kt_thanh_toan" data-year="2025".*?</tr>', text, re.DOTALL)
    assert row is not None
    assert "đánh giá theo số liệu năm 2024" in row[0]
