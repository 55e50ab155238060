"""A running gateway follows a changed service as it follows a changed grant: the new limits
(response size, base URL) hold from the next request after the change reaches it, without a
restart.
"""

from __future__ import annotations

import time

from tests.exchange.conftest import API
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    GatewayWorld,
    Provider,
    gateway_world,
    provider,
    raw_request,
    settings,
)

# A change reaches every gateway within this (the platform's promise for a revocation).
PROMISE_SECONDS = 2.0
SERVICE = "so-yte/his/doi/v1"
BIG = f"/{SERVICE}/citizens/big"  # the provider answers 2 MiB there


def _change(world: GatewayWorld, **changes: object) -> None:
    response = world.client.patch(
        f"{API}/services/{SERVICE}", json=changes, headers=world.world.admin.headers
    )
    assert response.status_code == 200, response.text


def _until(url: str, target: str, token: str, status: int) -> tuple[int, str]:
    deadline = time.monotonic() + PROMISE_SECONDS
    while True:
        response = raw_request(url, "GET", target, {"Authorization": f"Bearer {token}"})
        code = response.json()["code"] if response.status >= 400 else ""
        if response.status == status or time.monotonic() > deadline:
            return response.status, code
        time.sleep(0.05)


def test_a_changed_response_limit_holds_without_a_restart(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    world.add_service("doi", world.provider.url + "/api", max_response_bytes=4 * 1024 * 1024)
    token = world.token()
    gateway = world.gateway()
    assert _until(gateway.url, BIG, token, 200) == (200, "")  # 2 MiB under 4 MiB
    _change(world, max_response_bytes=1000)
    assert _until(gateway.url, BIG, token, 502) == (502, "provider_response_too_large")
    _change(world, max_response_bytes=4 * 1024 * 1024)  # and raised again
    assert _until(gateway.url, BIG, token, 200) == (200, "")


def test_a_changed_base_url_is_followed_without_a_restart(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    world.add_service("doi", world.provider.url + "/api")
    token = world.token()
    gateway = world.gateway()
    assert _until(gateway.url, f"/{SERVICE}/citizens/1", token, 200) == (200, "")
    moved = Provider().start()
    try:
        _change(world, base_url=moved.url + "/v2")
        deadline = time.monotonic() + PROMISE_SECONDS
        while not moved.seen and time.monotonic() < deadline:
            response = raw_request(
                gateway.url, "GET", f"/{SERVICE}/citizens/2", {"Authorization": f"Bearer {token}"}
            )
            assert response.status == 200
            time.sleep(0.05)
        assert [seen.path for seen in moved.seen][:1] == ["/v2/citizens/2"]
    finally:
        moved.stop()
