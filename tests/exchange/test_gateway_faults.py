"""Provider failures: 502/504 within the timeout plus a margin, and the circuit breaker."""

from __future__ import annotations

import hashlib
import socket
import time

from tests.exchange.gateway_harness import (  # noqa: F401 - fixtures
    GatewayWorld,
    free_port,
    gateway_world,
    provider,
    raw_request,
    settings,
)

MARGIN = 3.0  # seconds on top of a timeout (2 noisy cores)


def _get(url: str, target: str, token: str) -> tuple[int, str, float]:
    started = time.monotonic()
    response = raw_request(url, "GET", target, {"Authorization": f"Bearer {token}"})
    code = response.json()["code"] if response.status >= 400 else ""
    return response.status, code, time.monotonic() - started


def test_provider_down_slow_reset_garbage(gateway_world: GatewayWorld) -> None:  # noqa: F811
    world = gateway_world
    world.add_service("tat", f"http://127.0.0.1:{free_port()}/api", timeout_ms=1000)
    world.add_service("cham", world.provider.url + "/api", timeout_ms=1000)
    token = world.token()
    gateway = world.gateway()
    world.provider.server.slow_seconds = 3.0

    status, code, elapsed = _get(gateway.url, "/so-yte/his/tat/v1/citizens/1", token)
    assert (status, code) == (502, "provider_error")
    assert elapsed < 1.0 + MARGIN
    status, code, elapsed = _get(gateway.url, "/so-yte/his/cham/v1/citizens/slow", token)
    assert (status, code) == (504, "provider_timeout")
    assert elapsed < 1.0 + MARGIN
    status, code, elapsed = _get(gateway.url, "/so-yte/his/echo/v1/citizens/reset", token)
    assert (status, code) == (502, "provider_error")
    status, code, elapsed = _get(gateway.url, "/so-yte/his/echo/v1/citizens/garbage", token)
    assert (status, code) == (502, "provider_error")
    assert elapsed < 10.0 + MARGIN
    # The gateway itself is fine: a good call still works.
    assert _get(gateway.url, "/so-yte/his/echo/v1/citizens/1", token)[0] == 200

    records = world.records()
    assert [(r["status"], r["outcome"]) for r in records] == [
        (502, "provider_error"),
        (504, "provider_timeout"),
        (502, "provider_error"),
        (502, "provider_error"),
        (200, "ok"),
    ]
    assert world.verify().ok


def test_breaker_opens_and_recovers(gateway_world: GatewayWorld) -> None:  # noqa: F811
    world = gateway_world
    token = world.token()
    gateway = world.gateway()  # breaker: 5 failures, 1 s cooldown (harness settings)
    for _ in range(5):
        assert _get(gateway.url, "/so-yte/his/echo/v1/citizens/reset", token)[0] == 502
    calls = len(world.provider.seen)
    status, code, _ = _get(gateway.url, "/so-yte/his/echo/v1/citizens/1", token)
    assert (status, code) == (503, "provider_unavailable")
    assert len(world.provider.seen) == calls  # open: the provider is not even tried
    deadline = time.monotonic() + 1.0 + MARGIN
    status = 503
    while status == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
        status = _get(gateway.url, "/so-yte/his/echo/v1/citizens/1", token)[0]
    assert status == 200  # half-open probe succeeded: closed again
    assert _get(gateway.url, "/so-yte/his/echo/v1/citizens/2", token)[0] == 200
    assert world.verify().ok


def test_size_limits_and_streamed_bodies(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    world.add_service(
        "tep", world.provider.url + "/api", request_schema=None, max_request_bytes=4 * 1024 * 1024
    )
    world.add_service("nho", world.provider.url + "/api", max_response_bytes=1000)
    token = world.token()
    gateway = world.gateway()
    auth = {"Authorization": f"Bearer {token}"}
    # A 2 MiB upload without a schema is streamed through (chunked, never held whole).
    body = bytes(range(256)) * (8 * 1024)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
        for i in range(0, len(body), 65536)
    )
    response = raw_request(
        gateway.url,
        "POST",
        "/so-yte/his/tep/v1/records/9",
        {**auth, "Transfer-Encoding": "chunked"},
        chunked + b"0\r\n\r\n",
    )
    assert response.status == 200
    assert world.provider.seen[-1].body == body
    # A response over the service's limit is not passed on.
    status, code, _ = _get(gateway.url, "/so-yte/his/nho/v1/citizens/big", token)
    assert (status, code) == (502, "provider_response_too_large")
    records = world.records()
    assert records[0]["bytes_in"] == len(body)
    assert records[0]["request_sha256"] == hashlib.sha256(body).hexdigest()
    assert records[1]["outcome"] == "provider_response_too_large"
    assert world.verify().ok


def test_a_body_the_consumer_abandons_is_never_forwarded(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    """Buffered (schema) and streamed (no schema) bodies: the consumer sends part of what it
    declared and goes away; the provider gets nothing, or an incomplete chunked body it
    cannot take for a whole one, and the audit record says so."""
    world = gateway_world
    world.add_service(
        "tep", world.provider.url + "/api", request_schema=None, max_request_bytes=4 * 1024 * 1024
    )
    token = world.token()
    gateway = world.gateway()
    for service, declared in (("echo", 1000), ("tep", 3 * 1024 * 1024)):
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as client:
            client.sendall(
                b"POST /so-yte/his/%s/v1/records/9 HTTP/1.1\r\nhost: gw\r\n"
                b"authorization: Bearer %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % (service.encode(), token.encode(), declared)
            )
            client.sendall(b'{"ma_dinh_danh": "0' + b"1" * 300_000 if service == "tep" else b"{")
            time.sleep(0.3)
        deadline = time.monotonic() + 5
        while len(world.records()) < (1 if service == "echo" else 2):
            assert time.monotonic() < deadline, world.records()
            time.sleep(0.1)
    assert [s.path for s in world.provider.seen if s.method == "POST" and s.body] == []
    records = world.records()
    assert [(r["status"], r["outcome"]) for r in records] == [(499, "client_disconnected")] * 2
    assert world.verify().ok
