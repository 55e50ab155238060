"""Issue 12, items 1-2: a number is stored as the official wrote it, or refused.

Through the JSON API, CSV and XLSX files (API and CLI) and exports read back, on both
databases; the property-based tests format random numbers in both conventions.
"""

from __future__ import annotations

import io
import math
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.monitoring.support import API
from tests.monitoring.transfer.test_transfer import VI_HEADER, catalogue, csv_bytes, upload, xlsx
from tests.monitoring.transfer.test_transfer_cli import cli_env
from tinhso.cli import app
from tinhso.monitoring.models import DataValue
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.transfer.export import write_table
from tinhso.monitoring.transfer.file_import import import_file
from tinhso.monitoring.transfer.tables import values_table
from tinhso.monitoring.values.number_format import NumberFormat, format_number, read_number
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import AdministrativeUnit, Role

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

__all__ = ["catalogue", "cli_env"]  # fixtures shared with the file import tests

EN_HEADER = ["Data element code", "Administrative unit code", "Unit set", "Period", "Value"]


@pytest.fixture
def ratios(client: TestClient, admin: Official, catalogue: None) -> None:
    for code, value_type in (("ratio", "number"), ("count", "integer"), ("share", "percentage")):
        response = client.post(
            f"{API}/elements",
            headers=admin.headers,
            json={
                "code": code,
                "name_vi": f"Chỉ tiêu {code}",
                "unit_of_measure": "đơn vị",
                "value_type": value_type,
                "aggregation": "none",
                "period_type": "year",
            },
        )
        assert response.status_code == 201, response.text


def by_unit(sessions: sessionmaker[Session]) -> dict[str, float]:
    with sessions() as session:
        query = select(AdministrativeUnit.code, DataValue.value).join(
            AdministrativeUnit, AdministrativeUnit.id == DataValue.unit_id
        )
        return {row.code: row.value for row in session.execute(query)}


def stored_values(sessions: sessionmaker[Session]) -> list[float]:
    with sessions() as session:
        return sorted(session.scalars(select(DataValue.value)))


# --- item 1: one meaning, or refused ------------------------------------------------------


@pytest.mark.parametrize("header", [VI_HEADER[:5], EN_HEADER])
def test_a_leading_zero_is_never_a_thousands_group_in_a_file(
    client: TestClient,
    ratios: None,
    admin: Official,
    sessions: sessionmaker[Session],
    header: list[str],
) -> None:
    content = csv_bytes(
        [
            ["ratio", "07759", "cũ", "2024", "0.125"],
            ["ratio", "07762", "cũ", "2024", "0.500"],
            ["ratio", "07765", "cũ", "2024", "-0.250"],
        ],
        header=header,
    )
    response = upload(client, admin, "ratios.csv", content)
    assert response.status_code == 200, response.text
    assert stored_values(sessions) == [-0.25, 0.125, 0.5]


