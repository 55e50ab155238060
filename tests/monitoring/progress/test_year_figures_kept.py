"""A ranking and a unit's assessment against its target are computed for every period of the
asked period's year at once and kept (progress.year_figures): another period of the same
year is a lookup, and a value written through the API shows in the very next answer for any
period of that year. On both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.monitoring.support import API, create_fibre_catalogue, legacy_value, record_values
from tests.registry.queries import counted_queries
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.progress import year_figures
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official


@pytest.fixture
def fibre(client: TestClient, admin: Official, province_tree: dict[str, str]) -> None:
    """The fibre catalogue (yearly elements), two districts' 2024 values and a plan whose
    2025 target for the province is 80 %."""
    create_fibre_catalogue(client, admin)
    answer = client.post(
        f"{API}/plans",
        headers=admin.headers,
        json={
            "code": "kh-324",
            "number": "324/KH-UBND",
            "title_vi": "Kế hoạch chuyển đổi số",
            "issuing_body": "UBND tỉnh Bắc Giang",
            "start_year": 2021,
            "end_year": 2030,
        },
    )
    assert answer.status_code == 201, answer.text
    answer = client.post(
        f"{API}/plans/kh-324/targets",
        headers=admin.headers,
        json={
            "indicator_code": "households-fibre-rate",
            "year": 2025,
            "target_value": 80,
            "scope_unit": {"unit_set": "legacy", "code": "24"},
        },
    )
    assert answer.status_code == 201, answer.text
    record_values(
        client,
        admin,
        [
            legacy_value("households", "222", 100, "2024"),
            legacy_value("households_fibre", "222", 90, "2024"),
            legacy_value("households", "213", 100, "2024"),
            legacy_value("households_fibre", "213", 60, "2024"),
        ],
    )


@pytest.mark.usefixtures("fibre")
def test_another_quarter_of_a_kept_year_follows_a_value_written(
    client: TestClient, admin: Official, make_official: MakeOfficial, engine: Engine
) -> None:
    viewer = make_official(Role.VIEWER, "so-yte")

    def ranking(period: str) -> list[tuple[str, float, int]]:
        answer = client.get(
            f"{API}/indicators/households-fibre-rate/ranking",
            headers=viewer.headers,
            params={"period": period, "tree": "legacy", "level": "district", "parent": "24"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["period"] == period
        return [(i["unit"]["code"], i["value"], i["rank"]) for i in answer.json()["items"]]

    # a yearly value holds for each quarter of its year
    assert ranking("2024-Q1") == [("222", 90.0, 1), ("213", 60.0, 2)]
    with counted_queries(engine) as log:  # another quarter: the year was computed with Q1
        assert ranking("2024-Q2") == [("222", 90.0, 1), ("213", 60.0, 2)]
    assert log.touching("data_value") == []
    assert ranking("2023-Q4") == []
    # every district of the country: a period at a time, the same figures
    answer = client.get(
        f"{API}/indicators/households-fibre-rate/ranking",
        headers=viewer.headers,
        params={"period": "2024-Q2", "tree": "legacy", "level": "district"},
    )
    assert [(i["unit"]["code"], i["rank"]) for i in answer.json()["items"]] == [
        ("222", 1),
        ("213", 2),
    ]

    record_values(client, admin, [legacy_value("households_fibre", "213", 95, "2024")])
    assert ranking("2024-Q3") == [("213", 95.0, 1), ("222", 90.0, 2)]


@pytest.mark.usefixtures("fibre")
def test_another_period_of_a_kept_year_is_assessed_on_a_value_written(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    def assessed(period: str) -> list[tuple[float | None, str | None, str]]:
        with sessions() as session:
            indicator = catalogue_service.indicator(session, "households-fibre-rate")
            province = unit_service.get(session, UnitSet.LEGACY, "24").id
            found = progress_service.unit_achievements(
                session, indicator, period, Tree.LEGACY, [province]
            )
        return [(a.actual, a.actual_period, a.status) for a in found.values()]

    record_values(client, admin, [legacy_value("households", "24", 1000, "2024")])
    record_values(client, admin, [legacy_value("households_fibre", "24", 850, "2024")])
    assert assessed("2024-Q1")[0][:2] == (None, None)  # the year's values are the year's
    misses = year_figures.ASSESSED_YEARS.misses
    assert assessed("2024") == [(85.0, "2024", "achieved")]
    assert year_figures.ASSESSED_YEARS.misses == misses  # kept with 2024-Q1's year

    record_values(client, admin, [legacy_value("households_fibre", "24", 500, "2024")])
    assert assessed("2024") == [(50.0, "2024", "insufficient_data")]  # no baseline yet
