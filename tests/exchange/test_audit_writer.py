"""The node's audit writer process: every worker's records in one chain; if the writer dies,
the workers write for themselves until the supervisor has started it again; nothing is lost."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

from tests.exchange.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    settings,
)


def _writer_pid(node: str) -> int:
    """Records written by the node's writer name it ``<host>-<pid>``."""
    host, _, pid = node.rpartition("-")
    assert host == socket.gethostname(), node
    return int(pid)


def test_workers_records_go_through_one_writer(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway(workers=2)
    auth = {"Authorization": f"Bearer {token}"}
    ids = set()
    for _ in range(30):  # new connections: both workers answer some
        response = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth)
        assert response.status == 200
        ids.add(response.headers["x-tinhso-request-id"])
    records = world.records()
    assert {r["request_id"] for r in records} == ids
    assert len(records) == len(ids)
    # One writer (not one per worker): a process of the supervisor's beside the two workers.
    assert len({r["node"] for r in records}) == 1
    children = _children(gateway.proc.pid if gateway.proc else 0)
    assert _writer_pid(records[0]["node"]) in children
    assert len(children) == 3
    assert world.verify().ok


def _children(supervisor: int) -> set[int]:
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as children:  # noqa: PTH123
        return {int(pid) for pid in children.read().split()}


def test_killed_writer_loses_no_record_and_is_started_again(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway(workers=2)
    auth = {"Authorization": f"Bearer {token}"}
    first = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth)
    assert first.status == 200
    writer = _writer_pid(world.records()[0]["node"])
    supervisor = gateway.proc.pid if gateway.proc else 0
    before = _children(supervisor)

    answered: list[str] = []
    failures: list[int] = []

    def load() -> None:
        for _ in range(300):
            response = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth)
            if response.status == 200:
                answered.append(response.headers["x-tinhso-request-id"])
            else:
                failures.append(response.status)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    os.kill(writer, signal.SIGSTOP)  # batches pile up unanswered ...
    time.sleep(0.3)
    os.kill(writer, signal.SIGKILL)  # ... and the writer dies with them
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(answered) == 1200
    assert "batches unanswered" in gateway.log_text()
    records = world.records()
    recorded = [r["request_id"] for r in records]
    # Every answered exchange has its record; a batch the writer committed just before it
    # died may have been written again by its worker (twice, never zero times).
    assert set(answered) <= set(recorded)
    assert len(recorded) - len(set(recorded)) <= 64
    assert world.verify().ok
    nodes = {r["node"] for r in records}
    assert len(nodes) > 1  # the workers wrote for themselves meanwhile
    # The supervisor has started a new writer (its one new child); the workers go back to it.
    (new_writer,) = _children(supervisor) - before
    deadline = time.monotonic() + 15
    while _writer_pid(world.records()[-1]["node"]) != new_writer:
        assert time.monotonic() < deadline, {r["node"] for r in world.records()[-5:]}
        response = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth)
        assert response.status == 200
        time.sleep(0.2)
    assert new_writer != writer
    assert world.verify().ok
