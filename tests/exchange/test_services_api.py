"""Service catalogue API: registration checks, lifecycle, who may do what, overdue requests."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, update

from tests.exchange.conftest import API, SERVICE_PATH, request_payload, service_payload
from tinhso.core.db import utcnow
from tinhso.exchange import repository
from tinhso.exchange.models import ConnectionRequest, ExchangeService

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.exchange.conftest import ExchangeWorld

V2 = f"{API}/services/so-yte/his/ho-so-suc-khoe/v2"


def _count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ExchangeService)) or 0


def _fields(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json().get("errors", [])]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"openapi": {"openapi": "3.1.0", "info": {"title": "x"}, "paths": {}}}, "openapi"),
        (
            {"openapi": {"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}}},
            "openapi",
        ),
        ({"request_schema": {"type": "no-such-type"}}, "request_schema"),
        ({"response_schema": {"minLength": -1}}, "response_schema"),
        ({"base_url": "http://169.254.169.254/latest"}, "base_url"),
        ({"base_url": "http://127.1/"}, "base_url"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
        # Control characters or whitespace in the path (raw: urlsplit would drop CR/LF/tab).
        ({"base_url": "https://10.20.30.40/api\r\nX-Injected: 1"}, "base_url"),
        ({"base_url": "https://10.20.30.40/a b"}, "base_url"),
        ({"base_url": "https://10.20.30.40/api%0d%0aX-Injected:%201"}, "base_url"),
        ({"version": "1.0"}, "version"),
        ({"code": "Bad Code"}, "code"),
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"classification": "secret"}, "classification"),
        (
            {"provider": {"organisation_code": "ubnd-viet-yen", "system_code": "mot-cua"}},
            "provider",
        ),
    ],
)
def test_bad_registrations_write_nothing(
    client: TestClient,
    exchange_world: ExchangeWorld,
    session: Session,
    overrides: dict[str, Any],
    field: str,
) -> None:
    before = _count(session)
    version = before_state = repository.state_version(session)
    payload = (
        service_payload(version="v2", **overrides)
        if "version" not in overrides
        else service_payload(**overrides)
    )
    headers = exchange_world.admin.headers
    response = client.post(f"{API}/services", json=payload, headers=headers)
    assert response.status_code == 422, response.text
    assert field in _fields(response), response.json()
    assert response.json()["message"]["vi"]
    assert _count(session) == before
    assert repository.state_version(session) == before_state == version


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("provider_officer", 201),
        ("provider_admin", 201),
        ("admin", 201),
        ("provider_viewer", 403),
        ("consumer_admin", 403),
        ("outsider", 403),
    ],
)
def test_who_may_register(
    client: TestClient, exchange_world: ExchangeWorld, session: Session, who: str, expected: int
) -> None:
    official = getattr(exchange_world, who)
    response = client.post(
        f"{API}/services", json=service_payload(version="v2"), headers=official.headers
    )
    assert response.status_code == expected, response.text
    assert _count(session) == (2 if expected == 201 else 1)


def test_lifecycle_only_legal_transitions(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    headers = exchange_world.provider_officer.headers
    assert (
        client.post(
            f"{API}/services", json=service_payload(version="v2"), headers=headers
        ).status_code
        == 201
    )
    duplicate = client.post(f"{API}/services", json=service_payload(version="v2"), headers=headers)
    assert duplicate.status_code == 409

    def move(status: str) -> int:
        return client.post(f"{V2}/status", json={"status": status}, headers=headers).status_code

    assert move("deprecated") == 409  # draft -> deprecated
    assert move("draft") == 409
    assert move("published") == 200
    assert move("published") == 409
    assert move("retired") == 409  # published must be deprecated first
    assert move("deprecated") == 200
    assert move("published") == 200  # un-deprecate
    assert move("deprecated") == 200
    assert move("retired") == 200
    for status in ("draft", "published", "deprecated", "retired"):
        assert move(status) == 409
    assert client.patch(V2, json={"name_vi": "Tên mới"}, headers=headers).status_code == 409
    assert client.get(V2, headers=headers).json()["status"] == "retired"
    # The viewer of the provider may read but not act.
    viewer = exchange_world.provider_viewer.headers
    assert client.get(V2, headers=viewer).status_code == 200
    assert (
        client.post(
            f"{SERVICE_PATH}/status", json={"status": "deprecated"}, headers=viewer
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{SERVICE_PATH}/status",
            json={"status": "deprecated"},
            headers=exchange_world.outsider.headers,
        ).status_code
        == 403
    )


def test_drafts_are_visible_only_to_their_provider(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert (
        client.post(
            f"{API}/services",
            json=service_payload(version="v2"),
            headers=exchange_world.provider_officer.headers,
        ).status_code
        == 201
    )
    outsider = exchange_world.outsider.headers
    assert client.get(V2, headers=outsider).status_code == 404
    keys = [item["key"] for item in client.get(f"{API}/services", headers=outsider).json()["items"]]
    assert keys == ["so-yte/his/ho-so-suc-khoe/v1"]
    own = client.get(f"{API}/services", headers=exchange_world.provider_viewer.headers).json()
    assert own["total"] == 2
    # A draft cannot be requested.
    response = client.post(
        f"{API}/requests",
        json=request_payload(service={**request_payload()["service"], "version": "v2"}),
        headers=exchange_world.consumer_officer.headers,
    )
    assert response.status_code == 409


def test_update_checks_and_bumps_state(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    headers = exchange_world.provider_officer.headers
    before = repository.state_version(session)
    response = client.patch(SERVICE_PATH, json={"base_url": "http://[::1]:8080/"}, headers=headers)
    assert response.status_code == 422
    assert "base_url" in _fields(response)
    response = client.patch(SERVICE_PATH, json={"name_vi": None}, headers=headers)
    assert response.status_code == 422
    session.expire_all()
    assert repository.state_version(session) == before
    response = client.patch(
        SERVICE_PATH,
        json={"base_url": "https://10.20.30.41/api/v1/", "timeout_ms": 3000},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["base_url"] == "https://10.20.30.41/api/v1"
    session.expire_all()
    assert repository.state_version(session) == before + 1
    assert (
        client.patch(
            SERVICE_PATH, json={"name_vi": "x" * 2}, headers=exchange_world.consumer_admin.headers
        ).status_code
        == 403
    )


def test_requests_permissions(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    for official in (world.provider_officer, world.outsider):
        response = client.post(f"{API}/requests", json=request_payload(), headers=official.headers)
        assert response.status_code == 403, response.text
    session.expire_all()
    assert session.scalars(select(ConnectionRequest)).first() is None
    request = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    ).json()
    url = f"{API}/requests/{request['id']}"
    # Only admins of the provider decide; the consumer's admin cannot approve their own request.
    for official in (
        world.provider_officer,
        world.provider_viewer,
        world.consumer_admin,
        world.outsider,
    ):
        assert client.post(f"{url}/approve", json={}, headers=official.headers).status_code == 403
        assert (
            client.post(
                f"{url}/refuse", json={"reason": "Không phù hợp"}, headers=official.headers
            ).status_code
            == 403
        )
    assert client.get(url, headers=world.outsider.headers).status_code == 403
    assert client.get(url, headers=world.provider_viewer.headers).status_code == 200
    assert client.get(f"{API}/requests", headers=world.outsider.headers).json()["total"] == 0
    grant = client.post(f"{url}/approve", json={}, headers=world.provider_admin.headers).json()
    assert (
        client.get(f"{API}/grants/{grant['id']}", headers=world.outsider.headers).status_code == 403
    )
    assert (
        client.get(f"{API}/grants?active=true", headers=world.consumer_officer.headers).json()[
            "total"
        ]
        == 1
    )
    revoke = f"{API}/grants/{grant['id']}/revoke"
    assert (
        client.post(
            revoke, json={"reason": "Thử quyền"}, headers=world.consumer_officer.headers
        ).status_code
        == 403
    )
    assert client.post(revoke, json={}, headers=world.consumer_admin.headers).status_code == 422
    assert (
        client.post(
            revoke, json={"reason": "Không còn nhu cầu"}, headers=world.consumer_admin.headers
        ).status_code
        == 200
    )


def test_overdue_requests(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    request = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    ).json()
    assert (
        client.get(f"{API}/requests/overdue", headers=world.provider_admin.headers).json()["total"]
        == 0
    )
    session.execute(
        update(ConnectionRequest).values(
            due_at=utcnow() - timedelta(hours=1), created_at=utcnow() - timedelta(days=5)
        )
    )
    session.commit()
    overdue = client.get(f"{API}/requests/overdue", headers=world.provider_admin.headers).json()
    assert [item["id"] for item in overdue["items"]] == [request["id"]]
    assert overdue["items"][0]["overdue"] is True
    assert client.get(f"{API}/requests/overdue", headers=world.admin.headers).json()["total"] == 1
    assert (
        client.get(f"{API}/requests/overdue", headers=world.outsider.headers).json()["total"] == 0
    )
    assert (
        client.get(f"{API}/requests/overdue", headers=world.consumer_officer.headers).json()[
            "total"
        ]
        == 0
    )
    client.post(
        f"{API}/requests/{request['id']}/refuse",
        json={"reason": "Quá hạn, đề nghị gửi lại"},
        headers=world.provider_admin.headers,
    )
    assert (
        client.get(f"{API}/requests/overdue", headers=world.provider_admin.headers).json()["total"]
        == 0
    )


def test_pagination_has_a_hard_maximum(client: TestClient, exchange_world: ExchangeWorld) -> None:
    response = client.get(f"{API}/services?limit=100000", headers=exchange_world.admin.headers)
    assert response.status_code == 422
    assert "limit" in _fields(response)
    page = client.get(
        f"{API}/services?limit=1&offset=0", headers=exchange_world.admin.headers
    ).json()
    assert (page["limit"], page["total"], len(page["items"])) == (1, 1, 1)


def test_unauthenticated_is_refused(client: TestClient, exchange_world: ExchangeWorld) -> None:
    assert client.get(f"{API}/services").status_code == 401
    assert client.post(f"{API}/requests", json=request_payload()).status_code == 401


def test_every_exchange_endpoint_says_who_may_call(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    exchange = {
        (path, method): operation
        for path, operations in paths.items()
        if path.startswith(("/api/v1/exchange", "/oauth", "/.well-known"))
        for method, operation in operations.items()
    }
    assert len(exchange) >= 20
    for (path, method), operation in exchange.items():
        summary = operation.get("summary", "")
        assert summary.endswith(")"), (method, path, summary)
