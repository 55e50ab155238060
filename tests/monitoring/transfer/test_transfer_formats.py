"""Reading cells and headers of imported files (no database)."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from tinhso.core.errors import InvalidInput
from tinhso.monitoring.transfer.export import Table, write_csv
from tinhso.monitoring.transfer.file_import import parse_rows
from tinhso.monitoring.transfer.formats import (
    FileTooLarge,
    UnsupportedFileType,
    clean_file_name,
    map_header,
    normalise_header,
    parse_number,
    parse_period_cell,
    parse_unit_set,
    read_sheet,
)
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.registry.models import UnitSet


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.380", 1380.0),
        ("47,85", 47.85),
        ("1.380,5", 1380.5),
        ("1.234.567", 1234567.0),
        ("1380", 1380.0),
        ("47.85", 47.85),
        ("0.5", 0.5),
        ("1,380.5", 1380.5),
        ("1,234,567", 1234567.0),
        ("-2,5", -2.5),
        (" 1 380 ", 1380.0),
        ("85%", 85.0),
        ("1\u00a0380", 1380.0),
        (12, 12.0),
        (4.5, 4.5),
    ],
)
def test_numbers_in_vietnamese_and_plain_format(raw: object, expected: float) -> None:
    reading = parse_number(raw, NumberFormat.VI)
    assert reading is not None
    assert reading.value == expected


@pytest.mark.parametrize("raw", ["một trăm", "", "1.2.3", "12abc", "1,2,3", None, "--1"])
def test_text_is_not_a_number(raw: object) -> None:
    assert parse_number(raw, NumberFormat.VI) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025", "2025"),
        (2025, "2025"),
        (2025.0, "2025"),
        ("Năm 2025", "2025"),
        ("2025-Q3", "2025-Q3"),
        ("2025Q3", "2025-Q3"),
        ("Quý 3/2025", "2025-Q3"),
        ("quý III/2025", "2025-Q3"),
        ("Q4-2025", "2025-Q4"),
        ("2025-07", "2025-07"),
        ("202507", "2025-07"),
        ("07/2025", "2025-07"),
        ("7/2025", "2025-07"),
        ("Tháng 7/2025", "2025-07"),
        ("T12/2025", "2025-12"),
        (datetime(2025, 7, 1), "2025-07"),  # noqa: DTZ001 - Excel turned "07/2025" into a (naive) date
        (date(2025, 3, 1), "2025-03"),
    ],
)
def test_periods(raw: object, expected: str) -> None:
    assert parse_period_cell(raw) == expected


@pytest.mark.parametrize("raw", ["2025-13", "Quý 5/2025", "13/2025", "2025-Q0", "hôm qua", None])
def test_bad_periods(raw: object) -> None:
    assert parse_period_cell(raw) is None


def test_unit_sets_and_headers() -> None:
    assert parse_unit_set("hiện hành") is UnitSet.CURRENT
    assert parse_unit_set(None) is UnitSet.CURRENT
    assert parse_unit_set("Cũ") is UnitSet.LEGACY
    assert parse_unit_set("legacy") is UnitSet.LEGACY
    assert parse_unit_set("khác") is None
    assert normalise_header("Bộ đơn vị (hiện hành/cũ)") == "bo don vi hien hanh cu"
    positions, _ = map_header(
        ["MÃ CHỈ TIÊU DỮ LIỆU", "Ma don vi hanh chinh", "Tên đơn vị", "Ky bao cao", "Value"]
    )
    assert positions == {"element_code": 0, "unit_code": 1, "period": 3, "value": 4}
    with pytest.raises(InvalidInput) as missing:
        map_header(["Giá trị", "Giá trị"])
    messages = " ".join(e.message.en for e in missing.value.errors)
    assert "appears twice" in messages
    assert "Missing column «Period»" in messages


def test_rows_report_every_problem_with_row_numbers() -> None:
    buffer = io.BytesIO()
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(
        ["Mã chỉ tiêu dữ liệu", "Mã đơn vị hành chính", "Bộ đơn vị", "Kỳ báo cáo", "Giá trị"]
    )
    sheet.append(["households", "00004", "", "2025", "1.380"])
    sheet.append([])  # blank rows are skipped but keep the numbering
    sheet.append(["households", "00004", "mới", "2025", None])
    sheet.append(["households", "00004", "xyz", "2025-99", "abc"])
    workbook.save(buffer)
    rows, errors = parse_rows(read_sheet("x.xlsx", buffer.getvalue()))
    assert [(r.row, r.unit_set, r.value) for r in rows] == [(2, UnitSet.CURRENT, 1380.0)]
    assert {(e.row, e.column) for e in errors.items} == {
        (4, "Giá trị"),
        (5, "Giá trị"),
        (5, "Kỳ báo cáo"),
        (5, "Bộ đơn vị"),
    }


def test_file_checks() -> None:
    with pytest.raises(UnsupportedFileType):
        read_sheet("bao-cao.ods", b"PK")
    with pytest.raises(FileTooLarge):
        read_sheet("big.csv", b"x" * (10 * 1024 * 1024 + 1))
    with pytest.raises(InvalidInput):
        read_sheet("empty.csv", b"")
    assert clean_file_name("C:\\Users\\cb\\Desktop\\bao cao.xlsx") == "bao cao.xlsx"
    assert clean_file_name("../../etc/passwd") == "passwd"
    assert clean_file_name(None) == "upload"


def test_csv_export_has_bom_and_numbers_in_the_headers_format() -> None:
    from tinhso.monitoring.transfer.formats import IMPORT_COLUMNS  # noqa: PLC0415

    table = Table(
        "x",
        "Số liệu",
        "Data",
        IMPORT_COLUMNS,
        [["a", "24", "cũ", "2025", 1380.0, None], ["b", "24", "cũ", "2025", 47.85, "x,y"]],
    )
    text = write_csv(table, "vi")
    assert text.startswith(b"\xef\xbb\xbf")
    lines = text.decode("utf-8-sig").splitlines()
    assert lines[1] == "a,24,cũ,2025,1380,"
    # Vietnamese headers: a decimal comma and no thousands groups (reads back the same).
    assert lines[2] == 'b,24,cũ,2025,"47,85","x,y"'
    english = write_csv(table, "en").decode("utf-8-sig").splitlines()
    assert english[2] == 'b,24,cũ,2025,47.85,"x,y"'
