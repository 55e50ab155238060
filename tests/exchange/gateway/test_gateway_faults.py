"""Provider failures: 502/504 within the timeout plus a margin, and the circuit breaker (per
service; a consumer's slowness never counts on it); the provider's address checked when the
gateway connects; answers the consumer left or the provider trickled."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import time

from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    Drip,
    GatewayWorld,
    free_port,
    gateway_world,
    provider,
    raw_request,
    read_answer,
    second_consumer,
    settings,
    start_upload,
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


def test_breakers_are_per_service(gateway_world: GatewayWorld) -> None:  # noqa: F811
    """Two services of one provider host: one failing does not cut off the other."""
    world = gateway_world
    world.add_service("mot", world.provider.url + "/api")
    world.add_service("hai", world.provider.url + "/api")
    token = world.token()
    gateway = world.gateway()  # breaker: 5 failures, 1 s cooldown (harness settings)
    for _ in range(5):
        assert _get(gateway.url, "/so-yte/his/mot/v1/citizens/reset", token)[0] == 502
    assert _get(gateway.url, "/so-yte/his/mot/v1/citizens/1", token)[:2] == (
        503,
        "provider_unavailable",
    )
    assert _get(gateway.url, "/so-yte/his/hai/v1/citizens/1", token)[0] == 200
    assert _get(gateway.url, f"/{SERVICE}/citizens/1", token)[0] == 200


def test_a_consumer_drip_feeding_uploads_cannot_make_others_see_503(
    gateway_world: GatewayWorld,  # noqa: F811
) -> None:
    """Seven uploads sent a byte at a time, each taking twice the service's timeout (one
    never finished): the provider is not blamed, its breaker stays closed, and another
    consumer is served throughout."""
    world = gateway_world
    world.add_service(
        "tep", world.provider.url + "/api", request_schema=None, timeout_ms=2000, openapi=None
    )
    other = second_consumer(world, "tep")
    token = world.token()
    gateway = world.gateway(TINHSO_GATEWAY_BODY_TOTAL_SECONDS="6")
    target = "/so-yte/his/tep/v1/records/9"
    finished = [start_upload(gateway.port, token, target, chunked=True) for _ in range(6)]
    endless = start_upload(gateway.port, token, target, chunked=True)
    drips = [Drip(c, chunked=True, every=0.5, parts=8) for c in finished]
    drips.append(Drip(endless, chunked=True, every=0.5))
    for drip in drips:
        drip.start()
    seen_by_other: list[int] = []
    try:
        deadline = time.monotonic() + 6.5
        while time.monotonic() < deadline:
            seen_by_other.append(_get(gateway.url, "/so-yte/his/tep/v1/citizens/1", other)[0])
            time.sleep(0.3)
        # (Not all 200 on principle: two loaded cores can make one of them a real 504.)
        assert 503 not in seen_by_other, seen_by_other
        assert seen_by_other.count(200) >= len(seen_by_other) - 1, seen_by_other
        answers = [read_answer(c, 10) for c in finished]
        assert [status for status, _ in answers] == [200] * 6
        assert {json.loads(body)["body"] for _, body in answers} == {"x" * 8}
        status, body = read_answer(endless, 6 + MARGIN)
        assert (status, json.loads(body)["code"]) == (408, "body_timeout")
    finally:
        for drip in drips:
            drip.stopped.set()
        for client in (*finished, endless):
            client.close()
    assert _get(gateway.url, "/so-yte/his/tep/v1/citizens/2", other)[0] == 200
    records = world.records()
    assert "provider_unavailable" not in [r["outcome"] for r in records]
    uploads = sorted(r["outcome"] for r in records if r["method"] == "POST")
    assert uploads == ["body_timeout"] + ["ok"] * 6
    assert world.verify().ok


def test_the_providers_address_is_checked_when_the_gateway_connects(
    gateway_world: GatewayWorld,  # noqa: F811
) -> None:
    """A service registered by a name (and one by address) while loopback was allowed: a
    gateway whose policy refuses loopback resolves and checks the address itself when it
    connects, and never reaches the provider; the refusal is not counted on the breaker."""
    world = gateway_world
    world.add_service("ten", f"http://localhost:{world.provider.port}/api")
    token = world.token()
    allowed = world.gateway()
    assert _get(allowed.url, "/so-yte/his/ten/v1/citizens/1", token)[0] == 200
    calls = len(world.provider.seen)
    strict = world.gateway(TINHSO_EXCHANGE_ALLOW_LOOPBACK="false")
    for target in ("/so-yte/his/ten/v1/citizens/1", f"/{SERVICE}/citizens/1") * 4:
        assert _get(strict.url, target, token)[:2] == (502, "provider_address_refused")
    assert len(world.provider.seen) == calls
    outcomes = [r["outcome"] for r in world.records()]
    assert outcomes == ["ok"] + ["provider_address_refused"] * 8
    assert world.verify().ok


def test_a_consumer_leaving_mid_answer_is_recorded_as_what_was_delivered(
    gateway_world: GatewayWorld,  # noqa: F811
) -> None:
    """The consumer reads part of a long streamed answer and goes away: the record says 499 and
    the bytes sent (not 200 and all of them), and the gateway stops reading the provider."""
    world = gateway_world
    token = world.token()
    gateway = world.gateway()
    client = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    client.sendall(
        b"GET /%s/citizens/drip HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer %s\r\n\r\n"
        % (SERVICE.encode(), token.encode())
    )
    received = b""
    while len(received) < 200_000:
        received += client.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 ")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # gone (a reset), mid-answer
    deadline = time.monotonic() + 5
    while not world.provider.server.answers or not world.records():
        assert time.monotonic() < deadline, (world.provider.server.answers, world.records())
        time.sleep(0.1)
    # The provider was cut off early: of 200 parts (4 s), it wrote only the first ones.
    [(end, parts)] = world.provider.server.answers
    assert end == "cut"
    assert parts < 150
    [record] = world.records()
    assert (record["status"], record["outcome"]) == (499, "client_disconnected")
    assert 0 < record["bytes_out"] < parts * 65536
    assert world.verify().ok


def test_a_provider_trickling_its_answer_is_cut_by_an_overall_deadline(
    gateway_world: GatewayWorld,  # noqa: F811
) -> None:
    """300 KB at once, then a byte every 200 ms (well within the 1 s per read): the answer is
    cut at the total of the provider's time, and recorded as the provider's timeout."""
    world = gateway_world
    world.add_service("cham", world.provider.url + "/api", timeout_ms=1000)
    token = world.token()
    gateway = world.gateway(TINHSO_GATEWAY_RESPONSE_TOTAL_SECONDS="2")
    started = time.monotonic()
    client = socket.create_connection(("127.0.0.1", gateway.port), timeout=25)
    received = b""
    with client:
        client.sendall(
            b"GET /so-yte/his/cham/v1/citizens/trickle HTTP/1.1\r\nhost: gw\r\n"
            b"authorization: Bearer %s\r\n\r\n" % token.encode()
        )
        try:
            while part := client.recv(65536):
                received += part
        except ConnectionResetError:
            pass
    elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 200 ")
    assert len(received.partition(b"\r\n\r\n")[2]) < 300_100  # cut: never whole
    assert elapsed < 2 + MARGIN
    deadline = time.monotonic() + 5
    while not world.records():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    [record] = world.records()
    assert record["outcome"] == "provider_timeout"
    assert world.verify().ok


def test_a_slow_body_does_not_hold_the_half_open_probe(
    gateway_world: GatewayWorld,  # noqa: F811
) -> None:
    """After the breaker opened and cooled down, a consumer's slow upload is not the probe that
    everybody else waits on: the breaker is asked once the body is in."""
    world = gateway_world
    other = second_consumer(world, "echo")
    token = world.token()
    gateway = world.gateway(TINHSO_GATEWAY_BODY_TOTAL_SECONDS="10")
    for _ in range(5):
        assert _get(gateway.url, f"/{SERVICE}/citizens/reset", token)[0] == 502
    assert _get(gateway.url, f"/{SERVICE}/citizens/1", other)[0] == 503
    time.sleep(1.5)  # the cooldown (1 s): the next exchange is the probe
    slow = start_upload(gateway.port, token, f"/{SERVICE}/records/9", chunked=False, declared=32)
    drip = Drip(slow, chunked=False, every=0.5)
    drip.start()
    try:
        time.sleep(0.5)
        assert _get(gateway.url, f"/{SERVICE}/citizens/1", other)[0] == 200
    finally:
        drip.stopped.set()
        slow.close()
