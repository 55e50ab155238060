"""`tinhso demo` announces its exchange registry changes on Redis (a real redis-server), as the
control plane and `tinhso keys` do, so gateways reload at once instead of waiting for a poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from tests.conftest import TEST_SECRET
from tests.exchange.conftest import Listener
from tests.support.services import RedisServer
from tinhso.cli import app
from tinhso.core.db import make_sessionmaker
from tinhso.exchange import repository

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

PROMISE_SECONDS = 2.0  # a notice must arrive within this
QUIET_SECONDS = 0.5  # listening for a notice that must not come


def test_the_demo_command_announces_its_registry_changes(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    redis_server: RedisServer,
    listener: Listener,
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
    assert listener.next(PROMISE_SECONDS) == version  # the committed version
    assert listener.next(QUIET_SECONDS) is None  # one transaction, one notice


def test_the_demo_command_without_redis_still_loads(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    listener: Listener,
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("TINHSO_REDIS_URL", raising=False)
    result = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    with make_sessionmaker(engine)() as session:
        assert repository.state_version(session) > 0
    assert listener.next(QUIET_SECONDS) is None