def test_a_number_that_can_be_read_two_ways_follows_the_declared_format(
    client: TestClient, ratios: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    rows = [["ratio", "07759", "cũ", "2024", "1.234"], ["ratio", "07762", "cũ", "2024", "1,234"]]
    response = upload(client, admin, "vi.csv", csv_bytes(rows, header=VI_HEADER[:5]))
    assert response.status_code == 200, response.text
    # Vietnamese headers: «.» groups thousands, «,» is the decimal separator.
    assert by_unit(sessions) == {"07759": 1234.0, "07762": 1.234}
    response = upload(client, admin, "en.csv", csv_bytes(rows, header=EN_HEADER))
    assert response.status_code == 200, response.text
    # English headers: the other way round (each a correction of the value above).
    assert by_unit(sessions) == {"07759": 1.234, "07762": 1234.0}
    # A declared format overrides the headers' (here Vietnamese headers, English numbers).
    response = client.post(
        f"{API}/imports",
        headers=admin.headers,
        params={"number_format": "en"},
        files={"file": ("en-numbers.csv", csv_bytes(rows, header=VI_HEADER[:5]), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["unchanged"] == 2
    assert by_unit(sessions) == {"07759": 1.234, "07762": 1234.0}


def test_the_api_reads_a_text_number_one_way_or_refuses_it_with_both_readings(
    client: TestClient, ratios: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    def post(code: str, unit: str, value: Any) -> Any:
        return client.post(
            f"{API}/values",
            headers=admin.headers,
            json={
                "element_code": code,
                "unit": {"unit_set": "legacy", "code": unit},
                "period": "2024",
                "value": value,
            },
        )

    assert post("ratio", "07759", "0.125").status_code == 201
    assert post("ratio", "07762", "0,5").status_code == 201
    assert post("count", "07759", "1.234").status_code == 201  # an integer: thousands
    assert post("share", "07759", "85.500").status_code == 201  # a percentage: 85.5
    assert stored_values(sessions) == [0.125, 0.5, 85.5, 1234.0]
    refused = post("ratio", "07765", "1.234")
    assert refused.status_code == 422, refused.text
    message = refused.json()["errors"][0]["message"]
    assert "1234" in message["en"]
    assert "1.234" in message["en"]
    assert "1234" in message["vi"]
    assert "1,234" in message["vi"]
    fraction = post("count", "07762", "1,5")
    assert fraction.status_code == 422
    assert "integer" in fraction.json()["errors"][0]["message"]["en"]


def test_the_cli_stores_a_leading_zero_decimal_as_written(
    cli_env: None,
    ratios: None,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    source = tmp_path / "ratios.csv"
    source.write_bytes(csv_bytes([["ratio", "07759", "cũ", "2024", "0.125"]], VI_HEADER[:5]))
    result = CliRunner().invoke(
        app, ["monitoring", "data", "import", str(source), "--as", officer.username]
    )
    assert result.exit_code == 0, result.output
    assert stored_values(sessions) == [0.125]
    english = tmp_path / "english.csv"
    english.write_bytes(csv_bytes([["ratio", "07762", "cũ", "2024", "1.500"]], VI_HEADER[:5]))
    result = CliRunner().invoke(
        app,
        [
            "monitoring",
            "data",
            "import",
            str(english),
            "--as",
            officer.username,
            "--number-format",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    assert stored_values(sessions) == [0.125, 1.5]


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "vi"), ("csv", "en"), ("xlsx", "vi")])
def test_an_export_imports_back_to_the_same_numbers(
    session: Session, ratios: None, fmt: str, lang: str
) -> None:
    numbers = [215.027, 0.125, 1234.5, 1380.0, -2.75, 1e-7, 123456789.123]
    items = [
        ValueIn.model_validate(
            {
                "element_code": "ratio",
                "unit": {"unit_set": "legacy", "code": "07759"},
                "period": str(2010 + position),
                "value": number,
                "comment": "ghi chú",
            }
        )
        for position, number in enumerate(numbers)
    ]
    value_service.record_many(session, items, Provenance(entered_by_id=None))
    content = write_table(values_table(session, lang), fmt, lang)  # type: ignore[arg-type]
    result = import_file(session, f"so-lieu.{fmt}", content, user_id=None, authorise=None)
    assert (result.inserted, result.corrected, result.unchanged) == (0, 0, len(numbers))
    assert sorted(session.scalars(select(DataValue.value))) == sorted(numbers)


# --- property-based: both conventions, and through export and import ----------------------

decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3, allow_nan=False
)


def written(number: Decimal, fmt: NumberFormat, grouped: bool) -> str:
    """``number`` as an official writes it in ``fmt``, with or without thousands groups."""
    sign = "-" if number < 0 else ""
    whole, _, fraction = f"{abs(number):f}".partition(".")
    fraction = fraction.rstrip("0")
    group, point = (".", ",") if fmt is NumberFormat.VI else (",", ".")
    if grouped:
        whole = f"{int(whole):,}".replace(",", group)
    return sign + whole + (point + fraction if fraction else "")


@given(number=decimals, fmt=st.sampled_from(list(NumberFormat)), grouped=st.booleans())
def test_numbers_written_in_either_convention_read_back_as_written(
    number: Decimal, fmt: NumberFormat, grouped: bool
) -> None:
    text = written(number, fmt, grouped)
    reading = read_number(text, fmt)
    assert reading is not None, text
    assert reading.value == float(number), text


@given(number=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_the_export_format_reads_back_to_the_same_float(number: float) -> None:
    for fmt in NumberFormat:
        reading = read_number(format_number(number, fmt), fmt)
        assert reading is not None
        assert reading.value == number or (math.isclose(reading.value, number) and number == 0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    number=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    fmt=st.sampled_from(["csv", "xlsx"]),
    lang=st.sampled_from(["vi", "en"]),
)
# a double that needs 17 significant digits (openpyxl writes 16 unless told otherwise)
@example(number=10000000000.703125, fmt="xlsx", lang="vi")
@example(number=10000000000.703125, fmt="csv", lang="en")
def test_what_is_exported_imports_back_to_what_was_stored(
    sessions: sessionmaker[Session], ratios: None, number: float, fmt: str, lang: str
) -> None:
    with sessions.begin() as session:
        item = ValueIn.model_validate(
            {
                "element_code": "ratio",
                "unit": {"unit_set": "legacy", "code": "07759"},
                "period": "2024",
                "value": number,
            }
        )
        value_service.record_many(session, [item], Provenance(entered_by_id=None))
        content = write_table(values_table(session, lang, elements=["ratio"]), fmt, lang)  # type: ignore[arg-type]
    with sessions.begin() as session:
        result = import_file(session, f"x.{fmt}", content, user_id=None, authorise=None)
        assert result.unchanged == 1, (number, content[:400])
        assert session.scalars(select(DataValue.value)).one() == number


# --- item 2: XLSX cells by their type and number format ------------------------------------


def test_an_xlsx_percentage_cell_is_stored_as_the_percentage_it_shows(
    client: TestClient, ratios: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(VI_HEADER[:5])
    sheet.append(["share", "07759", "cũ", "2024", 0.855])
    sheet["E2"].number_format = "0.0%"
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, admin, "phan-tram.xlsx", buffer.getvalue())
    assert response.status_code == 200, response.text
    text = upload(
        client, admin, "phan-tram.csv", csv_bytes([["share", "07762", "cũ", "2024", "85,5%"]])
    )
    assert text.status_code == 200, text.text
    assert stored_values(sessions) == [85.5, 85.5]


@pytest.mark.parametrize(
    ("cell", "what"),
    [(True, "true/false"), (date(2024, 5, 1), "date"), ("#DIV/0!", "error")],
)
def test_booleans_dates_and_errors_in_the_value_column_are_refused_with_the_address(
    client: TestClient,
    ratios: None,
    admin: Official,
    sessions: sessionmaker[Session],
    cell: object,
    what: str,
) -> None:
    content = xlsx(
        [["ratio", "07759", "cũ", "2024", 1.5, None], ["ratio", "07762", "cũ", "2024", cell, None]]
    )
    response = upload(client, admin, "kieu-o.xlsx", content)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert "E3" in errors[0]["message"]["en"]
    assert what in errors[0]["message"]["en"]
    assert "E3" in errors[0]["message"]["vi"]
    assert stored_values(sessions) == []
