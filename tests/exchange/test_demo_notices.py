"""`tinhso demo` announces its exchange registry changes on Redis (a real redis-server), as the
control plane and `tinhso keys` do, so gateways reload at once instead of waiting for a poll.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
import redis
from typer.testing import CliRunner

from tests.conftest import TEST_SECRET
from tests.support.services import RedisServer
from tinhso.cli import app
from tinhso.core.db import make_sessionmaker
from tinhso.exchange import notices, repository

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

PROMISE_SECONDS = 2.0  # a notice must arrive within this
QUIET_SECONDS = 0.5  # listening for a notice that must not come


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer()
    server.start(tmp_path / "redis")
    yield server
    notices.close_publishers()
    server.stop()


@pytest.fixture
def subscriber(redis_server: RedisServer) -> Iterator[Any]:
    """A real subscriber on the notice channel, subscribed before the command runs."""
    client: Any = redis.Redis.from_url(redis_server.url)  # pub/sub methods are untyped
    pubsub = client.pubsub()
    pubsub.subscribe(notices.CHANNEL)
    confirmation = pubsub.get_message(timeout=PROMISE_SECONDS)
    assert confirmation is not None
    assert confirmation["type"] == "subscribe"
    yield pubsub
    pubsub.close()
    client.close()


def _next_notice(pubsub: Any, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message is not None and message["type"] == "message":
            return int(message["data"])
    return None


def test_the_demo_command_announces_its_registry_changes(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    redis_server: RedisServer,
    subscriber: Any,
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("TINHSO_REDIS_URL", redis_server.url)
    result = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    with make_sessionmaker(engine)() as session:
        version = repository.state_version(session)
    assert version > 0
    assert _next_notice(subscriber, PROMISE_SECONDS) == version  # the committed version
    assert _next_notice(subscriber, QUIET_SECONDS) is None  # one transaction, one notice


def test_the_demo_command_without_redis_still_loads(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    subscriber: Any,
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("TINHSO_REDIS_URL", raising=False)
    result = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    with make_sessionmaker(engine)() as session:
        assert repository.state_version(session) > 0
    assert _next_notice(subscriber, QUIET_SECONDS) is None
