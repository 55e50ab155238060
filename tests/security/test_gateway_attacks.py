"""Attacks on the gateway: each one is refused, never reaches the provider, and is audited."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.exchange.conftest import API
from tests.exchange.gateway.gateway_harness import (
    SERVICE,
    GatewayProcess,
    GatewayWorld,
    raw_request,
)
from tinhso.core.db import make_sessionmaker
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.policy import TOKEN_AUDIENCE

if TYPE_CHECKING:
    from tinhso.core.config import Settings

ISSUER = "http://127.0.0.1:8000"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "x",
        "aud": TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "tinhso_system": "ubnd-viet-yen/mot-cua",
    }
    claims.update(overrides)
    return claims


def _platform_key(world: GatewayWorld, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    with make_sessionmaker(world.engine)() as session:
        return signing_key_service.active_signer(session, settings)


def _refused_and_audited(
    world: GatewayWorld, gateway: GatewayProcess, cases: list[tuple[str, int, str, dict[str, str]]]
) -> None:
    before_provider = len(world.provider.seen)
    before_records = len(world.records())
    for target, status, code, headers in cases:
        response = raw_request(gateway.url, "GET", target, headers)
        assert response.status == status, (target, response.body)
        problem = response.json()
        assert problem["code"] == code, (target, problem)
        assert problem["request_id"] == response.headers["x-tinhso-request-id"]
        assert set(problem["message"]) == {"vi", "en"}
        assert response.headers["content-type"] == "application/problem+json"
    assert len(world.provider.seen) == before_provider  # the provider never saw any of them
    records = world.records()[before_records:]
    assert [(r["status"], r["outcome"]) for r in records] == [(s, c) for _, s, c, _ in cases]
    assert world.verify().ok


def test_bad_tokens_are_refused_and_audited(
    gateway_world: GatewayWorld, settings: Settings
) -> None:
    world = gateway_world
    kid, key = _platform_key(world, settings)
    sub = world.client_id
    gateway = world.gateway()
    forged = jwt.encode(
        _claims(sub=sub), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
    )
    expired = jwt.encode(
        _claims(sub=sub, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    wrong_audience = jwt.encode(
        _claims(sub=sub, aud="another-api"), key, algorithm="EdDSA", headers={"kid": kid}
    )
    unsigned = jwt.encode(_claims(sub=sub), None, algorithm="none", headers={"kid": kid})  # type: ignore[arg-type]
    # A genuine signature over a claim set naming another system, issued to no credential.
    foreign_sub = jwt.encode(
        _claims(sub="tsc_nobody"), key, algorithm="EdDSA", headers={"kid": kid}
    )
    target = f"/{SERVICE}/citizens/1"
    cases = [
        (target, 401, "token_missing", {}),
        (target, 401, "token_invalid", {"Authorization": "Bearer not-a-jwt"}),
        (target, 401, "token_invalid", {"Authorization": f"Bearer {forged}"}),
        (target, 401, "token_invalid", {"Authorization": f"Bearer {expired}"}),
        (target, 401, "token_invalid", {"Authorization": f"Bearer {wrong_audience}"}),
        (target, 401, "token_invalid", {"Authorization": f"Bearer {unsigned}"}),
        (target, 401, "token_invalid", {"Authorization": f"Bearer {foreign_sub}"}),
    ]
    _refused_and_audited(world, gateway, cases)
    record = world.records()[-1]
    assert record["consumer"] is None  # nobody was identified


def test_no_grant_and_other_systems_token(gateway_world: GatewayWorld) -> None:
    world = gateway_world
    # The provider system's own credential: a valid token of a system without a grant.
    response = world.client.post(
        f"{API}/systems/so-yte/his/credentials",
        json={"kind": "client_secret", "label": "his"},
        headers=world.world.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    other = world.token(response.json()["client_id"], response.json()["client_secret"])
    mine = world.token()
    gateway = world.gateway()
    cases = [
        # Another system's token on the consumer's service.
        (f"/{SERVICE}/citizens/1", 403, "no_grant", {"Authorization": f"Bearer {other}"}),
        # The consumer on a service it has no grant for.
        (
            "/so-yte/his/ho-so-suc-khoe/v1/citizens/1",
            403,
            "no_grant",
            {"Authorization": f"Bearer {mine}"},
        ),
        # A path the grant does not cover.
        (f"/{SERVICE}/admin/users", 403, "not_granted", {"Authorization": f"Bearer {mine}"}),
        # Unknown service.
        (
            "/so-yte/his/khong-co/v1/x",
            404,
            "service_not_found",
            {"Authorization": f"Bearer {mine}"},
        ),
    ]
    _refused_and_audited(world, gateway, cases)
    records = world.records()
    assert records[0]["consumer"] == "so-yte/his"
    assert records[1]["service"] == "so-yte/his/ho-so-suc-khoe/v1"


TRAVERSALS = [
    f"/{SERVICE}/citizens/../../../ho-so-suc-khoe/v1/citizens/1",
    f"/{SERVICE}/citizens/%2e%2e/%2E%2E/x",
    f"/{SERVICE}/citizens/.%2e/x",
    f"/{SERVICE}/citizens//1",
    f"/{SERVICE}/citizens/..%2f..%2fho-so-suc-khoe",
    f"/{SERVICE}/citizens/%2f1",
    f"/{SERVICE}/citizens/..%5c..%5cx",
    f"/{SERVICE}/citizens/%252e%252e/x",
    "/so-yte/his/echo%2fv1/citizens/1",
    "//so-yte/his/echo/v1/citizens/1",
    f"/{SERVICE}/citizens/./1",
    f"/{SERVICE}/citizens/1%00",
    f"/{SERVICE}/citizens/1%0d%0aX-Injected:%20yes",
]


def test_path_traversal_and_encoded_variants(gateway_world: GatewayWorld) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway()
    auth = {"Authorization": f"Bearer {token}"}
    cases = [(target, 400, "invalid_path", auth) for target in TRAVERSALS]
    _refused_and_audited(world, gateway, cases)
    # The normal path still works (the refusals were about the path, not the token).
    assert raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth).status == 200


# Path parameters (Tomcat and other Java containers read "/a/..;/b" as "/b") and non-ASCII
# look-alikes of "." and "/" that a provider folding Unicode would read as separators.
PARAMETERS_AND_LOOK_ALIKES = [
    f"/{SERVICE}/citizens/..;/..;/..;/ho-so-suc-khoe/v1/citizens/1",
    f"/{SERVICE}/citizens/1;jsessionid=0A1B2C",
    f"/{SERVICE}/citizens/1%3Bjsessionid=0A1B2C",
    f"/{SERVICE}/citizens/..%3b/x",
    f"/{SERVICE}/citizens/%EF%BC%8E%EF%BC%8E/x",  # full-width dots
    f"/{SERVICE}/citizens/%E2%80%A4%E2%80%A4/x",  # one-dot leaders
    f"/{SERVICE}/citizens/..%EF%BC%8Fx",  # full-width solidus
    f"/{SERVICE}/citizens/..%E2%88%95x",  # division slash
    f"/{SERVICE}/citizens/..%EF%BC%BCx",  # full-width reverse solidus
    f"/{SERVICE}/citizens/%E3%80%82%E3%80%82/x",  # ideographic full stops
]


def test_path_parameters_and_look_alikes_are_refused_with_the_path_audited(
    gateway_world: GatewayWorld,
) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway()
    auth = {"Authorization": f"Bearer {token}"}
    cases = [(target, 400, "invalid_path", auth) for target in PARAMETERS_AND_LOOK_ALIKES]
    _refused_and_audited(world, gateway, cases)
    # A Vietnamese path segment is not a look-alike of anything: it is forwarded.
    vietnamese = f"/{SERVICE}/citizens/H%C3%A0%20N%E1%BB%99i"
    assert raw_request(gateway.url, "GET", vietnamese, auth).status == 200
    assert world.provider.seen[-1].path == "/api/citizens/H%C3%A0%20N%E1%BB%99i"
    # Every record holds the path exactly as the consumer sent it, not only what it matched.
    records = world.records()
    assert [r["path"] for r in records] == [*PARAMETERS_AND_LOOK_ALIKES, vietnamese]
    assert records[-1]["path_template"] == "/citizens/"
    assert world.verify().ok


def test_identity_and_routing_headers_from_consumers_are_dropped(
    gateway_world: GatewayWorld,
) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway()
    sent = {
        "Authorization": f"Bearer {token}",
        "X-Original-URL": "/admin",
        "X-Rewrite-URL": "/admin",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/admin",
        "X-Forwarded-Port": "443",
        "X-Real-IP": "10.0.0.9",
        "X-Client-IP": "10.0.0.9",
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-S-DN": "CN=so-yte",
        "Forwarded": "for=10.0.0.9;proto=https",
        # "_" for "-": WSGI/CGI providers merge these into the same variable.
        "X_Forwarded_For": "10.0.0.9",
        "X_Real_IP": "10.0.0.9",
        "X_Tinhso_Consumer": "so-yte/his",
        "X_Original_URL": "/admin",
        "X_SSL_Client_Cert": "forged",
        "Content_Length": "999",
        # Not a look-alike of anything reserved: forwarded as it is.
        "X_Request_Tag": "kept",
        "X-Api-Version": "2",
    }
    response = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", sent)
    assert response.status == 200, response.body
    seen = world.provider.seen[-1].headers
    forwarded = {name for name in seen if name.replace("_", "-").startswith("x-")}
    assert forwarded == {
        "x-forwarded-for",
        "x-tinhso-consumer",
        "x-tinhso-request-id",
        "x-tinhso-grant",
        "x_request_tag",
        "x-api-version",
    }
    assert "forwarded" not in seen and "content_length" not in seen
    assert seen["x-forwarded-for"] == "127.0.0.1"  # the gateway's own, from the socket
    assert seen["x-tinhso-consumer"] == "ubnd-viet-yen/mot-cua"
    assert seen["x_request_tag"] == "kept"


def _raw_exchange(url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is on a new connection; the one answer, read until the close."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as client:
        client.sendall(data)
        answer = b""
        while part := client.recv(65536):
            answer += part
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    names = [line.split(":", 1)[0].lower() for line in lines[1:]]
    assert len(names) == len(set(names)), head  # each header once (one Content-Length)
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_http_layer_refusals_are_answered_audited_and_counted(
    gateway_world: GatewayWorld,
) -> None:
    """Malformed heads, 431, 505, a head too slow, a broken chunked body: each gets its
    problem+json answer and its audit record (with the consumer its token names) and is
    counted in the metrics; none reaches the provider."""
    world = gateway_world
    token = world.token().encode()
    gateway = world.gateway(TINHSO_GATEWAY_HEAD_SECONDS="1")
    target = f"/{SERVICE}/records/1".encode()
    auth = b"authorization: Bearer %s\r\n" % token
    many = b"".join(b"x-%d: 1\r\n" % i for i in range(100))
    cases = [
        (
            b"GET %s HTTP/1.1\r\nhost: gw\r\n%s%s\r\n" % (target, auth, auth),
            400,
            "duplicate_header",
        ),
        (b"GET %s HTTP/1.1\r\n%s\r\n" % (target, auth), 400, "host_missing"),
        (
            b"GET %s HTTP/2.0\r\nhost: gw\r\n%s\r\n" % (target, auth),
            505,
            "http_version_not_supported",
        ),
        (
            b"GET %s HTTP/1.1\r\nhost: gw\r\n%s%s\r\n" % (target, auth, many),
            431,
            "headers_too_large",
        ),
        (
            b"POST %s HTTP/1.1\r\nhost: gw\r\n%scontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n3\r\n{}\n\r\nzz\r\n" % (target, auth),
            400,
            "malformed_body",
        ),
        (b"GET %s HTTP/1.1\r\nhost: gw\r\n%sx-a: never" % (target, auth), 408, "head_timeout"),
    ]
    before_provider = len(world.provider.seen)
    before_records = len(world.records())
    for data, status, code in cases:
        answer, headers, body = _raw_exchange(gateway.url, data)
        assert (answer, headers["content-type"]) == (status, "application/problem+json"), body
        problem = json.loads(body)
        assert problem["code"] == code and set(problem["message"]) == {"vi", "en"}
        assert problem["request_id"] == headers["x-tinhso-request-id"]
        assert headers["connection"] == "close"
    assert len(world.provider.seen) == before_provider
    records = world.records()[before_records:]
    assert [(r["status"], r["outcome"]) for r in records] == [(s, c) for _, s, c in cases]
    assert {r["consumer"] for r in records} == {"ubnd-viet-yen/mot-cua"}
    assert {r["path"] for r in records} == {target.decode()}
    assert world.verify().ok
    status, metrics = _metrics(gateway.url)
    assert status == 200
    for _, _, code in cases:
        assert any(
            f'code="{code}"' in line and line.endswith(" 1.0")
            for line in metrics.splitlines()
            if line.startswith("tinhso_gateway_errors_total{")
        ), code


def _metrics(url: str) -> tuple[int, str]:
    response = raw_request(url, "GET", "/metrics")
    return response.status, response.body.decode()


def test_oversize_body_and_header_injection(gateway_world: GatewayWorld) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    before = len(world.provider.seen)
    big = b'{"ma_dinh_danh": "001099012345", "pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = raw_request(gateway.url, "POST", f"/{SERVICE}/records/1", auth, big)
    assert response.status == 413
    assert response.json()["code"] == "body_too_large"
    # Chunked (no Content-Length): counted while read.
    chunked = {**auth, "Transfer-Encoding": "chunked"}
    payload = (
        b"".join(b"%x\r\n%s\r\n" % (64 * 1024, b"y" * 64 * 1024) for _ in range(20)) + b"0\r\n\r\n"
    )
    response = raw_request(gateway.url, "POST", f"/{SERVICE}/records/1", chunked, payload)
    assert response.status == 413
    # A consumer may not speak for another system through the gateway's own headers.
    spoof = {**auth, "X-Tinhso-Consumer": "so-yte/his"}
    response = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", spoof)
    assert response.status == 400
    assert response.json()["code"] == "reserved_header"
    assert len(world.provider.seen) == before
    # Hop-by-hop headers (also those the Connection header names) and credentials stay here.
    hop = {
        "Authorization": f"Bearer {token}",
        "Connection": "X-Secret-Hop",
        "X-Secret-Hop": "1",
        "Proxy-Authorization": "Basic eDp5",
        "Forwarded": "for=10.0.0.1",
        "X-Forwarded-For": "10.0.0.1",
    }
    assert raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", hop).status == 200
    seen = world.provider.seen[-1].headers
    for name in ("authorization", "x-secret-hop", "proxy-authorization", "forwarded"):
        assert name not in seen
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-tinhso-consumer"] == "ubnd-viet-yen/mot-cua"
    records = world.records()
    assert [(r["status"], r["outcome"]) for r in records] == [
        (413, "body_too_large"),
        (413, "body_too_large"),
        (400, "reserved_header"),
        (200, "ok"),
    ]
    assert all(r["consumer"] == "ubnd-viet-yen/mot-cua" for r in records)
    assert world.verify().ok


@pytest.mark.parametrize("workers", [1])
def test_revocation_reaches_two_gateways_within_two_seconds(
    gateway_world: GatewayWorld, workers: int
) -> None:
    world = gateway_world
    token = world.token()
    auth = {"Authorization": f"Bearer {token}"}
    gateways = [world.gateway(workers), world.gateway(workers)]
    for gateway in gateways:
        assert raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth).status == 200
    response = world.client.post(
        f"{API}/grants/{world.grant_id}/revoke",
        json={"reason": "Hết thời hạn thỏa thuận"},
        headers=world.world.provider_admin.headers,
    )
    assert response.status_code == 200, response.text
    revoked_at = time.monotonic()
    pending = set(range(len(gateways)))
    while pending and time.monotonic() - revoked_at < 2.0 + 1.0:  # 2 s promised + margin
        for index in list(pending):
            answer = raw_request(gateways[index].url, "GET", f"/{SERVICE}/citizens/1", auth)
            if answer.status == 403:
                assert answer.json()["code"] == "no_grant"
                pending.discard(index)
        time.sleep(0.05)
    assert not pending, "a gateway still honoured the revoked grant"
    refused = [r for r in world.records() if r["status"] == 403]
    assert len(refused) == 2
    assert {r["node"] for r in world.records()} and world.verify().ok
