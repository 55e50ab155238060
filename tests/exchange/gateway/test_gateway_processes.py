"""The gateway's supervisor and its workers: workers never outlive their supervisor."""

from __future__ import annotations

import gc
import json
import os
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.exchange.conftest import consumer_secret, exchange_world  # noqa: F401 - fixtures
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayProcess,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    settings,
)
from tinhso.exchange.gateway import processes


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing paren.
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_workers_die_with_a_killed_supervisor(gateway_world: GatewayWorld) -> None:  # noqa: F811
    world = gateway_world
    gateway = world.gateway(workers=2)
    assert gateway.proc is not None
    workers = _children(gateway.proc.pid)
    assert len(workers) == 2
    os.kill(gateway.proc.pid, signal.SIGKILL)  # the supervisor alone, not its process group
    gateway.proc.wait(10)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "workers outlived their supervisor"
    # The port is free again: a new gateway starts on it and serves.
    again = GatewayProcess(
        world.database_url, world.data_dir / "again", 1, port=gateway.port
    ).start()
    world.gateways.append(again)
    token = world.token()
    answer = raw_request(
        again.url, "GET", f"/{SERVICE}/citizens/1", {"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200


_NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_gateway_starts_without_the_database_from_its_signed_copy(
    gateway_world: GatewayWorld,  # noqa: F811
) -> None:
    """Started while the database is unreachable, a node serves from the registry snapshot it
    saved on its disk, says so, spools the records; the node's next process on the database
    replays them. Past the maximum age, it refuses."""
    world = gateway_world
    token = world.token()
    auth = {"Authorization": f"Bearer {token}"}
    first = world.gateway()
    assert raw_request(first.url, "GET", f"/{SERVICE}/citizens/1", auth).status == 200
    status, health = _health(first.url)
    assert (status, health["status"], health["registry"]) == (200, "ok", "database")
    first.stop()
    saved = json.loads((first.data_dir / "registry-snapshot.json").read_text())
    saved_at = datetime.fromisoformat(json.loads(saved["snapshot"])["loaded_at"])

    # The database is away (an address where nothing answers): the saved copy serves.
    max_age = (datetime.now(UTC) - saved_at).total_seconds() + 12
    cut_off = GatewayProcess(
        _NOWHERE,
        first.data_dir,
        extra_env={"TINHSO_GATEWAY_REGISTRY_MAX_AGE_SECONDS": str(max_age)},
    )
    world.gateways.append(cut_off)
    cut_off.start()
    status, health = _health(cut_off.url)
    assert (status, health["status"], health["registry"]) == (200, "degraded", "disk")
    assert health["registry_version"] > 0
    assert raw_request(cut_off.url, "GET", f"/{SERVICE}/citizens/2", auth).status == 200
    assert _health(cut_off.url)[1]["audit"] == "spooling"  # its record is on the disk
    assert "serving the signed snapshot saved at" in cut_off.log_text()
    # Past the maximum age (counted from when the database last confirmed it): refused.
    deadline = time.monotonic() + 30
    while _health(cut_off.url)[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _health(cut_off.url) == (503, {"status": "unavailable", "registry": None})
    assert raw_request(cut_off.url, "GET", f"/{SERVICE}/citizens/3", auth).status == 503
    assert "refusing exchanges until it is back" in cut_off.log_text()
    cut_off.stop()

    # A copy older than the maximum age is not even started from.
    too_old = GatewayProcess(
        _NOWHERE, first.data_dir, extra_env={"TINHSO_GATEWAY_REGISTRY_MAX_AGE_SECONDS": "1"}
    )
    world.gateways.append(too_old)
    with (too_old.data_dir / f"gateway-{too_old.port}.log").open("wb") as log:
        too_old._spawn(log)
    deadline = time.monotonic() + 20
    while "more than the maximum age" not in too_old.log_text() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert "more than the maximum age" in too_old.log_text()
    too_old.stop()

    # Back on the database, the node's next process replays what was spooled meanwhile.
    again = GatewayProcess(world.database_url, first.data_dir)
    world.gateways.append(again)
    again.start()
    deadline = time.monotonic() + 20
    while len(world.records()) < 3 and time.monotonic() < deadline:
        time.sleep(0.25)
    records = world.records()
    assert [r["status"] for r in records] == [200, 200, 503]
    assert world.verify().ok


def test_a_worker_settles_its_heap_after_start_up() -> None:
    """What start-up built is frozen out of the collector's walks, and the young generation
    collects less often, so full collections stay out of the answers' tail latency
    (bench/results/gateway-2026-12-06-gc-freeze*)."""
    threshold = gc.get_threshold()
    try:
        built_at_start_up = [{"kept": n} for n in range(1_000)]
        processes._settle_the_heap()
        assert gc.get_freeze_count() >= len(built_at_start_up)
        assert gc.get_threshold()[0] == processes._YOUNG_THRESHOLD > threshold[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
