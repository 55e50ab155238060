"""The whole control flow through the API: register, publish, request, approve, token, verify."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from tests.exchange.conftest import API, SERVICE_PATH, basic_auth, request_payload
from tinhso.exchange import repository
from tinhso.exchange.keys import public_jwk
from tinhso.exchange.models import ConnectionRequest, ExchangeService, Grant, RequestStatus
from tinhso.exchange.policy import TOKEN_AUDIENCE
from tinhso.exchange.snapshot import exchange_snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.exchange.conftest import ExchangeWorld


def _verify_with_jwks(client: TestClient, token: str) -> dict[str, Any]:
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience=TOKEN_AUDIENCE,
        issuer="http://127.0.0.1:8000",
    )
    return claims


def test_full_control_flow(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    # The published service is visible to any official.
    listed = client.get(f"{API}/services", headers=world.outsider.headers).json()
    assert [item["key"] for item in listed["items"]] == ["so-yte/his/ho-so-suc-khoe/v1"]
    assert listed["items"][0]["status"] == "published"

    # The consumer's officer asks for access; the provider's admin narrows and approves.
    response = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    )
    assert response.status_code == 201, response.text
    request = response.json()
    assert request["status"] == "pending"
    assert request["service"] == "so-yte/his/ho-so-suc-khoe/v1"
    assert request["consumer"] == "ubnd-viet-yen/mot-cua"

    pending = client.get(
        f"{API}/requests?status=pending", headers=world.provider_admin.headers
    ).json()
    assert [item["id"] for item in pending["items"]] == [request["id"]]

    version_before = repository.state_version(session)
    response = client.post(
        f"{API}/requests/{request['id']}/approve",
        json={
            "allowed_methods": ["GET"],
            "allowed_paths": ["/citizens/{id}"],
            "quota_per_day": 1000,
            "rate_per_second": 20,
            "burst": 40,
        },
        headers=world.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    grant = response.json()
    assert grant["allowed_methods"] == ["GET"]
    assert grant["allowed_paths"] == ["/citizens/{id}"]
    assert (grant["quota_per_day"], grant["rate_per_second"], grant["burst"]) == (1000, 20, 40)
    session.expire_all()
    assert repository.state_version(session) > version_before

    decided = client.get(
        f"{API}/requests/{request['id']}", headers=world.consumer_officer.headers
    ).json()
    assert decided["status"] == "approved"
    assert decided["grant_id"] == grant["id"]

    # The snapshot the gateways load holds the grant, narrowed.
    snapshot = exchange_snapshot(session, issuer="http://127.0.0.1:8000")
    service = snapshot.service("so-yte", "his", "ho-so-suc-khoe", "v1")
    assert service is not None
    assert service.callable
    assert service.base_url == "https://10.20.30.40/api"
    (entry,) = snapshot.grants_for("ubnd-viet-yen/mot-cua", service.key)
    assert entry.allows("GET", "/citizens/001099012345")
    assert not entry.allows("POST", "/citizens/001099012345")
    assert not entry.allows("GET", "/records/1")
    assert not entry.allows("GET", "/citizens/1/extra")

    # The consumer's admin creates a client secret and gets a token with it.
    response = client.post(
        f"{API}/systems/ubnd-viet-yen/mot-cua/credentials",
        json={"kind": "client_secret"},
        headers=world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    client_id, secret = response.json()["client_id"], response.json()["client_secret"]
    token_response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(client_id, secret),
    )
    assert token_response.status_code == 200, token_response.text
    assert token_response.headers["cache-control"] == "no-store"
    body = token_response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    claims = _verify_with_jwks(client, body["access_token"])
    assert claims["sub"] == client_id
    assert claims["tinhso_system"] == "ubnd-viet-yen/mot-cua"
    assert claims["exp"] - claims["iat"] == 300
    session.expire_all()
    assert client_id in exchange_snapshot(session).client_ids

    # ... and with a private_key_jwt credential (Ed25519 key held by the consumer).
    private_key = Ed25519PrivateKey.generate()
    jwk = public_jwk(private_key.public_key(), "consumer-key-1")
    response = client.post(
        f"{API}/systems/ubnd-viet-yen/mot-cua/credentials",
        json={"kind": "private_key_jwt", "public_jwk": jwk},
        headers=world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["client_secret"] is None
    jwt_client_id = response.json()["client_id"]
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": jwt_client_id,
            "sub": jwt_client_id,
            "aud": "http://127.0.0.1:8000/oauth/token",
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        },
        private_key,
        algorithm="EdDSA",
    )
    token_response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": "so-yte/his/ho-so-suc-khoe/v1",
        },
    )
    assert token_response.status_code == 200, token_response.text
    claims = _verify_with_jwks(client, token_response.json()["access_token"])
    assert claims["sub"] == jwt_client_id
    assert claims["scope"] == "so-yte/his/ho-so-suc-khoe/v1"

    # The provider's admin revokes; the gateway snapshot no longer has the grant.
    version_before = repository.state_version(session)
    response = client.post(
        f"{API}/grants/{grant['id']}/revoke",
        json={"reason": "Hết nhu cầu khai thác"},
        headers=world.provider_admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["revoked_reason"] == "Hết nhu cầu khai thác"
    session.expire_all()
    assert repository.state_version(session) > version_before
    assert exchange_snapshot(session).grants_for("ubnd-viet-yen/mot-cua", service.key) == ()
    again = client.post(
        f"{API}/grants/{grant['id']}/revoke",
        json={"reason": "lần hai"},
        headers=world.provider_admin.headers,
    )
    assert again.status_code == 409


def test_refusal_requires_a_reason(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    request = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    ).json()
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = client.post(
            f"{API}/requests/{request['id']}/refuse",
            json=body,
            headers=world.provider_admin.headers,
        )
        assert response.status_code == 422, response.text
        assert "reason" in [error["field"] for error in response.json()["errors"]]
    session.expire_all()
    assert session.scalar(select(ExchangeService.status)) == "published"
    response = client.post(
        f"{API}/requests/{request['id']}/refuse",
        json={"reason": "Mục đích không phù hợp với phạm vi dữ liệu"},
        headers=world.provider_admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == RequestStatus.REFUSED
    assert response.json()["decision_reason"] == "Mục đích không phù hợp với phạm vi dữ liệu"
    # A decided request cannot be decided again.
    response = client.post(
        f"{API}/requests/{request['id']}/approve", json={}, headers=world.provider_admin.headers
    )
    assert response.status_code == 409
    assert session.scalars(select(Grant)).first() is None


def test_approval_cannot_widen_the_request(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    request = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    ).json()
    for body, field in (
        ({"allowed_methods": ["DELETE"]}, "allowed_methods"),
        ({"allowed_paths": ["/admin/"]}, "allowed_paths"),
        ({"allowed_paths": ["/citizens/../admin"]}, "allowed_paths"),
        ({"valid_until": "2020-01-01T00:00:00Z"}, "valid_until"),
        ({"valid_until": "2030-01-01T00:00:00"}, "valid_until"),  # no time zone
        ({"burst": 10}, "burst"),
    ):
        response = client.post(
            f"{API}/requests/{request['id']}/approve",
            json=body,
            headers=world.provider_admin.headers,
        )
        assert response.status_code == 422, (body, response.text)
        assert field in [error["field"] for error in response.json()["errors"]]
    assert session.scalars(select(Grant)).first() is None
    # Narrowing inside a requested prefix is fine.
    response = client.post(
        f"{API}/requests/{request['id']}/approve",
        json={"allowed_paths": ["/citizens/{id}/vaccinations"]},
        headers=world.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["allowed_methods"] == ["GET", "POST"]


def test_duplicate_pending_request_conflicts(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    headers = exchange_world.consumer_officer.headers
    assert (
        client.post(f"{API}/requests", json=request_payload(), headers=headers).status_code == 201
    )
    assert (
        client.post(f"{API}/requests", json=request_payload(), headers=headers).status_code == 409
    )


def test_requests_need_purpose_and_legal_basis(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    headers = exchange_world.consumer_officer.headers
    for field in ("purpose", "legal_basis", "requested_methods", "requested_paths"):
        payload = request_payload()
        del payload[field]
        response = client.post(f"{API}/requests", json=payload, headers=headers)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [error["field"] for error in response.json()["errors"]]
    response = client.post(
        f"{API}/requests", json=request_payload(requested_methods=["BREW"]), headers=headers
    )
    assert response.status_code == 422
    assert session.scalars(select(ConnectionRequest)).first() is None


def test_withdraw_by_consumer(client: TestClient, exchange_world: ExchangeWorld) -> None:
    world = exchange_world
    request = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    ).json()
    url = f"{API}/requests/{request['id']}/withdraw"
    assert client.post(url, json={}, headers=world.provider_officer.headers).status_code == 403
    response = client.post(
        url, json={"reason": "Nhập nhầm"}, headers=world.consumer_officer.headers
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"


def test_service_path_of_fixture_is_published(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    response = client.get(SERVICE_PATH, headers=exchange_world.outsider.headers)
    assert response.status_code == 200
    assert response.json()["published_at"] is not None
    openapi = client.get(f"{SERVICE_PATH}/openapi", headers=exchange_world.outsider.headers)
    assert openapi.json()["openapi"] == "3.1.0"
