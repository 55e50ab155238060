"""Unfiltered exports of recorded values are streamed within a row limit (issue 12, item 7),
on both databases: 50,000 rows are read from the database a chunk at a time and written
to the file as they come, so the memory the export needs stays far below the rows' own
size; beyond the limit the export is refused with the filters to use."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select

from tinhso.monitoring.models import DataElement, DataValue, ValueSource
from tinhso.monitoring.transfer import tables as transfer_tables
from tinhso.monitoring.transfer.export import write_table_to
from tinhso.monitoring.transfer.tables import value_rows, values_table
from tinhso.registry.models import AdministrativeUnit, UnitSet

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official

API = "/api/v1/monitoring"
ROWS = 50_000


class Sink(io.RawIOBase):
    """A file that only counts what is written to it (so the file is not in memory)."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: object) -> int:
        size = len(memoryview(data))  # type: ignore[arg-type]
        self.size += size
        return size


@pytest.fixture
def many_values(client: TestClient, admin: Official, sessions: sessionmaker[Session]) -> int:
    """50,000 recorded values: one element, the current units, one year each."""
    element = {
        "code": "households",
        "name_vi": "Số hộ gia đình",
        "unit_of_measure": "hộ",
        "value_type": "number",
        "aggregation": "sum",
        "period_type": "year",
    }
    assert client.post(f"{API}/elements", headers=admin.headers, json=element).status_code == 201
    with sessions.begin() as session:
        element_id = session.scalars(select(DataElement.id)).one()
        units = list(
            session.scalars(
                select(AdministrativeUnit.id).where(AdministrativeUnit.unit_set == UnitSet.LEGACY)
            )
        )
        now = datetime.now(UTC)
        rows: list[dict[str, object]] = []
        year = 2000
        while len(rows) < ROWS:
            rows.extend(
                {
                    "data_element_id": element_id,
                    "unit_id": unit_id,
                    "period": str(year),
                    "year": year,
                    "value": unit_id + year / 1000,
                    "source": ValueSource.FILE,
                    "source_reference": "so-lieu-2000-2024.csv",
                    "comment": "Số liệu tổng hợp từ báo cáo của UBND cấp xã",
                    "entered_at": now,
                    "version": 1,
                }
                for unit_id in units[: ROWS - len(rows)]
            )
            year += 1
        session.execute(insert(DataValue), rows)
    return ROWS


def peak(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_unfiltered_export_of_50000_rows_is_streamed(
    many_values: int, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        listed = peak(lambda: value_rows(session))  # the rows held in memory, as before
        session.expunge_all()
        formats: tuple[Literal["csv", "xlsx"], ...] = ("csv", "xlsx")
        for fmt in formats:
            sink = Sink()

            def export(fmt: Literal["csv", "xlsx"] = fmt, sink: Sink = sink) -> None:
                write_table_to(values_table(session, "vi"), fmt, "vi", sink)  # type: ignore[arg-type]

            streamed = peak(export)
            assert sink.size > 1_000_000
            # Far below the rows' own size: chunks of 1,000 rows, never the 50,000.
            assert streamed < listed / 4, (fmt, streamed, listed)


def test_the_export_route_streams_every_row_within_the_limit(
    client: TestClient, admin: Official, many_values: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with client.stream(
        "GET", f"{API}/exports/values", headers=admin.headers, params={"format": "csv"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        body = b"".join(response.iter_bytes())
    assert int(response.headers["content-length"]) == len(body)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == many_values + 1
    assert rows[1][0] == "households"
    # beyond the limit (lowered here to 20,000): refused, naming the filters to use
    monkeypatch.setattr(transfer_tables, "MAX_EXPORT_ROWS", 20_000)
    response = client.get(f"{API}/exports/values", headers=admin.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "20,000" in problem["message"]["en"]
    assert {"element", "year", "period", "unit"} <= {e["field"] for e in problem["errors"]}
    filtered = client.get(
        f"{API}/exports/values", headers=admin.headers, params={"format": "csv", "year": 2000}
    )
    assert filtered.status_code == 200, filtered.text


def test_the_xlsx_export_keeps_text_columns_as_text(client: TestClient, admin: Official) -> None:
    element = {
        "code": "households",
        "name_vi": "Số hộ gia đình",
        "unit_of_measure": "hộ",
        "value_type": "number",
        "aggregation": "sum",
        "period_type": "year",
    }
    assert client.post(f"{API}/elements", headers=admin.headers, json=element).status_code == 201
    value = {
        "element_code": "households",
        "unit": {"unit_set": "legacy", "code": "07759"},
        "period": "2024",
        "value": 1380,
    }
    assert client.post(f"{API}/values", headers=admin.headers, json=value).status_code == 201
    response = client.get(f"{API}/exports/values", headers=admin.headers)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert sheet["B2"].value == "07759"
    assert sheet["B2"].number_format == "@"
    assert sheet["E2"].value == 1380
    assert sheet.freeze_panes == "A2"
