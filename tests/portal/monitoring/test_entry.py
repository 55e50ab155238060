"""The data-entry form and the file import: officers write for their own units only, bad
input shows its error next to the field and writes nothing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from tests.portal.monitoring.test_pages import login
from tinhso.monitoring.models import DataValue
from tinhso.monitoring.transfer.tables import value_rows
from tinhso.registry.models import Role, UnitSet

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

from tests.portal.monitoring.support import load_demo

VIET_YEN = "legacy:222"  # thị xã Việt Yên, tied to the organisation ubnd-viet-yen
YEN_THE = "legacy:215"  # another district of legacy Bắc Giang


def csrf(client: TestClient, path: str = "/monitoring/entry") -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert token is not None
    return token[1]


def stored(sessions: sessionmaker[Session], unit: str, element: str = "iot_devices") -> list[float]:
    with sessions() as session:
        rows = value_rows(session, elements=[element], unit_set=UnitSet.LEGACY, units=[unit])
        return [value.value for value, *_ in rows]


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(DataValue)) or 0


@pytest.fixture
def officer(
    client: TestClient,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
) -> TestClient:
    load_demo(sessions)
    login(client, make_official(Role.OFFICER, "ubnd-viet-yen", username="can-bo-viet-yen").username)
    return client


def test_form_lists_only_the_officers_own_units(officer: TestClient) -> None:
    html = officer.get("/monitoring/entry").text
    options = re.findall(r'<option value="(legacy:\d+)"', html)
    assert VIET_YEN in options
    assert YEN_THE not in options
    assert "legacy:24" not in options  # the province above is not theirs
    assert all(len(code.split(":")[1]) in {3, 5} for code in options)  # Việt Yên and its communes
    assert 'hx-post="/monitoring/entry"' in html


def test_officer_enters_a_value_for_their_unit_in_vietnamese_format(
    officer: TestClient, sessions: sessionmaker[Session]
) -> None:
    token = csrf(officer)
    answer = officer.post(
        "/monitoring/entry",
        data={
            "csrf_token": token,
            "unit": VIET_YEN,
            "element": "iot_devices",
            "period": "2024",
            "value": "1.380",
            "note": "Báo cáo số 12/BC-UBND",
        },
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert "Đã lưu." in answer.text
    assert "<html" not in answer.text  # an HTMX partial: the form only
    assert stored(sessions, "222") == [1380.0]
    # The indicator page shows it with who entered it.
    page = officer.get("/monitoring/indicators/iot_devices_per_100_people?tree=legacy&parent=24")
    assert "can-bo-viet-yen" in page.text or "Việt Yên" in page.text


def test_decimal_comma_is_accepted(officer: TestClient, sessions: sessionmaker[Session]) -> None:
    answer = officer.post(
        "/monitoring/entry",
        data={
            "csrf_token": csrf(officer),
            "unit": VIET_YEN,
            "element": "households_fibre_pct",
            "period": "2024",
            "value": "47,85",
        },
    )
    assert answer.status_code == 200
    assert stored(sessions, "222", "households_fibre_pct") == [47.85]


def test_another_units_value_is_refused_and_nothing_written(
    officer: TestClient, sessions: sessionmaker[Session]
) -> None:
    before = count(sessions)
    answer = officer.post(
        "/monitoring/entry",
        data={
            "csrf_token": csrf(officer),
            "unit": YEN_THE,
            "element": "iot_devices",
            "period": "2024",
            "value": "500",
        },
    )
    assert answer.status_code == 403
    assert 'id="entry-unit-error"' in answer.text
    assert "Bạn không được nhập số liệu cho đơn vị" in answer.text
    assert count(sessions) == before


def test_bad_number_shows_the_error_next_to_the_field_and_writes_nothing(
    officer: TestClient, sessions: sessionmaker[Session]
) -> None:
    before = count(sessions)
    answer = officer.post(
        "/monitoring/entry",
        data={
            "csrf_token": csrf(officer),
            "unit": VIET_YEN,
            "element": "iot_devices",
            "period": "2024",
            "value": "1.38a",
        },
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200  # HTMX swaps only 2xx answers
    assert 'id="entry-value-error"' in answer.text
    assert "“1.38a” không phải là số" in answer.text
    assert 'value="1.38a"' in answer.text  # what was typed stays in the field
    assert count(sessions) == before
    plain = officer.post(
        "/monitoring/entry",
        data={
            "csrf_token": csrf(officer),
            "unit": VIET_YEN,
            "element": "households_fibre_pct",
            "period": "2024",
            "value": "147",
        },
    )
    assert plain.status_code == 422
    assert 'id="entry-value-error"' in plain.text
    assert "tỷ lệ phần trăm" in plain.text  # the value service's own rule, in Vietnamese
    assert count(sessions) == before


def test_bad_number_in_english(officer: TestClient, sessions: sessionmaker[Session]) -> None:
    officer.cookies.set("tinhso_lang", "en")
    answer = officer.post(
        "/monitoring/entry",
        data={
            "csrf_token": csrf(officer),
            "unit": VIET_YEN,
            "element": "iot_devices",
            "period": "2024-13",
            "value": "12",
        },
    )
    assert answer.status_code == 422
    assert 'id="entry-period-error"' in answer.text


def test_entry_needs_the_csrf_token(officer: TestClient, sessions: sessionmaker[Session]) -> None:
    before = count(sessions)
    answer = officer.post(
        "/monitoring/entry",
        data={"unit": VIET_YEN, "element": "iot_devices", "period": "2024", "value": "5"},
    )
    assert answer.status_code == 403
    assert count(sessions) == before


def test_viewer_without_a_unit_sees_why_and_cannot_write(
    client: TestClient,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    load_demo(sessions)
    login(client, make_official(Role.VIEWER, "ubnd-viet-yen", username="xem").username)
    html = client.get("/monitoring/entry").text
    assert "không thể nhập số liệu" in html
    assert "không thể nhập số liệu" in client.get("/monitoring/import").text
    before = count(sessions)
    answer = client.post(
        "/monitoring/entry",
        data={
            "csrf_token": csrf(client),
            "unit": VIET_YEN,
            "element": "iot_devices",
            "period": "2024",
            "value": "5",
        },
    )
    assert answer.status_code == 403
    assert count(sessions) == before


def test_import_with_errors_lists_them_per_row_and_writes_nothing(
    officer: TestClient, sessions: sessionmaker[Session]
) -> None:
    before = count(sessions)
    content = (
        "Mã chỉ tiêu dữ liệu,Mã đơn vị hành chính,Bộ đơn vị (hiện hành/cũ),Kỳ báo cáo,Giá trị,Ghi chú\n"
        "iot_devices,222,cũ,2024,1.500,\n"
        "iot_devices,222,cũ,2023,abc,\n"
    ).encode()
    answer = officer.post(
        "/monitoring/import",
        data={"csrf_token": csrf(officer, "/monitoring/import")},
        files={"file": ("so-lieu.csv", content, "text/csv")},
    )
    assert answer.status_code == 422
    assert 'id="import-errors"' in answer.text
    assert '<td class="number">3</td>' in answer.text  # the spreadsheet's row number
    assert "abc" in answer.text
    assert count(sessions) == before


def test_import_for_another_unit_is_refused(
    officer: TestClient, sessions: sessionmaker[Session]
) -> None:
    before = count(sessions)
    content = (
        "Mã chỉ tiêu dữ liệu,Mã đơn vị hành chính,Bộ đơn vị (hiện hành/cũ),Kỳ báo cáo,Giá trị\n"
        "iot_devices,215,cũ,2024,10\n"
    ).encode()
    answer = officer.post(
        "/monitoring/import",
        data={"csrf_token": csrf(officer, "/monitoring/import")},
        files={"file": ("so-lieu.csv", content, "text/csv")},
    )
    assert answer.status_code == 403
    assert "Bạn không được nhập số liệu cho đơn vị" in answer.text
    assert count(sessions) == before


def test_import_of_a_good_file(officer: TestClient, sessions: sessionmaker[Session]) -> None:
    page = officer.get("/monitoring/import").text
    assert "/api/v1/monitoring/imports/template?format=xlsx&amp;lang=vi" in page
    content = (
        "Mã chỉ tiêu dữ liệu,Mã đơn vị hành chính,Bộ đơn vị (hiện hành/cũ),Kỳ báo cáo,Giá trị\n"
        "iot_devices,222,cũ,2024,1.500\n"
    ).encode()
    answer = officer.post(
        "/monitoring/import",
        data={"csrf_token": csrf(officer, "/monitoring/import")},
        files={"file": ("so-lieu.csv", content, "text/csv")},
    )
    assert answer.status_code == 200
    assert "Đã nhập so-lieu.csv: 1 dòng — 1 mới" in answer.text
    assert stored(sessions, "222") == [1500.0]
