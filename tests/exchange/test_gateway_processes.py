"""The gateway's supervisor and its workers: workers never outlive their supervisor."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.exchange.conftest import consumer_secret, exchange_world  # noqa: F401 - fixtures
from tests.exchange.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayProcess,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    settings,
)


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
