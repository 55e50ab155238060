"""OAuth2 token endpoint, client credentials and signing-key rotation."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from tests.conftest import TEST_SECRET
from tests.exchange.conftest import API, basic_auth
from tinhso.core.config import Settings
from tinhso.exchange.keys import public_jwk, signing_key_service
from tinhso.exchange.models import ClientAssertionUse, KeyStatus, SigningKey, SystemCredential
from tinhso.exchange.policy import InvalidAccessToken, verify_access_token
from tinhso.exchange.snapshot import exchange_snapshot

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.exchange.conftest import ExchangeWorld

TOKEN_URL = "http://127.0.0.1:8000/oauth/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CREDENTIALS = f"{API}/systems/ubnd-viet-yen/mot-cua/credentials"


def _claims(client_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


def _assertion_form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }


def _oauth_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert body["error_description_vi"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.fixture
def ed25519_client(
    client: TestClient, exchange_world: ExchangeWorld
) -> tuple[str, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    response = client.post(
        CREDENTIALS,
        json={"kind": "private_key_jwt", "public_jwk": public_jwk(key.public_key(), "k1")},
        headers=exchange_world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["client_id"], key


def test_secret_is_stored_hashed_and_shown_once(
    client: TestClient,
    exchange_world: ExchangeWorld,
    consumer_secret: tuple[str, str],
    session: Session,
) -> None:
    client_id, secret = consumer_secret
    row = session.scalars(
        select(SystemCredential).where(SystemCredential.client_id == client_id)
    ).one()
    assert row.secret_hash is not None
    assert row.secret_hash.startswith("$argon2")
    assert secret not in json.dumps(
        {
            column.name: str(getattr(row, column.key))
            for column in SystemCredential.__table__.columns
        }
    )
    listed = client.get(CREDENTIALS, headers=exchange_world.consumer_admin.headers).json()
    assert [item["client_id"] for item in listed["items"]] == [client_id]
    assert "client_secret" not in listed["items"][0]
    assert secret not in json.dumps(listed)


def test_client_secret_basic_failures(
    client: TestClient, consumer_secret: tuple[str, str], session: Session
) -> None:
    client_id, secret = consumer_secret
    form = {"grant_type": "client_credentials"}
    _oauth_error(
        client.post("/oauth/token", data=form, headers=basic_auth(client_id, secret + "x")),
        401,
        "invalid_client",
    )
    _oauth_error(
        client.post("/oauth/token", data=form, headers=basic_auth("tsc_nobody", secret)),
        401,
        "invalid_client",
    )
    _oauth_error(
        client.post("/oauth/token", data=form, headers={"Authorization": "Basic !!!"}),
        401,
        "invalid_client",
    )
    _oauth_error(client.post("/oauth/token", data=form), 401, "invalid_client")
    _oauth_error(
        client.post(
            "/oauth/token", data={"grant_type": "password"}, headers=basic_auth(client_id, secret)
        ),
        400,
        "unsupported_grant_type",
    )
    _oauth_error(
        client.post("/oauth/token", data={}, headers=basic_auth(client_id, secret)),
        400,
        "invalid_request",
    )
    _oauth_error(
        client.post("/oauth/token", data={**form, "client_id": client_id, "client_secret": secret}),
        400,
        "invalid_request",
    )
    _oauth_error(
        client.post(
            "/oauth/token",
            data={**form, "client_id": "tsc_other"},
            headers=basic_auth(client_id, secret),
        ),
        400,
        "invalid_request",
    )
    # No key is generated and nothing is written by failed attempts.
    assert session.scalars(select(SigningKey)).first() is None
    ok = client.post("/oauth/token", data=form, headers=basic_auth(client_id, secret))
    assert ok.status_code == 200, ok.text


def test_revoked_and_rotated_secrets_stop_working(
    client: TestClient, exchange_world: ExchangeWorld, consumer_secret: tuple[str, str]
) -> None:
    client_id, secret = consumer_secret
    form = {"grant_type": "client_credentials"}
    headers = exchange_world.consumer_admin.headers
    rotated = client.post(f"{API}/credentials/{client_id}/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret and new_secret != secret
    _oauth_error(
        client.post("/oauth/token", data=form, headers=basic_auth(client_id, secret)),
        401,
        "invalid_client",
    )
    assert (
        client.post(
            "/oauth/token", data=form, headers=basic_auth(client_id, new_secret)
        ).status_code
        == 200
    )
    assert client.post(f"{API}/credentials/{client_id}/revoke", headers=headers).status_code == 200
    _oauth_error(
        client.post("/oauth/token", data=form, headers=basic_auth(client_id, new_secret)),
        401,
        "invalid_client",
    )
    assert client.post(f"{API}/credentials/{client_id}/revoke", headers=headers).status_code == 409


def test_credentials_are_managed_by_the_systems_admins_only(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    for official in (world.consumer_officer, world.provider_admin, world.outsider):
        response = client.post(
            CREDENTIALS, json={"kind": "client_secret"}, headers=official.headers
        )
        assert response.status_code == 403, response.text
        assert client.get(CREDENTIALS, headers=official.headers).status_code == 403
    assert session.scalars(select(SystemCredential)).first() is None


def test_bad_public_keys_are_refused(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    key = Ed25519PrivateKey.generate()
    jwk = public_jwk(key.public_key(), "k")
    small_rsa = jwt.algorithms.RSAAlgorithm.to_jwk(
        rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key(),  # noqa: S505 - must be refused
        as_dict=True,
    )
    for body, field in (
        ({"kind": "private_key_jwt"}, "public_jwk"),
        ({"kind": "private_key_jwt", "public_jwk": {**jwk, "d": "c2VjcmV0"}}, "public_jwk"),
        ({"kind": "private_key_jwt", "public_jwk": {"kty": "oct", "k": "c2VjcmV0"}}, "public_jwk"),
        (
            {"kind": "private_key_jwt", "public_jwk": {"kty": "OKP", "crv": "Ed25519", "x": "bad"}},
            "public_jwk",
        ),
        ({"kind": "private_key_jwt", "public_jwk": small_rsa}, "public_jwk"),
        ({"kind": "mtls"}, "certificate_sha256"),
        ({"kind": "mtls", "certificate_sha256": "abc"}, "certificate_sha256"),
        ({"kind": "client_secret", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ):
        response = client.post(
            CREDENTIALS, json=body, headers=exchange_world.consumer_admin.headers
        )
        assert response.status_code == 422, (body, response.text)
        assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert session.scalars(select(SystemCredential)).first() is None


def test_mtls_fingerprint_binding(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    fingerprint = ":".join(["AB"] * 32)
    response = client.post(
        CREDENTIALS,
        json={"kind": "mtls", "certificate_sha256": fingerprint},
        headers=exchange_world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["certificate_sha256"] == "ab" * 32
    assert exchange_snapshot(session).certificates["ab" * 32] == "ubnd-viet-yen/mot-cua"
    again = client.post(
        CREDENTIALS,
        json={"kind": "mtls", "certificate_sha256": "ab" * 32},
        headers=exchange_world.consumer_admin.headers,
    )
    assert again.status_code == 409


def test_private_key_jwt_assertion_checks(
    client: TestClient, ed25519_client: tuple[str, Ed25519PrivateKey], session: Session
) -> None:
    client_id, key = ed25519_client
    other_key = Ed25519PrivateKey.generate()
    unsigned_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    unsigned_body = (
        base64.urlsafe_b64encode(json.dumps(_claims(client_id)).encode()).rstrip(b"=").decode()
    )
    refused = {
        "alg none": f"{unsigned_header}.{unsigned_body}.",
        "HS256 with the public key": jwt.encode(_claims(client_id), "x" * 32, algorithm="HS256"),
        "wrong key": jwt.encode(_claims(client_id), other_key, algorithm="EdDSA"),
        "wrong audience": jwt.encode(
            _claims(client_id, aud="https://elsewhere/token"), key, algorithm="EdDSA"
        ),
        "sub differs": jwt.encode(_claims(client_id, sub="tsc_other"), key, algorithm="EdDSA"),
        "expired": jwt.encode(
            _claims(client_id, exp=int(time.time()) - 120), key, algorithm="EdDSA"
        ),
        "too long-lived": jwt.encode(
            _claims(client_id, exp=int(time.time()) + 3600 + 120), key, algorithm="EdDSA"
        ),
        "no jti": jwt.encode(
            {k: v for k, v in _claims(client_id).items() if k != "jti"}, key, algorithm="EdDSA"
        ),
        "unknown client": jwt.encode(_claims("tsc_unknown"), key, algorithm="EdDSA"),
        "garbage": "not-a-jwt",
    }
    for name, assertion in refused.items():
        response = client.post("/oauth/token", data=_assertion_form(assertion))
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"] == "invalid_client", name
    wrong_type = client.post(
        "/oauth/token",
        data={
            **_assertion_form(jwt.encode(_claims(client_id), key, algorithm="EdDSA")),
            "client_assertion_type": "x",
        },
    )
    _oauth_error(wrong_type, 400, "invalid_request")
    assert session.scalars(select(ClientAssertionUse)).first() is None

    # A valid assertion works once; replaying its jti is refused.
    assertion = jwt.encode(_claims(client_id), key, algorithm="EdDSA")
    first = client.post("/oauth/token", data=_assertion_form(assertion))
    assert first.status_code == 200, first.text
    replay = client.post("/oauth/token", data=_assertion_form(assertion))
    _oauth_error(replay, 401, "invalid_client")
    assert "replay" in replay.json()["error_description"]


def test_private_key_jwt_with_rsa(client: TestClient, exchange_world: ExchangeWorld) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    response = client.post(
        CREDENTIALS,
        json={"kind": "private_key_jwt", "public_jwk": jwk},
        headers=exchange_world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    response = client.post(
        "/oauth/token", data=_assertion_form(jwt.encode(_claims(client_id), key, algorithm="RS256"))
    )
    assert response.status_code == 200, response.text
    # An Ed25519 signature is not accepted for an RSA key (algorithm bound to the key type).
    other = Ed25519PrivateKey.generate()
    response = client.post(
        "/oauth/token",
        data=_assertion_form(jwt.encode(_claims(client_id), other, algorithm="EdDSA")),
    )
    assert response.status_code == 401


def test_key_rotation_keeps_old_tokens_verifiable(
    client: TestClient,
    consumer_secret: tuple[str, str],
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    client_id, secret = consumer_secret
    form = {"grant_type": "client_credentials"}

    def token() -> str:
        response = client.post("/oauth/token", data=form, headers=basic_auth(client_id, secret))
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        return value

    def jwks() -> dict[str, Any]:
        keys: list[dict[str, Any]] = client.get("/.well-known/jwks.json").json()["keys"]
        return {key["kid"]: key for key in keys}

    first = token()  # generates the platform's first key
    first_kid = jwt.get_unverified_header(first)["kid"]
    assert list(jwks()) == [first_kid]

    with sessions.begin() as session:
        next_key = signing_key_service.rotate(session, settings)
    assert set(jwks()) == {first_kid, next_key.kid}  # published before it signs
    assert jwt.get_unverified_header(token())["kid"] == first_kid

    with sessions.begin() as session:
        signing_key_service.promote(session, settings)
    second = token()
    assert jwt.get_unverified_header(second)["kid"] == next_key.kid
    published = jwks()
    assert set(published) == {first_kid, next_key.kid}
    for issued in (first, second):
        claims = verify_access_token(issued, published, "http://127.0.0.1:8000")
        assert claims["tinhso_system"] == "ubnd-viet-yen/mot-cua"
    with sessions() as session:
        statuses = {key.kid: key.status for key in session.scalars(select(SigningKey))}
        assert statuses == {first_kid: KeyStatus.RETIRED, next_key.kid: KeyStatus.ACTIVE}
        # Private keys are stored encrypted, and only the platform secret opens them.
        stored = session.scalars(select(SigningKey)).first()
        assert stored is not None
        assert "ENCRYPTED PRIVATE KEY" in stored.private_key_pem
        assert signing_key_service.private_key(stored, settings) is not None
        wrong = Settings(environment="test", secret_key="another-secret-" + TEST_SECRET)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            signing_key_service.private_key(stored, wrong)


def test_token_verification_refuses_tampering(
    client: TestClient, consumer_secret: tuple[str, str]
) -> None:
    client_id, secret = consumer_secret
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(client_id, secret),
    )
    token = response.json()["access_token"]
    keys = {key["kid"]: key for key in client.get("/.well-known/jwks.json").json()["keys"]}
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["tinhso_system"] = "so-yte/his"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged}.{signature}", token + "x"):
        with pytest.raises(InvalidAccessToken):
            verify_access_token(bad, keys, "http://127.0.0.1:8000")
    with pytest.raises(InvalidAccessToken):
        verify_access_token(token, keys, "https://other-issuer")
