"""Computed figures are kept between requests (progress.service.FIGURES) and never outlive what
they are made of: asked again, plan progress and the ranking send no statement over the values;
after a value, a target or an indicator's formula is written through the API, the very next
answer shows it. On both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.monitoring.support import API, create_fibre_catalogue, legacy_value, record_values
from tests.registry.queries import counted_queries
from tinhso.monitoring.progress.api import ANSWERS
from tinhso.monitoring.schemas import RankingPage
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine

    from tests.conftest import MakeOfficial, Official


def _target(client: TestClient, admin: Official, value: float) -> None:
    """The province's households-fibre-rate of 2025 at least ``value`` %."""
    answer = client.post(
        f"{API}/plans/kh-324/targets",
        headers=admin.headers,
        json={
            "indicator_code": "households-fibre-rate",
            "year": 2025,
            "target_value": value,
            "scope_unit": {"unit_set": "legacy", "code": "24"},
        },
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def plan(client: TestClient, admin: Official, province_tree: dict[str, str]) -> None:
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
    _target(client, admin, 80)
    record_values(
        client,
        admin,
        [
            legacy_value("households", "24", 1000, "2024"),
            legacy_value("households_fibre", "24", 850, "2024"),
        ],
    )


def _progress(client: TestClient, viewer: Official) -> list[tuple[Any, ...]]:
    answer = client.get(
        f"{API}/plans/kh-324/progress", headers=viewer.headers, params={"as_of": 2025}
    )
    assert answer.status_code == 200, answer.text
    return [
        (i["actual"], i["actual_period"], i["goal"], i["status"]) for i in answer.json()["items"]
    ]


@pytest.mark.usefixtures("plan")
def test_plan_progress_is_kept_until_a_value_or_a_target_changes(
    client: TestClient, admin: Official, make_official: MakeOfficial, engine: Engine
) -> None:
    viewer = make_official(Role.VIEWER, "so-yte")
    assert _progress(client, viewer) == [(85.0, "2024", 80.0, "achieved")]
    with counted_queries(engine) as log:
        assert _progress(client, viewer) == [(85.0, "2024", 80.0, "achieved")]
    assert log.touching("data_value") == []
    assert log.touching("plan_target") == []

    # a value of the target year: the next answer has it
    record_values(
        client,
        admin,
        [
            legacy_value("households", "24", 1000, "2025"),
            legacy_value("households_fibre", "24", 500, "2025"),
        ],
    )
    assert _progress(client, viewer) == [(50.0, "2025", 80.0, "not_achieved")]

    # the target itself, replaced by a lower one
    target_id = client.get(f"{API}/plans/kh-324/targets", headers=viewer.headers).json()["items"][
        0
    ]["id"]
    answer = client.delete(f"{API}/plans/kh-324/targets/{target_id}", headers=admin.headers)
    assert answer.status_code == 204, answer.text
    _target(client, admin, 40)
    assert _progress(client, viewer) == [(50.0, "2025", 40.0, "achieved")]


@pytest.mark.usefixtures("plan")
def test_the_ranking_follows_a_changed_formula(
    client: TestClient, admin: Official, make_official: MakeOfficial, engine: Engine
) -> None:
    viewer = make_official(Role.VIEWER, "so-yte")
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

    def ranking() -> list[tuple[str, float]]:
        answer = client.get(
            f"{API}/indicators/households-fibre-rate/ranking",
            headers=viewer.headers,
            params={"period": "2024", "tree": "legacy", "level": "district"},
        )
        assert answer.status_code == 200, answer.text
        return [(i["unit"]["code"], i["value"]) for i in answer.json()["items"]]

    assert ranking() == [("222", 90.0), ("213", 60.0)]
    with counted_queries(engine) as log:
        assert ranking() == [("222", 90.0), ("213", 60.0)]
    assert log.touching("data_value") == []
    # the households without fibre instead: the order turns over at once
    answer = client.patch(
        f"{API}/indicators/households-fibre-rate",
        headers=admin.headers,
        json={"formula": "(households - households_fibre) / households * 100"},
    )
    assert answer.status_code == 200, answer.text
    assert ranking() == [("213", 40.0), ("222", 10.0)]


@pytest.mark.usefixtures("plan")
def test_rankings_and_plan_progress_asked_again_are_their_kept_bytes(
    client: TestClient, admin: Official, make_official: MakeOfficial
) -> None:
    """The ranking and plan progress answers are kept as the bytes sent, per question and
    page: asked again they are sent as they are (not encoded again), the same JSON the
    models give; another page is another answer; a value written moves them on."""
    viewer = make_official(Role.VIEWER, "so-yte")
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
    params = {"period": "2024", "tree": "legacy", "level": "district"}
    path = f"{API}/indicators/households-fibre-rate/ranking"
    first = client.get(path, headers=viewer.headers, params=params)
    assert first.status_code == 200, first.text
    hits = ANSWERS.hits
    again = client.get(path, headers=viewer.headers, params=params)
    assert again.content == first.content and ANSWERS.hits == hits + 1
    assert again.headers["content-type"] == "application/json"
    assert RankingPage.model_validate(first.json()).model_dump(mode="json") == first.json()
    one = client.get(path, headers=viewer.headers, params={**params, "limit": 1}).json()
    assert [i["unit"]["code"] for i in one["items"]] == ["222"] and one["total"] == 2
    assert (one["limit"], one["offset"]) == (1, 0)

    progress = client.get(f"{API}/plans/kh-324/progress", headers=viewer.headers).json()
    hits = ANSWERS.hits
    assert client.get(f"{API}/plans/kh-324/progress", headers=viewer.headers).json() == progress
    assert ANSWERS.hits == hits + 1
    assert progress["as_of_year"] is None and progress["total"] == 1

    record_values(client, admin, [legacy_value("households_fibre", "213", 95, "2024")])
    moved = client.get(path, headers=viewer.headers, params=params).json()
    assert [(i["unit"]["code"], i["value"]) for i in moved["items"]] == [
        ("213", 95.0),
        ("222", 90.0),
    ]
