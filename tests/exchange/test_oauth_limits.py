"""Token endpoint abuse: client_id lockout after failed authentications, per-address rate limit."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import TEST_SECRET
from tests.exchange.conftest import API, basic_auth
from tinhso.app import create_app
from tinhso.core.config import Settings
from tinhso.core.db import utcnow
from tinhso.exchange.keys import public_jwk
from tinhso.exchange.models import SystemCredential
from tinhso.exchange.oauth import AddressLimiter

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.exchange.conftest import ExchangeWorld

CREDENTIALS = f"{API}/systems/ubnd-viet-yen/mot-cua/credentials"
FORM = {"grant_type": "client_credentials"}
MAX_FAILURES = 3


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        log_json=True,
        log_level="WARNING",
        oauth_max_failed_attempts=MAX_FAILURES,
        oauth_lockout_seconds=600,
    )


def _token(client: TestClient, client_id: str, secret: str) -> Any:
    return client.post("/oauth/token", data=FORM, headers=basic_auth(client_id, secret))


def _credential(sessions: sessionmaker[Session], client_id: str) -> SystemCredential:
    with sessions() as session:
        return session.scalars(
            select(SystemCredential).where(SystemCredential.client_id == client_id)
        ).one()


def _assert_locked(response: Any) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_description"] and body["error_description_vi"]
    assert "access_token" not in body
    assert 1 <= int(response.headers["retry-after"]) <= 600
    assert response.headers["cache-control"] == "no-store"


def test_wrong_secrets_lock_the_client_id_until_the_window_passes(
    client: TestClient,
    exchange_world: ExchangeWorld,
    consumer_secret: tuple[str, str],
    sessions: sessionmaker[Session],
) -> None:
    client_id, secret = consumer_secret
    other = client.post(
        CREDENTIALS, json={"kind": "client_secret"}, headers=exchange_world.consumer_admin.headers
    ).json()

    # A success resets the count: two failures, a success, two failures do not lock.
    for _ in range(MAX_FAILURES - 1):
        assert _token(client, client_id, secret + "x").status_code == 401
    assert _credential(sessions, client_id).failed_attempts == MAX_FAILURES - 1
    assert _token(client, client_id, secret).status_code == 200
    assert _credential(sessions, client_id).failed_attempts == 0
    for _ in range(MAX_FAILURES - 1):
        assert _token(client, client_id, secret + "x").status_code == 401
    assert _token(client, client_id, secret).status_code == 200

    # MAX_FAILURES consecutive failures (each answered 401, counted although the request's
    # own transaction is rolled back) lock the client_id: even the right secret gets 429.
    for _ in range(MAX_FAILURES):
        assert _token(client, client_id, secret + "x").status_code == 401
    _assert_locked(_token(client, client_id, secret))
    _assert_locked(_token(client, client_id, secret + "x"))
    locked = _credential(sessions, client_id)
    assert locked.locked_until is not None
    assert locked.locked_until > utcnow() + timedelta(seconds=500)

    # Another credential of the same system, and unknown client ids, are not affected.
    assert _token(client, other["client_id"], other["client_secret"]).status_code == 200
    for _ in range(MAX_FAILURES + 1):
        assert _token(client, "tsc_nobody", secret).status_code == 401
    with sessions() as session:
        assert len(session.scalars(select(SystemCredential)).all()) == 2

    # Once the window has passed, the right secret works again.
    with sessions.begin() as session:
        row = session.scalars(
            select(SystemCredential).where(SystemCredential.client_id == client_id)
        ).one()
        row.locked_until = utcnow() - timedelta(seconds=1)
    response = _token(client, client_id, secret)
    assert response.status_code == 200, response.text
    assert _credential(sessions, client_id).locked_until is None


def test_failed_assertions_lock_a_private_key_jwt_client(
    client: TestClient, exchange_world: ExchangeWorld, sessions: sessionmaker[Session]
) -> None:
    key = Ed25519PrivateKey.generate()
    response = client.post(
        CREDENTIALS,
        json={"kind": "private_key_jwt", "public_jwk": public_jwk(key.public_key(), "k1")},
        headers=exchange_world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]

    def assertion(signer: Ed25519PrivateKey) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": "http://127.0.0.1:8000/oauth/token",
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        }
        return {
            **FORM,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": jwt.encode(claims, signer, algorithm="EdDSA"),
        }

    intruder = Ed25519PrivateKey.generate()
    for _ in range(MAX_FAILURES):
        assert client.post("/oauth/token", data=assertion(intruder)).status_code == 401
    _assert_locked(client.post("/oauth/token", data=assertion(key)))
    assert _credential(sessions, client_id).locked_until is not None


@pytest.fixture
def limited_client(settings: Settings, engine: Engine) -> Any:
    """The app with a token endpoint limit of 3 requests per minute per address."""
    app = create_app(settings.model_copy(update={"oauth_rate_per_minute": 3}), engine)
    with TestClient(app, base_url="http://127.0.0.1", client=("203.0.113.7", 50000)) as one:
        yield one, app


def test_token_requests_are_rate_limited_per_address(
    limited_client: tuple[TestClient, Any],
    consumer_secret: tuple[str, str],
    sessions: sessionmaker[Session],
) -> None:
    client, app = limited_client
    client_id, secret = consumer_secret
    # Failed and successful requests alike count against the address.
    assert _token(client, client_id, secret + "x").status_code == 401
    assert _token(client, client_id, secret).status_code == 200
    assert _token(client, "tsc_nobody", "x").status_code == 401
    refused = _token(client, client_id, secret)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "slow_down"
    assert refused.json()["error_description_vi"]
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    # Refused before any credential is looked at: not counted as a failed authentication.
    assert _credential(sessions, client_id).failed_attempts == 0

    # Another address still has its own budget.
    with TestClient(app, base_url="http://127.0.0.1", client=("198.51.100.9", 50000)) as other:
        assert _token(other, client_id, secret).status_code == 200


def test_address_limiter_refills_and_stays_bounded() -> None:
    limiter = AddressLimiter(per_minute=2, max_addresses=3)
    assert limiter.check("a", now=0.0) == 0
    assert limiter.check("a", now=0.0) == 0
    assert limiter.check("a", now=0.0) == 30  # one token every 30 s
    assert limiter.check("b", now=0.0) == 0
    assert limiter.check("a", now=30.0) == 0  # refilled
    assert limiter.check("a", now=30.0) > 0
    for address in ("c", "d", "e", "f"):
        assert limiter.check(address, now=31.0) == 0
    assert len(limiter._buckets) <= 3


def test_the_systems_admin_sees_the_lock_and_may_lift_it(
    client: TestClient, exchange_world: ExchangeWorld, consumer_secret: tuple[str, str]
) -> None:
    client_id, secret = consumer_secret
    for _ in range(MAX_FAILURES):
        assert _token(client, client_id, secret + "x").status_code == 401
    _assert_locked(_token(client, client_id, secret))
    listed = client.get(CREDENTIALS, headers=exchange_world.consumer_admin.headers).json()
    [shown] = [item for item in listed["items"] if item["client_id"] == client_id]
    assert shown["locked_until"] is not None
    assert "client_secret" not in shown

    unlock = f"{API}/credentials/{client_id}/unlock"
    # Officials of another organisation, and the provider's admin, may not lift it.
    for official in (exchange_world.outsider, exchange_world.provider_admin):
        assert client.post(unlock, headers=official.headers).status_code == 403
    _assert_locked(_token(client, client_id, secret))

    response = client.post(unlock, headers=exchange_world.consumer_admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["locked_until"] is None
    assert response.json()["failed_attempts"] == 0
    assert _token(client, client_id, secret).status_code == 200
