"""Health, readiness, metrics, request ids and problem+json for unknown routes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tinhso.app import create_app
from tinhso.core import migrations
from tinhso.core.db import build_engine
from tinhso.models import metadata

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_readiness_fails_on_an_unmigrated_database(settings: Settings, tmp_path: Path) -> None:
    empty = build_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with TestClient(create_app(settings, empty)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "not migrated"
    empty.dispose()


def test_request_id_is_kept_or_made(client: TestClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-Id": "abc12345-req"})
    assert kept.headers["x-request-id"] == "abc12345-req"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id\r\nInjected: yes"})
    assert made.headers["x-request-id"] != "bad id\r\nInjected: yes"
    assert len(made.headers["x-request-id"]) == 32


def test_unknown_route_is_problem_json_with_request_id(client: TestClient) -> None:
    response = client.get("/api/v1/khong-co", headers={"X-Request-Id": "trace-0001"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["message"] == {"vi": "Không tìm thấy", "en": "Not found"}
    assert body["request_id"] == "trace-0001"


def test_metrics_label_every_request_with_its_full_route_template(
    settings: Settings, engine: Engine
) -> None:
    """Routes sit in routers included into routers; the label must still be the whole template
    (the one the OpenAPI document lists), never the part inside the innermost router."""
    settings = settings.model_copy(update={"metrics_token": SecretStr("scrape-token-123")})
    app = create_app(settings, engine)
    with TestClient(app) as client:
        client.get("/api/v1/units?limit=1")  # registry
        client.get("/api/v1/exchange/services")  # exchange catalogue
        client.get("/api/v1/monitoring/values")  # monitoring values
        client.get("/api/v1/monitoring/indicators/khong-co/ranking")  # monitoring progress
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    labels = set(
        re.findall(r'^tinhso_http_requests_total\{[^}]*route="([^"]+)"', scraped.text, re.M)
    )
    assert {
        "/api/v1/units",
        "/api/v1/exchange/services",
        "/api/v1/monitoring/values",
        "/api/v1/monitoring/indicators/{code}/ranking",
    } <= labels
    assert labels - {"/healthz", "/metrics"} <= set(app.openapi()["paths"])


def test_metrics_need_the_metrics_token(settings: Settings, engine: Engine) -> None:
    settings = settings.model_copy(update={"metrics_token": SecretStr("scrape-token-123")})
    with TestClient(create_app(settings, engine)) as client:
        client.get("/healthz")
        client.get("/api/v1/units?limit=1")
        refused = client.get("/metrics")
        assert refused.status_code == 403
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert scraped.status_code == 200
    assert (
        'tinhso_http_requests_total{method="GET",route="/api/v1/units",status="200"} 1.0'
        in scraped.text
    )


def test_metrics_without_token_are_not_served_to_remote_clients(client: TestClient) -> None:
    # TestClient's peer address is not a loopback address.
    assert client.get("/metrics").status_code == 403


def test_migrations_and_models_agree(engine: Engine) -> None:
    assert migrations.is_up_to_date(engine)
    assert migrations.model_drift(engine, metadata) == []


def test_openapi_documents_every_route_with_a_summary(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if not operation.get("summary")
    ]
    assert missing == []
    assert client.get("/api/docs").status_code == 200


def test_the_api_documentation_loads_nothing_from_another_host(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, "the page names its assets"
    assert [a for a in assets if not a.startswith("/")] == []
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "swagger-ui-bundle.js" in page.text
