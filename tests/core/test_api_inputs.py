"""Inputs that used to reach the database or the route unchecked (issue 12, item 8), and
HTTP's own rules for HEAD, OPTIONS and 405, on both databases. Each answer is a 4xx
problem+json naming the parameter, never a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from tests.monitoring.support import create_fibre_catalogue

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI

    from tests.conftest import Official

BEYOND = 2**63  # one more than the largest database integer
BEYOND_ID = 2**31  # one more than the largest INTEGER id (32 bits on PostgreSQL)


@pytest.fixture
def tolerant(app: FastAPI) -> Iterator[TestClient]:
    """A client that sees a server error as the 500 a real client would get."""
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


def refused(response: object, parameter: str, status: int = 422) -> None:
    from httpx2 import Response  # noqa: PLC0415 - the TestClient's response type

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert parameter in {error["field"] for error in response.json()["errors"]}, response.text


@pytest.mark.parametrize(
    ("method", "path", "parameter"),
    [
        ("GET", f"/api/v1/monitoring/values/{BEYOND}", "value_id"),
        ("GET", f"/api/v1/monitoring/values/{BEYOND_ID}", "value_id"),
        ("POST", f"/api/v1/exchange/requests/{BEYOND_ID}/approve", "request_id"),
        ("POST", f"/api/v1/exchange/grants/{BEYOND_ID}/revoke", "grant_id"),
        ("GET", f"/api/v1/monitoring/values/{BEYOND}/corrections", "value_id"),
        ("PUT", f"/api/v1/monitoring/values/{BEYOND}", "value_id"),
        ("GET", f"/api/v1/exchange/requests/{BEYOND}", "request_id"),
        ("POST", f"/api/v1/exchange/requests/{BEYOND}/withdraw", "request_id"),
        ("GET", f"/api/v1/exchange/grants/{BEYOND}", "grant_id"),
        ("DELETE", f"/api/v1/monitoring/plans/kh/targets/{BEYOND}", "target_id"),
        ("GET", f"/api/v1/units?offset={BEYOND}", "offset"),
        ("GET", f"/api/v1/monitoring/values?offset={BEYOND}", "offset"),
    ],
)
def test_ids_and_offsets_beyond_the_database_integer_are_refused(
    tolerant: TestClient, admin: Official, method: str, path: str, parameter: str
) -> None:
    refused(tolerant.request(method, path, headers=admin.headers, json={}), parameter)


def test_the_largest_id_and_offset_are_looked_up(tolerant: TestClient, admin: Official) -> None:
    for path in ("/api/v1/monitoring/values", "/api/v1/exchange/requests"):
        response = tolerant.get(f"{path}/{2**31 - 1}", headers=admin.headers)
        assert response.status_code == 404, response.text
    assert tolerant.get(f"/api/v1/units?offset={2**63 - 1}").status_code == 200


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/units?q=", "q"),
        ("/api/v1/units?parent=", "parent"),
        ("/api/v1/monitoring/values?element=", "element"),
        ("/api/v1/monitoring/values?period=2024&period=", "period"),
        ("/api/v1/monitoring/exports/values?format=csv&unit=", "unit"),
        ("/api/v1/monitoring/dhis2/dataValueSets?element=", "element"),
        ("/api/v1/units?q=" + "a" * 201, "q"),
        ("/api/v1/monitoring/values?period=" + "9" * 5000, "period"),
        ("/api/v1/monitoring/dhis2/dataValueSets?period=" + "x" * 3000, "period"),
        ("/api/v1/organisations?parent=" + "x" * 300, "parent"),
        ("/api/v1/monitoring/dhis2/dataValueSets?element=a%00b", "element"),
        ("/api/v1/units?q=Ba%00", "q"),
    ],
)
def test_empty_and_over_long_query_values_are_refused(
    tolerant: TestClient, admin: Official, path: str, parameter: str
) -> None:
    refused(tolerant.get(path, headers=admin.headers), parameter)


def test_undeclared_query_parameters_are_still_ignored(
    tolerant: TestClient, admin: Official
) -> None:
    assert tolerant.get("/api/v1/units?_=&utm=" + "x" * 500).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/units?set=current&level=district",
        "/api/v1/monitoring/indicators/households-fibre-rate/values?period=2025&tree=current&level=district",
        "/api/v1/monitoring/indicators/households-fibre-rate/ranking?period=2025&tree=current&level=district",
        "/api/v1/monitoring/exports/indicators/households-fibre-rate/ranking?period=2025&tree=current&level=district",
    ],
)
def test_a_level_the_unit_set_does_not_have_is_refused(
    tolerant: TestClient, admin: Official, path: str, indicator_any: None
) -> None:
    refused(tolerant.get(path, headers=admin.headers), "level")


@pytest.fixture
def indicator_any(tolerant: TestClient, admin: Official) -> None:
    """The fibre catalogue: an indicator exists, so the level is reached, not a 404."""
    create_fibre_catalogue(tolerant, admin)


def test_legacy_districts_are_still_listed(tolerant: TestClient) -> None:
    response = tolerant.get("/api/v1/units?set=legacy&level=district&limit=1")
    assert response.status_code == 200
    assert response.json()["items"][0]["level"] == "district"


# --- HEAD, OPTIONS, 405 (RFC 9110 §9.3.2, §9.3.7, §15.5.6) ---------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/units", "/", "/login", "/api/openapi.json"])
def test_head_answers_like_get_without_a_body(tolerant: TestClient, path: str) -> None:
    # Uncompressed, so the lengths can be compared: a page's CSRF token is masked afresh on
    # every answer, and two gzip streams of different random bytes differ in length.
    plain = {"Accept-Encoding": "identity"}
    got = tolerant.get(path, headers=plain)
    head = tolerant.head(path, headers=plain)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    compressed = {"Accept-Encoding": "gzip"}
    assert tolerant.head(path, headers=compressed).headers.get("content-encoding") == (
        tolerant.get(path, headers=compressed).headers.get("content-encoding")
    )


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/healthz", "GET, HEAD, OPTIONS"),
        ("/api/v1/monitoring/values", "GET, HEAD, POST, OPTIONS"),
        ("/login", "GET, HEAD, POST, OPTIONS"),
    ],
)
def test_options_and_405_list_the_allowed_methods(
    tolerant: TestClient, path: str, allowed: str
) -> None:
    options = tolerant.options(path)
    assert options.status_code == 204
    assert options.headers["allow"] == allowed
    assert options.content == b""
    wrong = tolerant.request("PATCH", path, headers={"accept": "application/json"})
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == allowed
    assert wrong.headers["content-type"] == "application/problem+json"
    assert tolerant.options("/no/such/page").status_code == 404


@pytest.mark.parametrize(
    "accept", ["application/json", "application/json, text/plain, */*", "application/problem+json"]
)
def test_405_outside_the_api_is_problem_json_when_the_client_asks_for_json(
    tolerant: TestClient, accept: str
) -> None:
    response = tolerant.delete("/", headers={"accept": accept})
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 405
    page = tolerant.delete("/", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_document_declares_security_errors_and_the_page_size_maximum(
    tolerant: TestClient,
) -> None:
    document = tolerant.get("/api/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["sessionCookie"]["name"] == "tinhso_session"
    paths = document["paths"]
    assert paths["/api/v1/monitoring/values"]["get"]["security"] == [
        {"bearerToken": []},
        {"sessionCookie": []},
    ]
    assert paths["/api/v1/units"]["get"]["security"] == []
    assert paths["/healthz"]["get"]["security"] == []
    problem = {"$ref": "#/components/schemas/Problem"}
    for item in paths.values():
        for operation in item.values():
            answers = operation["responses"]
            assert answers["4XX"]["content"]["application/problem+json"]["schema"] == problem
            if "422" in answers:
                assert answers["422"]["content"] == {
                    "application/problem+json": {"schema": problem}
                }
    limit = next(
        p for p in paths["/api/v1/monitoring/values"]["get"]["parameters"] if p["name"] == "limit"
    )
    integer = limit["schema"]["anyOf"][0]
    assert (integer["type"], integer["minimum"], integer["maximum"]) == ("integer", 1, 200)
    assert "at most 200" in limit["description"]


def test_a_position_beyond_an_integer_column_is_refused(
    tolerant: TestClient, admin: Official
) -> None:
    pillar = {"code": "p", "name_vi": "Trụ cột", "position": 2**31}
    response = tolerant.post("/api/v1/monitoring/pillars", headers=admin.headers, json=pillar)
    refused(response, "position")
