"""File import (CSV/XLSX) and export through the API, on both databases: all or nothing,
errors per row and column, provenance and corrections, who may import, round trips."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.monitoring.support import API, create_fibre_catalogue
from tinhso.monitoring.models import DataValue, DataValueCorrection, ValueSource
from tinhso.monitoring.transfer import api as transfer_api
from tinhso.registry.models import Role, User

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

VI_HEADER = [
    "Mã chỉ tiêu dữ liệu",
    "Mã đơn vị hành chính",
    "Bộ đơn vị (hiện hành/cũ)",
    "Kỳ báo cáo",
    "Giá trị",
    "Ghi chú",
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def catalogue(client: TestClient, admin: Official, province_tree: dict[str, str]) -> None:
    create_fibre_catalogue(
        client,
        admin,
        (
            {"code": "online_dossiers", "value_type": "integer", "period_type": "month"},
            {"code": "satisfaction", "value_type": "number", "period_type": "quarter"},
        ),
    )


def xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header or VI_HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(
    rows: list[list[Any]], header: list[str] | None = None, delimiter: str = ","
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header or VI_HEADER)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode()


def upload(client: TestClient, official: Official, name: str, content: bytes) -> Any:
    return client.post(
        f"{API}/imports", headers=official.headers, files={"file": (name, content, XLSX)}
    )


def count(sessions: sessionmaker[Session], model: Any = DataValue) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_template_has_vietnamese_or_english_headers(
    client: TestClient, catalogue: None, make_official: MakeOfficial
) -> None:
    viewer = make_official(Role.VIEWER, "so-yte")
    response = client.get(f"{API}/imports/template", headers=viewer.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "mau-nhap-so-lieu.xlsx" in response.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Số liệu", "Hướng dẫn", "Chỉ tiêu dữ liệu"]
    assert [c.value for c in workbook["Số liệu"][1]] == VI_HEADER
    elements = [
        row[0] for row in workbook["Chỉ tiêu dữ liệu"].iter_rows(min_row=2, values_only=True)
    ]
    assert "households" in elements
    english = client.get(
        f"{API}/imports/template", headers=viewer.headers, params={"lang": "en", "format": "csv"}
    )
    assert english.status_code == 200
    assert english.headers["content-type"].startswith("text/csv")
    assert english.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    assert english.content.decode("utf-8-sig").splitlines()[0] == (
        "Data element code,Administrative unit code,Unit set (current/legacy),Period,Value,Comment"
    )
    vietnamese_csv = client.get(
        f"{API}/imports/template", headers=viewer.headers, params={"format": "csv"}
    )
    assert vietnamese_csv.content.decode("utf-8-sig").splitlines()[0] == ",".join(VI_HEADER)
    assert client.get(f"{API}/imports/template").status_code == 401


def test_xlsx_import_writes_values_with_file_provenance(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")  # legacy district 222 and below
    content = xlsx(
        [
            ["households", "07759", "cũ", "2024", "1.380", "số liệu điều tra"],
            ["households_fibre", 7762, "cũ", 2024, "1.200", None],  # Excel dropped the zeros
            ["households", "07762", "cũ", "Năm 2024", 1500, None],
            ["fibre_share", "222", "cũ", "2024", "47,85", None],
            ["online_dossiers", "07759", "cũ", "07/2024", "12", None],
            ["online_dossiers", "07765", "cũ", "Tháng 8/2024", "1.234", None],
            ["satisfaction", "07759", "cũ", "Quý 3/2024", "4,5", None],
            ["satisfaction", "07762", "cũ", "2024-Q4", "4.25", None],
        ]
    )
    response = upload(client, officer, "bao-cao-viet-yen.xlsx", content)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "file_name": "bao-cao-viet-yen.xlsx",
        "rows": 8,
        "inserted": 8,
        "corrected": 0,
        "unchanged": 0,
    }
    with sessions() as session:
        rows = session.execute(select(DataValue).order_by(DataValue.id)).scalars().all()
        user_id = session.scalar(select(User.id).where(User.username == officer.username))
        by_period = {(r.period, r.value) for r in rows}
        assert ("2024", 1380.0) in by_period
        assert ("2024", 1200.0) in by_period
        assert ("2024", 47.85) in by_period
        assert ("2024-07", 12.0) in by_period
        assert ("2024-08", 1234.0) in by_period
        assert ("2024-Q3", 4.5) in by_period
        assert ("2024-Q4", 4.25) in by_period
        for row in rows:
            assert row.source is ValueSource.FILE
            assert row.source_reference == "bao-cao-viet-yen.xlsx"
            assert row.entered_by_id == user_id
            assert row.entered_at is not None
        assert rows[0].comment == "số liệu điều tra"


def test_csv_import_with_english_headers_and_semicolons(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    content = csv_bytes(
        [
            ["households", "00004", "current", "2025", "2,500", ""],  # English grouping
            ["households", "24", "legacy", "2024", "1380", "plain"],
        ],
        header=[
            "Data element code",
            "Administrative unit code",
            "Unit set",
            "Period",
            "Value",
            "Comment",
        ],
        delimiter=";",
    )
    response = upload(client, admin, "values.csv", content)
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 2
    assert count(sessions) == 2


def test_invalid_rows_are_listed_by_row_and_column_and_nothing_is_written(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    content = xlsx(
        [
            ["households", "07759", "cũ", "2024", "100", None],  # row 2: fine
            ["households", "99999", "cũ", "2024", "100", None],  # row 3: no such unit
            ["households", "07762", "cũ", "2024-13", "100", None],  # row 4: bad period
            ["households", "07765", "cũ", "2024", "một trăm", None],  # row 5: text
            ["households", "07759", "cũ", "2024", "120", None],  # row 6: duplicates row 2
            ["households", "07762", "cũ", "2024-07", "5", None],  # row 7: yearly element
        ]
    )
    response = upload(client, admin, "loi.xlsx", content)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "import_rejected"
    assert "không có số liệu nào được ghi" in body["message"]["vi"]
    found = {(e["row"], e["column"]) for e in body["errors"]}
    assert found == {
        (3, "Mã đơn vị hành chính"),
        (4, "Kỳ báo cáo"),
        (5, "Giá trị"),
        (6, "Kỳ báo cáo"),
        (7, "Kỳ báo cáo"),
    }
    by_row = {e["row"]: e for e in body["errors"]}
    assert by_row[5]["value"] == "một trăm"
    assert "không phải là số" in by_row[5]["message"]["vi"]
    assert "is not a number" in by_row[5]["message"]["en"]
    assert "trùng với dòng 2" in by_row[6]["message"]["vi"]
    assert by_row[3]["value"] == "99999"
    assert count(sessions) == 0
    # validation rules (checked once every row is otherwise valid) name the row too
    content = xlsx(
        [
            ["households", "07759", "cũ", "2024", "100", None],
            ["households_fibre", "07759", "cũ", "2024", "150", None],  # more than households
        ]
    )
    response = upload(client, admin, "quy-tac.xlsx", content)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["row"], error["column"], error["value"]) == (3, "Giá trị", "150")
    assert "fibre-le-households" in error["message"]["vi"]
    assert count(sessions) == 0


def test_missing_columns_and_wrong_files(
    client: TestClient,
    catalogue: None,
    admin: Official,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = upload(client, admin, "a.csv", csv_bytes([["households"]], header=["Mã chỉ tiêu"]))
    assert missing.status_code == 422
    assert "Giá trị" in missing.json()["message"]["vi"]
    assert upload(client, admin, "a.xls", b"\xd0\xcf\x11\xe0old excel").status_code == 415
    assert upload(client, admin, "a.pdf", b"%PDF-1.4").status_code == 415
    broken = upload(client, admin, "a.xlsx", b"not a zip file")
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "file"
    latin1 = upload(
        client,
        admin,
        "a.csv",
        "Mã đơn vị;Giá trị\n".encode("cp1252", errors="replace") + b"\xc3\x28\n",
    )
    assert latin1.status_code == 422
    assert "UTF-8" in latin1.json()["message"]["vi"]
    monkeypatch.setattr(transfer_api, "MAX_FILE_BYTES", 100)
    big = upload(client, admin, "a.csv", csv_bytes([["households", "24", "cũ", "2024", "1"]] * 10))
    assert big.status_code == 413
    assert count(sessions) == 0


def test_officer_cannot_import_values_of_another_unit(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    content = xlsx(
        [
            ["households", "07759", "cũ", "2024", "100", None],  # Việt Yên: allowed
            ["households", "07201", "cũ", "2024", "100", None],  # TP Bắc Giang: not allowed
        ]
    )
    response = upload(client, officer, "hai-don-vi.xlsx", content)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["errors"][0]["row"] == 3
    assert body["errors"][0]["value"] == "07201"
    assert "Dòng 3" in body["message"]["vi"]
    assert count(sessions) == 0
    viewer = make_official(Role.VIEWER, "ubnd-viet-yen")
    only_own = xlsx([["households", "07759", "cũ", "2024", "100", None]])
    assert upload(client, viewer, "v.xlsx", only_own).status_code == 403
    assert count(sessions) == 0


def test_reimport_of_a_changed_value_is_a_correction_in_history(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    first = xlsx(
        [
            ["households", "07759", "cũ", "2024", "1.380", None],
            ["households", "07762", "cũ", "2024", "900", None],
        ]
    )
    assert upload(client, admin, "lan-1.xlsx", first).json()["inserted"] == 2
    again = upload(client, admin, "lan-1.xlsx", first).json()
    assert (again["inserted"], again["corrected"], again["unchanged"]) == (0, 0, 2)
    second = xlsx(
        [
            ["households", "07759", "cũ", "2024", "1.400", None],
            ["households", "07762", "cũ", "2024", "900", None],
        ]
    )
    result = upload(client, admin, "lan-2.xlsx", second).json()
    assert (result["inserted"], result["corrected"], result["unchanged"]) == (0, 1, 1)
    with sessions() as session:
        corrections = session.scalars(select(DataValueCorrection)).all()
        assert len(corrections) == 1
        correction = corrections[0]
        assert correction.previous_value == 1380.0
        assert correction.new_value == 1400.0
        assert correction.previous_source is ValueSource.FILE
        assert correction.previous_source_reference == "lan-1.xlsx"
        value = session.get(DataValue, correction.data_value_id)
        assert value is not None
        assert (value.value, value.version, value.source_reference) == (1400.0, 2, "lan-2.xlsx")


def test_exported_values_import_again_unchanged(
    client: TestClient, catalogue: None, admin: Official, make_official: MakeOfficial
) -> None:
    content = xlsx(
        [
            ["households", "07759", "cũ", "2024", "1.380", "ghi chú"],
            ["fibre_share", "222", "cũ", "2024", "47,85", None],
            ["satisfaction", "07759", "cũ", "Quý 3/2024", "4,5", None],
            ["households", "00004", "hiện hành", "2025", "2000", None],
        ]
    )
    assert upload(client, admin, "goc.xlsx", content).status_code == 200
    viewer = make_official(Role.VIEWER, "so-yte")
    for fmt in ("xlsx", "csv"):
        for lang in ("vi", "en"):
            exported = client.get(
                f"{API}/exports/values",
                headers=viewer.headers,
                params={"format": fmt, "lang": lang},
            )
            assert exported.status_code == 200, exported.text
            again = upload(client, admin, f"export.{fmt}", exported.content)
            assert again.status_code == 200, again.text
            assert again.json()["unchanged"] == 4, (fmt, lang)
    exported = client.get(
        f"{API}/exports/values",
        headers=viewer.headers,
        params={"format": "xlsx", "lang": "en", "unit_set": "legacy", "element": "households"},
    )
    sheet = load_workbook(io.BytesIO(exported.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == (
        "Data element code",
        "Administrative unit code",
        "Unit set (current/legacy)",
        "Period",
        "Value",
    )
    assert rows[1][:6] == ("households", "07759", "legacy", "2024", 1380, "ghi chú")
    assert len(rows) == 2
    csv_vi = client.get(
        f"{API}/exports/values", headers=viewer.headers, params={"format": "csv", "year": 2025}
    )
    lines = csv_vi.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith(",".join(VI_HEADER))
    assert lines[1].startswith("households,00004,hiện hành,2025,2000,")
    assert client.get(f"{API}/exports/values").status_code == 401


def test_export_of_computed_indicator_values_and_ranking(
    client: TestClient, catalogue: None, admin: Official
) -> None:
    content = xlsx(
        [
            ["households", "07759", "cũ", "2024", "200", None],
            ["households_fibre", "07759", "cũ", "2024", "150", None],
            ["households", "07762", "cũ", "2024", "100", None],
            ["households_fibre", "07762", "cũ", "2024", "90", None],
        ]
    )
    assert upload(client, admin, "a.xlsx", content).status_code == 200
    response = client.get(
        f"{API}/exports/indicators/households-fibre-rate/values",
        headers=admin.headers,
        params={
            "format": "csv",
            "period": "2024",
            "tree": "legacy",
            "unit": ["07759", "07762"],
        },
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:6] == [
        "Mã chỉ số",
        "Tên chỉ số",
        "Mã đơn vị hành chính",
        "Tên đơn vị hành chính",
        "Kỳ báo cáo",
        "Giá trị",
    ]
    values = {row[2]: float(row[5]) for row in rows[1:]}
    assert values == {"07759": 75.0, "07762": 90.0}
    ranking = client.get(
        f"{API}/exports/indicators/households-fibre-rate/ranking",
        headers=admin.headers,
        params={
            "period": "2024",
            "tree": "legacy",
            "level": "commune",
            "parent": "222",
            "lang": "en",
        },
    )
    assert ranking.status_code == 200, ranking.text
    sheet = load_workbook(io.BytesIO(ranking.content)).active
    assert sheet is not None
    ranked = list(sheet.iter_rows(values_only=True))
    assert ranked[0][:2] == ("Rank", "Administrative unit code")
    assert [(r[0], r[1]) for r in ranked[1:]] == [(1, "07762"), (2, "07759")]
    missing = client.get(
        f"{API}/exports/indicators/no-such/values", headers=admin.headers, params={"period": "2024"}
    )
    assert missing.status_code == 404


def test_export_of_plan_progress_and_index(
    client: TestClient, catalogue: None, admin: Official, make_official: MakeOfficial
) -> None:
    plan = {
        "code": "kh-324",
        "number": "324/KH-UBND",
        "title_vi": "Kế hoạch chuyển đổi số",
        "issuing_body": "UBND tỉnh Bắc Giang",
        "start_year": 2021,
        "end_year": 2030,
    }
    assert client.post(f"{API}/plans", headers=admin.headers, json=plan).status_code == 201
    target = {
        "indicator_code": "households-fibre-rate",
        "year": 2025,
        "target_value": 80,
        "scope_unit": {"unit_set": "legacy", "code": "24"},
    }
    response = client.post(f"{API}/plans/kh-324/targets", headers=admin.headers, json=target)
    assert response.status_code == 201, response.text
    methodology = {
        "code": "dti-test",
        "name_vi": "DTI thử",
        "max_points": 100,
        "normalisation": "percent",
        "components": [
            {
                "code": "infra",
                "name_vi": "Hạ tầng số",
                "name_en": "Digital infrastructure",
                "max_points": 100,
            },
            {
                "code": "fibre",
                "parent_code": "infra",
                "name_vi": "Cáp quang",
                "indicator_code": "households-fibre-rate",
                "max_points": 100,
                "scoring": "thresholds",
                "thresholds": [{"min": 50, "points": 40}, {"min": 80, "points": 100}],
            },
        ],
    }
    response = client.post(f"{API}/methodologies", headers=admin.headers, json=methodology)
    assert response.status_code == 201, response.text
    content = xlsx(
        [
            ["households", "24", "cũ", "2024", "1.000", None],
            ["households_fibre", "24", "cũ", "2024", "850", None],
        ]
    )
    assert upload(client, admin, "tinh.xlsx", content).status_code == 200
    viewer = make_official(Role.VIEWER, "so-yte")
    progress = client.get(
        f"{API}/exports/plans/kh-324/progress",
        headers=viewer.headers,
        params={"format": "csv", "as_of": 2024},
    )
    assert progress.status_code == 200, progress.text
    rows = list(csv.reader(io.StringIO(progress.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Mã chỉ số"
    assert rows[0][-1] == "Tình trạng"
    [row] = rows[1:]
    assert (row[0], row[2], row[4], row[8]) == ("households-fibre-rate", "24", "2025", "85")
    index = client.get(
        f"{API}/exports/methodologies/dti-test/index",
        headers=viewer.headers,
        params={"period": "2024", "tree": "legacy", "lang": "en"},
    )
    assert index.status_code == 200, index.text
    sheet = load_workbook(io.BytesIO(index.content)).active
    assert sheet is not None
    header, *ranked = list(sheet.iter_rows(values_only=True))
    assert header[0] == "Rank"
    assert header[-1] == "Pillar: Digital infrastructure"
    assert [(r[0], r[1], r[3]) for r in ranked] == [(1, "24", 100)]
