"""Rate limit, daily quota (in memory; in Redis shared by gateways), the metrics endpoint, and
what one consumer's request bodies may take (a total deadline, a bound on those in progress)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    Drip,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    read_answer,
    settings,
    start_upload,
)
from tests.support.services import RedisServer

if TYPE_CHECKING:
    from pathlib import Path


def test_quota_and_rate_limit_in_memory(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    world.add_service("han-muc", world.provider.url + "/api", grant={"quota_per_day": 3})
    world.add_service(
        "toc-do", world.provider.url + "/api", grant={"rate_per_second": 1, "burst": 2}
    )
    token = world.token()
    gateway = world.gateway()
    auth = {"Authorization": f"Bearer {token}"}
    answers = [
        raw_request(gateway.url, "GET", "/so-yte/his/han-muc/v1/citizens/1", auth) for _ in range(5)
    ]
    assert [a.status for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["code"] == "quota_exceeded"
    assert 0 < int(answers[3].headers["retry-after"]) <= 86400
    answers = [
        raw_request(gateway.url, "GET", "/so-yte/his/toc-do/v1/citizens/1", auth) for _ in range(6)
    ]
    limited = [a for a in answers if a.status == 429]
    assert answers[0].status == 200
    assert limited, "a burst of 2 at 1 request/s cannot serve 6 quick requests"
    assert limited[0].json()["code"] == "rate_limited"
    assert int(limited[0].headers["retry-after"]) >= 1
    outcomes = [r["outcome"] for r in world.records()]
    assert outcomes.count("quota_exceeded") == 2
    assert outcomes.count("rate_limited") == len(limited)
    assert world.verify().ok


def test_quota_shared_through_redis_by_two_gateways(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    world = gateway_world
    world.add_service("han-muc", world.provider.url + "/api", grant={"quota_per_day": 4})
    redis = RedisServer()
    redis.start(tmp_path / "redis")
    try:
        token = world.token()
        gateways = [world.gateway(TINHSO_REDIS_URL=redis.url) for _ in range(2)]
        auth = {"Authorization": f"Bearer {token}"}
        statuses = [
            raw_request(
                gateways[i % 2].url, "GET", "/so-yte/his/han-muc/v1/citizens/1", auth
            ).status
            for i in range(8)
        ]
        # Four in total across both gateways (each alone would have allowed four).
        assert statuses == [200, 200, 200, 200, 429, 429, 429, 429]
    finally:
        for gateway in world.gateways:
            gateway.stop()
        redis.stop()


def test_metrics_endpoint(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway(workers=2)  # /metrics sums both workers whichever one answers
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(6):
        assert raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth).status == 200
    assert raw_request(gateway.url, "GET", f"/{SERVICE}/admin", auth).status == 403
    expected = (
        'tinhso_gateway_requests_total{consumer="ubnd-viet-yen/mot-cua",'
        f'service="{SERVICE}",status="200"}} 6.0'
    )
    deadline = time.monotonic() + 5  # each worker flushes its counts once a second
    while expected not in (metrics := raw_request(gateway.url, "GET", "/metrics").body.decode()):
        assert time.monotonic() < deadline, metrics
        time.sleep(0.2)
    assert 'code="not_granted"' in metrics
    assert "tinhso_gateway_request_seconds_bucket" in metrics
    # With a metrics token, loopback alone is not enough.
    guarded = world.gateway(TINHSO_METRICS_TOKEN="bi-mat-do-luong")
    assert raw_request(guarded.url, "GET", "/metrics").status == 403
    answer = raw_request(
        guarded.url, "GET", "/metrics", {"Authorization": "Bearer bi-mat-do-luong"}
    )
    assert answer.status == 200


MARGIN = 3.0  # seconds on top of a deadline (2 noisy cores)


def test_a_trickled_body_is_cut_with_408_and_slow_bodies_are_bounded_per_consumer(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    """Bodies sent one byte a second (well within the idle time per part): each is cut with a
    408 at its total deadline, buffered (schema) or streamed (none), and while two are in
    progress a third from the same consumer is refused at once, not held."""
    world = gateway_world
    world.add_service(
        "tep", world.provider.url + "/api", request_schema=None, max_request_bytes=4 * 1024 * 1024
    )
    token = world.token()
    gateway = world.gateway(
        TINHSO_GATEWAY_BODY_TOTAL_SECONDS="3", TINHSO_GATEWAY_UPLOADS_PER_CONSUMER="2"
    )
    started = time.monotonic()
    buffered = start_upload(gateway.port, token, f"/{SERVICE}/records/9", chunked=False)
    streamed = start_upload(gateway.port, token, "/so-yte/his/tep/v1/records/9", chunked=True)
    drips = [Drip(buffered, chunked=False), Drip(streamed, chunked=True)]
    for drip in drips:
        drip.start()
    try:
        time.sleep(1.0)  # both are in progress
        third = start_upload(gateway.port, token, f"/{SERVICE}/records/9", chunked=False)
        third.sendall(b"{")
        status, body = read_answer(third, 3)
        assert (status, json.loads(body)["code"]) == (429, "too_many_uploads")
        third.close()
        for client in (buffered, streamed):
            status, body = read_answer(client, 3 + MARGIN)
            assert (status, json.loads(body)["code"]) == (408, "body_timeout")
        assert time.monotonic() - started < 3 + MARGIN
    finally:
        for drip in drips:
            drip.stopped.set()
        buffered.close()
        streamed.close()
    # Nothing is left counted: a body that comes at once passes.
    answer = raw_request(
        gateway.url,
        "POST",
        f"/{SERVICE}/records/9",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        b'{"ma_dinh_danh": "012345678901"}',
    )
    assert answer.status == 200, answer.body
    # The provider never got a slow body whole.
    assert [s.body for s in world.provider.seen if s.method == "POST"] == [
        b'{"ma_dinh_danh": "012345678901"}'
    ]
    outcomes = sorted((r["status"], r["outcome"]) for r in world.records())
    assert outcomes == [
        (200, "ok"),
        (408, "body_timeout"),
        (408, "body_timeout"),
        (429, "too_many_uploads"),
    ]
    assert world.verify().ok
