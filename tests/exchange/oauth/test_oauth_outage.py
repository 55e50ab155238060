"""The database stops (PostgreSQL, a server of its own): the token endpoint, the API and the
portal answer 503 with Retry-After (problem+json for the API and the token endpoint, an error
page for the portal), never a 500, and work again once the database is back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD
from tests.exchange.conftest import basic_auth, consumer_secret, exchange_world  # noqa: F401
from tests.portal.test_pages import form_token
from tests.support.services import PostgresServer
from tinhso.core import migrations
from tinhso.core.db import build_engine, make_sessionmaker
from tinhso.registry.auth import SESSION_COOKIE
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI
    from sqlalchemy.engine import Engine

    from tests.exchange.conftest import ExchangeWorld


@pytest.fixture(scope="module")
def outage_server(
    db_dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresServer]:
    if db_dialect != "postgresql":
        pytest.skip("stopping the database server is a PostgreSQL scenario")
    server = PostgresServer()
    server.start(tmp_path_factory.mktemp("oauth-outage-postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def database_url(outage_server: PostgresServer) -> str:
    return outage_server.url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    migrations.upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        unit_service.import_catalogue(session)
    yield engine
    engine.dispose()


@pytest.fixture
def down(outage_server: PostgresServer) -> Iterator[PostgresServer]:
    """The database is stopped for the test's requests, and started again after them."""
    outage_server.pause()
    try:
        yield outage_server
    finally:
        outage_server.resume()


def _unavailable(response: Any, *, problem: bool = True) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert 1 <= int(response.headers["retry-after"]) <= 60
    if problem:
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 503
        assert body["code"] == "database_unavailable"
        assert body["message"]["vi"] and body["message"]["en"]


def test_the_token_endpoint_answers_503_while_the_database_is_down(
    app: FastAPI,
    exchange_world: ExchangeWorld,  # noqa: F811 - the fixture imported above
    consumer_secret: tuple[str, str],  # noqa: F811
    outage_server: PostgresServer,
) -> None:
    client_id, secret = consumer_secret
    form = {"grant_type": "client_credentials"}
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        assert client.post(
            "/oauth/token", data=form, headers=basic_auth(client_id, secret)
        ).is_success
        outage_server.pause()
        try:
            for attempt in (secret, secret + "-wrong"):
                response = client.post(
                    "/oauth/token", data=form, headers=basic_auth(client_id, attempt)
                )
                _unavailable(response)
            _unavailable(client.get("/.well-known/jwks.json"))
        finally:
            outage_server.resume()
        response = client.post("/oauth/token", data=form, headers=basic_auth(client_id, secret))
        assert response.status_code == 200, response.text


def test_the_api_and_the_portal_answer_503_while_the_database_is_down(
    app: FastAPI,
    exchange_world: ExchangeWorld,  # noqa: F811
    outage_server: PostgresServer,
) -> None:
    official = exchange_world.consumer_admin
    with (
        TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as api,
        TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as portal,
    ):
        login_form = portal.get("/login")
        token = form_token(login_form)
        outage_server.pause()
        try:
            _unavailable(api.get("/api/v1/organisations", headers=official.headers))
            _unavailable(api.get("/api/v1/exchange/grants", headers=official.headers))
            _unavailable(
                api.post(
                    "/api/v1/auth/tokens",
                    json={"username": official.username, "password": TEST_PASSWORD},
                )
            )
            _unavailable(api.get("/api/v1/units?unit_set=current"))
            # The portal: the login form's answer, and a page, are error pages with 503.
            response = portal.post(
                "/login",
                data={
                    "username": official.username,
                    "password": TEST_PASSWORD,
                    "next": "/",
                    "csrf_token": token,
                },
                follow_redirects=False,
            )
            _unavailable(response, problem=False)
            assert "text/html" in response.headers["content-type"]
            assert "tạm thời" in response.text
            portal.cookies.set(SESSION_COOKIE, "some-session-token")
            page = portal.get("/exchange", follow_redirects=False)
            _unavailable(page, problem=False)
            # An API client asking a portal path for JSON gets problem+json.
            _unavailable(portal.get("/", headers={"Accept": "application/json"}))
        finally:
            outage_server.resume()
        assert api.get("/api/v1/organisations", headers=official.headers).status_code == 200
