"""Exchange fixtures: a provider and a consumer system, their officials, a published service.

``exchange_world`` builds (through the real API):
- provider system ``so-yte/his`` (is_provider) and consumer system ``ubnd-viet-yen/mot-cua``;
- officials: provider_admin / provider_officer / provider_viewer (so-yte), consumer_admin /
  consumer_officer (ubnd-viet-yen), outsider (officer of ubnd-khac), platform ``admin``;
- service ``so-yte/his/ho-so-suc-khoe/v1`` published at https://10.20.30.40/api (a private
  address: allowed by default; gateway tests that need 127.0.0.1 set exchange_allow_loopback).
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import redis

from tests.support.services import RedisServer
from tinhso.exchange import notices
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient

    from tests.conftest import MakeOfficial, Official

API = "/api/v1/exchange"
SERVICE_PATH = f"{API}/services/so-yte/his/ho-so-suc-khoe/v1"

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Hồ sơ sức khỏe", "version": "1.0.0"},
    "paths": {
        "/citizens/{id}": {
            "get": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    },
}
REQUEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"ma_dinh_danh": {"type": "string", "pattern": "^[0-9]{12}$"}},
    "required": ["ma_dinh_danh"],
}


def service_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "provider": {"organisation_code": "so-yte", "system_code": "his"},
        "code": "ho-so-suc-khoe",
        "version": "v1",
        "name_vi": "Tra cứu hồ sơ sức khỏe",
        "name_en": "Health record lookup",
        "base_url": "https://10.20.30.40/api",
        "openapi": OPENAPI,
        "request_schema": REQUEST_SCHEMA,
        "classification": "personal",
    }
    payload.update(overrides)
    return payload


def request_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "consumer": {"organisation_code": "ubnd-viet-yen", "system_code": "mot-cua"},
        "service": {
            "organisation_code": "so-yte",
            "system_code": "his",
            "code": "ho-so-suc-khoe",
            "version": "v1",
        },
        "purpose": "Giải quyết thủ tục hành chính cho công dân tại bộ phận một cửa",
        "legal_basis": "Nghị định 194/2025/NĐ-CP; Nghị định 13/2023/NĐ-CP",
        "requested_methods": ["GET", "POST"],
        "requested_paths": ["/citizens/", "/records/{id}"],
    }
    payload.update(overrides)
    return payload


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class ExchangeWorld:
    """The officials of the scenario, created on first use (argon2 makes each one costly)."""

    _ROLES: ClassVar[dict[str, tuple[Role, str]]] = {
        "provider_admin": (Role.ORGANISATION_ADMIN, "so-yte"),
        "provider_officer": (Role.OFFICER, "so-yte"),
        "provider_viewer": (Role.VIEWER, "so-yte"),
        "consumer_admin": (Role.ORGANISATION_ADMIN, "ubnd-viet-yen"),
        "consumer_officer": (Role.OFFICER, "ubnd-viet-yen"),
        "outsider": (Role.OFFICER, "ubnd-khac"),
    }

    def __init__(self, admin: Official, make_official: MakeOfficial) -> None:
        self.admin = admin
        self._make = make_official
        self._made: dict[str, Official] = {}

    def _get(self, name: str) -> Official:
        if name not in self._made:
            role, organisation = self._ROLES[name]
            self._made[name] = self._make(role, organisation, username=name.replace("_", "-"))
        return self._made[name]

    @property
    def provider_admin(self) -> Official:
        return self._get("provider_admin")

    @property
    def provider_officer(self) -> Official:
        return self._get("provider_officer")

    @property
    def provider_viewer(self) -> Official:
        return self._get("provider_viewer")

    @property
    def consumer_admin(self) -> Official:
        return self._get("consumer_admin")

    @property
    def consumer_officer(self) -> Official:
        return self._get("consumer_officer")

    @property
    def outsider(self) -> Official:
        return self._get("outsider")


@pytest.fixture
def exchange_world(
    client: TestClient,
    make_official: MakeOfficial,
    admin: Official,
    province_tree: dict[str, str],
) -> ExchangeWorld:
    for organisation, code, provider in (
        ("so-yte", "his", True),
        ("ubnd-viet-yen", "mot-cua", False),
    ):
        response = client.post(
            "/api/v1/systems",
            json={
                "code": code,
                "organisation_code": organisation,
                "name_vi": f"Hệ thống {code}",
                "is_consumer": True,
                "is_provider": provider,
            },
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
    world = ExchangeWorld(admin, make_official)
    response = client.post(f"{API}/services", json=service_payload(), headers=admin.headers)
    assert response.status_code == 201, response.text
    response = client.post(
        f"{SERVICE_PATH}/status", json={"status": "published"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return world


@pytest.fixture
def approved_grant(client: TestClient, exchange_world: ExchangeWorld) -> dict[str, Any]:
    """A grant for ubnd-viet-yen/mot-cua on the service (GET /citizens/{id} only)."""
    response = client.post(
        f"{API}/requests", json=request_payload(), headers=exchange_world.consumer_officer.headers
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/requests/{response.json()['id']}/approve",
        json={
            "allowed_methods": ["GET"],
            "allowed_paths": ["/citizens/{id}"],
            "rate_per_second": 50,
        },
        headers=exchange_world.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    grant: dict[str, Any] = response.json()
    return grant


@pytest.fixture
def consumer_secret(client: TestClient, exchange_world: ExchangeWorld) -> tuple[str, str]:
    """(client_id, client_secret) of the consumer system ubnd-viet-yen/mot-cua."""
    response = client.post(
        f"{API}/systems/ubnd-viet-yen/mot-cua/credentials",
        json={"kind": "client_secret", "label": "máy chủ một cửa"},
        headers=exchange_world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["client_id"], body["client_secret"]


# -- Redis: a server of the test's own and a subscriber on the registry notice channel ----------
NOTICE_PROMISE_SECONDS = 2.0  # a notice must arrive within this


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (no subscriber of another test in the counts)."""
    server = RedisServer()
    server.start(tmp_path / "redis")
    yield server
    notices.close_publishers()  # the control plane's publishers used it
    server.stop()


class Listener:
    """A real subscriber on the registry notice channel (subscribed when constructed)."""

    def __init__(self, url: str) -> None:
        redis_client: Any = redis.Redis  # redis-py's pub/sub methods are untyped
        self.client = redis_client.from_url(url)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(notices.CHANNEL)
        confirmation = self.pubsub.get_message(timeout=NOTICE_PROMISE_SECONDS)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"

    def next(self, timeout: float) -> int | None:
        """The next notice's version, or None if none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                return int(message["data"])
        return None

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def listener(redis_server: RedisServer) -> Iterator[Listener]:
    subscriber = Listener(redis_server.url)
    yield subscriber
    subscriber.close()
