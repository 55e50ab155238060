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
from sqlalchemy import select, update

from tests.conftest import suite_settings
from tests.exchange.conftest import API, basic_auth
from tinhso.app import create_app
from tinhso.core.config import Settings
from tinhso.core.db import utcnow
from tinhso.exchange.keys import public_jwk
from tinhso.exchange.models import SystemCredential
from tinhso.exchange.oauth.api import AddressLimiter
from tinhso.registry.models import SignInFailure

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
    return suite_settings(
        database_url, tmp_path, oauth_max_failed_attempts=MAX_FAILURES, oauth_lockout_seconds=600
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


ATTACKER = "203.0.113.66"
HOLDER = "198.51.100.20"


@pytest.fixture
def at(app: Any) -> Any:
    """TestClients of the same app seen from different client addresses."""
    opened: list[TestClient] = []

    def client_at(address: str) -> TestClient:
        client = TestClient(app, base_url="http://127.0.0.1", client=(address, 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield client_at
    for client in opened:
        client.__exit__(None, None, None)


def test_wrong_secrets_make_the_failing_address_wait_never_the_holder(
    at: Any,
    exchange_world: ExchangeWorld,
    consumer_secret: tuple[str, str],
    sessions: sessionmaker[Session],
) -> None:
    client_id, secret = consumer_secret
    attacker, holder = at(ATTACKER), at(HOLDER)
    other = holder.post(
        CREDENTIALS, json={"kind": "client_secret"}, headers=exchange_world.consumer_admin.headers
    ).json()

    # A success resets the count: two failures, a success, two failures do not hold back.
    for _ in range(MAX_FAILURES - 1):
        assert _token(attacker, client_id, secret + "x").status_code == 401
    assert _credential(sessions, client_id).failed_attempts == MAX_FAILURES - 1
    assert _token(attacker, client_id, secret).status_code == 200
    assert _credential(sessions, client_id).failed_attempts == 0
    for _ in range(MAX_FAILURES - 1):
        assert _token(attacker, client_id, secret + "x").status_code == 401
    assert _token(attacker, client_id, secret).status_code == 200

    # MAX_FAILURES failures (each answered 401, counted although the request's own transaction
    # is rolled back) make the failing address wait: even the right secret gets 429 there.
    for _ in range(MAX_FAILURES):
        assert _token(attacker, client_id, secret + "x").status_code == 401
    _assert_locked(_token(attacker, client_id, secret))
    _assert_locked(_token(attacker, client_id, secret + "x"))  # not counted while waiting
    counted = _credential(sessions, client_id)
    assert counted.failed_attempts == MAX_FAILURES
    assert counted.locked_until is not None

    # The holder, at an address that has not been failing, gets tokens all the same.
    response = _token(holder, client_id, secret)
    assert response.status_code == 200, response.text
    # Another credential of the same system is not held back, even at the failing address.
    assert _token(attacker, other["client_id"], other["client_secret"]).status_code == 200


def test_one_address_failing_for_any_client_ids_waits_for_every_client_id(
    at: Any, consumer_secret: tuple[str, str]
) -> None:
    client_id, secret = consumer_secret
    sprayer = at(ATTACKER)
    for number in range(3 * MAX_FAILURES):
        assert _token(sprayer, f"tsc_doan{number}", "x").status_code == 401
    refused = _token(sprayer, client_id, secret)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "slow_down"
    assert int(refused.headers["retry-after"]) >= 1
    assert _token(at(HOLDER), client_id, secret).status_code == 200


def _signed(client_id: str, signer: Ed25519PrivateKey, **claims: Any) -> dict[str, str]:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": "http://127.0.0.1:8000/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return {
        **FORM,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": jwt.encode(body, signer, algorithm="EdDSA"),
    }


@pytest.fixture
def key_client(client: TestClient, exchange_world: ExchangeWorld) -> tuple[str, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    response = client.post(
        CREDENTIALS,
        json={"kind": "private_key_jwt", "public_jwk": public_jwk(key.public_key(), "k1")},
        headers=exchange_world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["client_id"], key


def test_failed_assertions_make_the_failing_address_wait(
    at: Any, key_client: tuple[str, Ed25519PrivateKey], sessions: sessionmaker[Session]
) -> None:
    client_id, key = key_client
    attacker = at(ATTACKER)
    intruder = Ed25519PrivateKey.generate()
    for _ in range(MAX_FAILURES):
        assert attacker.post("/oauth/token", data=_signed(client_id, intruder)).status_code == 401
    _assert_locked(attacker.post("/oauth/token", data=_signed(client_id, key)))
    assert _credential(sessions, client_id).failed_attempts == MAX_FAILURES
    assert at(HOLDER).post("/oauth/token", data=_signed(client_id, key)).status_code == 200


def test_a_correctly_signed_assertion_refused_by_policy_never_counts(
    client: TestClient, key_client: tuple[str, Ed25519PrivateKey], sessions: sessionmaker[Session]
) -> None:
    client_id, key = key_client
    replayed = _signed(client_id, key)
    assert client.post("/oauth/token", data=replayed).status_code == 200
    now = int(time.time())
    refusals = [
        _signed(client_id, key, exp=now + 2 * 3600),  # lives longer than an hour
        _signed(client_id, key, aud="https://elsewhere.example/token"),
        _signed(client_id, key, exp=now - 600),  # expired
        _signed(client_id, key, sub="tsc_someone_else"),
        replayed,  # its jti was used
    ]
    for _ in range(MAX_FAILURES):
        for form in refusals:
            response = client.post("/oauth/token", data=form)
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "invalid_client"
    counted = _credential(sessions, client_id)
    assert counted.failed_attempts == 0
    assert counted.locked_until is None
    # The key holder is not held back by their own policy mistakes.
    assert client.post("/oauth/token", data=_signed(client_id, key)).status_code == 200


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
    client: TestClient,
    exchange_world: ExchangeWorld,
    consumer_secret: tuple[str, str],
    sessions: sessionmaker[Session],
) -> None:
    client_id, secret = consumer_secret
    for _ in range(MAX_FAILURES):
        assert _token(client, client_id, secret + "x").status_code == 401
    # The wait is long, as after many more failures (so a slow machine does not outlive it).
    later = utcnow() + timedelta(seconds=500)
    with sessions.begin() as session:
        session.execute(
            update(SignInFailure)
            .where(SignInFailure.account == f"client:{client_id}")
            .values(blocked_until=later)
        )
        session.execute(
            update(SystemCredential)
            .where(SystemCredential.client_id == client_id)
            .values(locked_until=later)
        )
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
