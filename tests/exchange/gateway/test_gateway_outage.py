"""The database stops under load (PostgreSQL, a server of its own): the gateway keeps serving
from its cached registry, spools audit records, and replays them when the database is back.

The outage lasts 30 s, as in the acceptance scenario.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from tests.exchange.conftest import consumer_secret, exchange_world  # noqa: F401 - fixtures
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    settings,
)
from tests.support.services import PostgresServer
from tinhso.core import migrations
from tinhso.core.db import build_engine, make_sessionmaker
from tinhso.exchange.audit import proof as audit_proof
from tinhso.exchange.models import AuditRecord
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

OUTAGE_SECONDS = 30.0


@pytest.fixture(scope="module")
def outage_server(
    db_dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresServer]:
    if db_dialect != "postgresql":
        pytest.skip("stopping the database under load is a PostgreSQL scenario")
    server = PostgresServer()
    server.start(tmp_path_factory.mktemp("outage-postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def database_url(outage_server: PostgresServer) -> str:
    return outage_server.url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    migrations.upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        unit_service.import_catalogue(session)
    yield engine
    engine.dispose()


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditRecord)) or 0)


def test_database_outage_under_load(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    outage_server: PostgresServer,
    tmp_path: Path,
) -> None:
    world = gateway_world
    token = world.token()
    gateway = world.gateway(workers=2)
    auth = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status = raw_request(gateway.url, "GET", f"/{SERVICE}/citizens/1", auth).status
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        outage_server.pause()
        during_start = len(statuses)
        time.sleep(OUTAGE_SECONDS)
        during = statuses[during_start:]
        outage_server.resume()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert during, "no request was answered while the database was down"
    assert set(statuses) == {200}  # the cached registry kept serving throughout
    sent = len(statuses)
    deadline = time.monotonic() + 30
    while _count(world.engine) < sent and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _count(world.engine) == sent
    result = audit_proof.verify(world.engine)
    assert result.ok and result.records == sent
    assert "spooling" in gateway.log_text()  # records of the outage went through the spool
    assert not any(path.stat().st_size for path in (world.data_dir).rglob("audit-spool/*.jsonl"))
