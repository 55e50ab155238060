"""Indicators marked for open data are published as datasets by the platform itself: their
values by unit and period (legacy units for periods before 01/07/2025, current units with
legacy values carried over), in the datastore, refreshed only when the values change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD
from tinhso.core.errors import InvalidInput
from tinhso.monitoring.models import Aggregation, PeriodType, ValueSource, ValueType
from tinhso.monitoring.schemas import ElementCreate, IndicatorCreate, IndicatorUpdate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.demo import PUBLISHER
from tinhso.opendata.publishing.indicators import (
    dataset_name,
    indicator_chart,
    publish_indicators,
)
from tinhso.registry.demo import load_registry_demo
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

CODE = "camera_an_ninh"


def _record(session: Session, unit_set: UnitSet, period: str, value: float) -> None:
    value_service.record_many(
        session,
        [
            ValueIn(
                element_code="so_camera",
                unit=UnitRef(unit_set=unit_set, code="24"),
                period=period,
                value=value,
                source=ValueSource.API,
            )
        ],
        Provenance(entered_by_id=None, source=ValueSource.API),
    )


@pytest.fixture
def published(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        load_registry_demo(session, TEST_PASSWORD)
        load_reference(session)
        catalogue_service.create_element(
            session,
            ElementCreate(
                code="so_camera",
                name_vi="Số camera an ninh",
                unit_of_measure="nghìn camera",
                value_type=ValueType.NUMBER,
                aggregation=Aggregation.SUM,
                period_type=PeriodType.YEAR,
            ),
        )
        catalogue_service.create_indicator(
            session,
            IndicatorCreate(
                code=CODE,
                name_vi="Số camera an ninh",
                name_en="Security cameras",
                formula="so_camera",
                unit_of_measure="nghìn camera",
                open_data_publisher=PUBLISHER,
            ),
        )
        _record(session, UnitSet.LEGACY, "2024", 215.027)  # Bắc Giang, before 01/07/2025
        _record(session, UnitSet.CURRENT, "2025", 1380.5)  # Bắc Ninh from 01/07/2025


def _rows(client: TestClient, resource_id: str) -> list[dict[str, Any]]:
    found = client.get(
        "/api/3/action/datastore_search", params={"resource_id": resource_id, "limit": 1000}
    ).json()
    records: list[dict[str, Any]] = found["result"]["records"]
    return records


def test_a_published_indicator_becomes_a_dataset_refreshed_when_values_change(
    app: FastAPI, sessions: sessionmaker[Session], published: None
) -> None:
    files = app.state.resource_files
    name = dataset_name(CODE)
    with sessions.begin() as session:
        done = publish_indicators(session, files)
    assert done.created == [name] and not done.refreshed

    with TestClient(app, base_url="http://127.0.0.1") as client:
        shown = client.get("/api/3/action/package_show", params={"id": name}).json()["result"]
        assert shown["organization"]["name"] == PUBLISHER
        assert "Nguồn" in shown["notes"] and "so_camera" in shown["notes"]
        [resource] = shown["resources"]
        assert resource["datastore_active"] is True
        rows = _rows(client, resource["id"])
        by_set = {(row["Bộ đơn vị (hiện hành/cũ)"], row["Kỳ báo cáo"]): row for row in rows}
        legacy = by_set[("cũ", "2024")]
        assert legacy["Giá trị"] == 215.027  # written "215,027", read back the same
        assert legacy["Mã đơn vị hành chính"] == "24"
        assert by_set[("hiện hành", "2025")]["Giá trị"] == 1380.5
        first_hash = resource["hash"]

    with sessions.begin() as session:
        again = publish_indicators(session, files)
    assert again.unchanged == [name] and not again.refreshed

    with sessions.begin() as session:
        _record(session, UnitSet.CURRENT, "2025", 1400)
        changed = publish_indicators(session, files)
    assert changed.refreshed == [name]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        shown = client.get("/api/3/action/package_show", params={"id": name}).json()["result"]
        [resource] = shown["resources"]
        assert resource["hash"] != first_hash
        rows = _rows(client, resource["id"])
        current = [r for r in rows if r["Kỳ báo cáo"] == "2025" and r["Giá trị"] == 1400]
        assert current
        info = client.get("/api/3/action/datastore_info", params={"id": resource["id"]}).json()
        assert info["result"]["meta"]["generation"] == 2

    with sessions.begin() as session:
        indicator = catalogue_service.indicator(session, CODE)
        catalogue_service.update_indicator(
            session, indicator, IndicatorUpdate(open_data_publisher=None)
        )
        withdrawn = publish_indicators(session, files)
    assert withdrawn.withdrawn == [name]


def test_an_unknown_publisher_is_refused_naming_the_field(
    sessions: sessionmaker[Session], published: None
) -> None:
    with sessions.begin() as session, pytest.raises(InvalidInput) as raised:
        indicator = catalogue_service.indicator(session, CODE)
        catalogue_service.update_indicator(
            session, indicator, IndicatorUpdate(open_data_publisher="khong-co")
        )
    assert raised.value.errors[0].field == "open_data_publisher"


def test_an_indicators_dataset_page_draws_its_values_over_time(
    app: FastAPI, sessions: sessionmaker[Session], published: None
) -> None:
    with sessions.begin() as session:
        publish_indicators(session, app.state.resource_files)
        chart = indicator_chart(session, dataset_name(CODE))
        assert indicator_chart(session, "truong-hoc") is None  # not an indicator's dataset
    assert chart is not None
    assert chart["periods"] == ["2024", "2025"]
    [series] = chart["series"]  # Bắc Ninh, current units: 2024 re-aggregated, then recorded
    assert series["name"] == "Tỉnh Bắc Ninh" and series["data"][1] == 1380.5
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get(f"/opendata/datasets/{dataset_name(CODE)}")
        assert page.status_code == 200 and 'id="indicator-chart-data"' in page.text
