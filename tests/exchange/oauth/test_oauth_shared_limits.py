"""The token endpoint's per-address limit shared through Redis (a real redis-server) by every
app process and node; without Redis each app counts on its own; with Redis down each app falls
back to its own bucket, logs it once and never logs the Redis password.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any

import pytest
import redis
from fastapi.testclient import TestClient

from tests.conftest import suite_settings
from tests.exchange.conftest import basic_auth
from tests.support.services import RedisServer
from tinhso.app import create_app
from tinhso.core.config import Settings
from tinhso.exchange import notices
from tinhso.exchange.oauth.api import ADDRESS_KEY_PREFIX, AddressLimiter, SharedAddressLimiter

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

PER_MINUTE = 3
ADDRESS = "203.0.113.7"
REDIS_PASSWORD = "mat-khau-redis-bi-mat-9f3c"


class PasswordRedisServer(RedisServer):
    """A private redis-server that requires a password (as production's does)."""

    def _command(self) -> list[str]:
        return [*super()._command(), "--requirepass", REDIS_PASSWORD]

    def _is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port or 0), timeout=0.5) as sock:
                sock.sendall(f"AUTH {REDIS_PASSWORD}\r\nPING\r\n".encode())
                answer = b""
                while b"+PONG" not in answer:
                    chunk = sock.recv(64)
                    if not chunk:
                        return False
                    answer += chunk
                return True
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The suite's settings with a token endpoint limit of 3 requests per minute per address
    (no Redis: the apps under test get their Redis URL explicitly)."""
    return suite_settings(database_url, tmp_path, oauth_rate_per_minute=PER_MINUTE)


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[PasswordRedisServer]:
    server = PasswordRedisServer()
    server.start(tmp_path / "redis-password")
    yield server
    notices.close_publishers()
    server.stop()


@contextlib.contextmanager
def _nodes(
    settings: Settings, engine: Engine, redis_url: str | None, count: int = 2
) -> Iterator[list[tuple[TestClient, Any]]]:
    """``count`` separate control-plane apps (as separate processes or nodes would be), each
    with its own TestClient, all seeing requests from the same client address."""
    node_settings = settings.model_copy(update={"redis_url": redis_url})
    with contextlib.ExitStack() as stack:
        nodes = []
        for _ in range(count):
            app = create_app(node_settings, engine)
            client = stack.enter_context(
                TestClient(app, base_url="http://127.0.0.1", client=(ADDRESS, 50000))
            )
            nodes.append((client, app))
        yield nodes  # each app's shut-down closes its limiter's Redis client


def _token(client: TestClient, client_id: str, secret: str) -> int:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(client_id, secret),
    )
    if response.status_code == 429:
        assert response.json()["error"] == "slow_down"
        assert response.json()["error_description_vi"]
        assert 1 <= int(response.headers["retry-after"]) <= 20
    return response.status_code


def test_app_shutdown_closes_the_shared_limiters_redis_connection(
    settings: Settings,
    engine: Engine,
    redis_server: RedisServer,
    consumer_secret: tuple[str, str],
) -> None:
    probe = redis.Redis.from_url(redis_server.url)
    with _nodes(settings, engine, redis_server.url, count=1) as nodes:
        ((client, _app),) = nodes
        assert _token(client, *consumer_secret) == 200  # the limiter connects to Redis
        during = int(probe.info("clients")["connected_clients"])
    after = int(probe.info("clients")["connected_clients"])
    assert after == during - 1
    probe.close()


def test_two_apps_share_one_budget_per_address_through_redis(
    settings: Settings,
    engine: Engine,
    redis_server: RedisServer,
    consumer_secret: tuple[str, str],
) -> None:
    client_id, secret = consumer_secret
    probe = redis.Redis.from_url(redis_server.url)
    connections = int(probe.info("stats")["total_connections_received"])  # startup, probe
    with _nodes(settings, engine, redis_server.url) as nodes:
        (first, first_app), (second, second_app) = nodes
        # Spread over both apps, the address gets PER_MINUTE requests in all, not per app.
        answers = [_token(client, client_id, secret) for client in (first, second, first)]
        assert answers == [200] * PER_MINUTE
        assert _token(second, client_id, secret) == 429
        assert _token(first, client_id, secret) == 429
        # A failed authentication is refused too once the budget is spent (nothing looked at).
        assert _token(second, client_id, secret + "x") == 429

        # One limiter per app, made once and kept (never one per request).
        limiters = [first_app.state.oauth_limiter, second_app.state.oauth_limiter]
        assert all(isinstance(limiter, SharedAddressLimiter) for limiter in limiters)
        assert not any(limiter.degraded for limiter in limiters)
        assert limiters[0] is not limiters[1]
        scripted = [c for c in probe.client_list() if c["cmd"].startswith(("evalsha", "eval"))]
        assert len(scripted) == 2

        # Another address still has its own budget.
        with TestClient(
            first_app, base_url="http://127.0.0.1", client=("198.51.100.9", 50000)
        ) as other:
            assert _token(other, client_id, secret) == 200

    try:
        # One connection per app for all these requests, not one per request (and one for the
        # registry notice of the signing key made for the first token).
        assert int(probe.info("stats")["total_connections_received"]) - connections <= 3
        key = ADDRESS_KEY_PREFIX + ADDRESS
        assert probe.exists(key) == 1
        assert 0 < int(probe.ttl(key)) <= 61  # an idle address's bucket does not stay
        assert float(probe.hget(key, "t") or -1) < 1.0
    finally:
        probe.close()


def test_without_redis_each_app_counts_on_its_own(
    settings: Settings, engine: Engine, consumer_secret: tuple[str, str]
) -> None:
    client_id, secret = consumer_secret
    with _nodes(settings, engine, None) as nodes:
        (first, first_app), (second, second_app) = nodes
        answers = [_token(client, client_id, secret) for client in (first, second) * PER_MINUTE]
        assert answers == [200] * (2 * PER_MINUTE)  # each app has the whole budget
        assert _token(first, client_id, secret) == 429
        assert _token(second, client_id, secret) == 429
        assert isinstance(first_app.state.oauth_limiter, AddressLimiter)
        assert isinstance(second_app.state.oauth_limiter, AddressLimiter)


def test_with_redis_down_the_endpoint_answers_and_the_log_keeps_the_password(
    settings: Settings,
    engine: Engine,
    password_redis: PasswordRedisServer,
    consumer_secret: tuple[str, str],
) -> None:
    client_id, secret = consumer_secret
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record)

    with _nodes(settings, engine, password_redis.url, count=1) as [(client, app)]:
        handler = Collect(logging.DEBUG)
        root = logging.getLogger()
        root.addHandler(handler)  # after create_app, which sets up logging afresh
        try:
            assert _token(client, client_id, secret) == 200  # counted in Redis (password)
            password_redis.pause()
            # Redis is away: the endpoint still answers, limited by this app's own bucket
            # (whose budget is whole: the request above was counted in Redis).
            answers = [_token(client, client_id, secret) for _ in range(PER_MINUTE + 1)]
            assert answers == [200] * PER_MINUTE + [429]
            assert app.state.oauth_limiter.degraded
        finally:
            root.removeHandler(handler)

    texts = [formatter.format(record) for record in logged]
    assert not any(REDIS_PASSWORD in text for text in texts), texts
    warnings = [
        text
        for record, text in zip(logged, texts, strict=True)
        if record.name == "tinhso.exchange.oauth.api" and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, texts  # once per outage, not once per request
    assert "unreachable" in warnings[0]
    assert "127.0.0.1" in warnings[0]


def test_the_shared_limiter_counts_in_redis_again_once_it_is_back(
    redis_server: RedisServer,
) -> None:
    limiter = SharedAddressLimiter(redis_server.url, per_minute=2, retry_seconds=0)
    probe = redis.Redis.from_url(redis_server.url)

    def degraded() -> bool:  # read afresh each time (not narrowed like an attribute)
        return limiter.degraded

    try:
        assert limiter.check("a") == 0
        assert limiter.check("a") == 0
        assert 25 <= limiter.check("a") <= 30  # one token every 30 s, as AddressLimiter
        assert limiter.check("b") == 0
        assert not degraded()

        redis_server.pause()
        assert limiter.check("a") == 0  # this process's own (full) bucket answers
        assert degraded()

        redis_server.resume()  # an empty Redis (no persistence): buckets start full
        assert limiter.check("c") == 0
        assert not degraded()
        assert probe.exists(ADDRESS_KEY_PREFIX + "c") == 1
        assert probe.exists(ADDRESS_KEY_PREFIX + "a") == 0  # counted locally while away
    finally:
        limiter.close()
        probe.close()


def test_a_malformed_redis_url_leaves_the_limit_per_process_and_hides_the_password(
    settings: Settings, engine: Engine, consumer_secret: tuple[str, str]
) -> None:
    client_id, secret = consumer_secret
    malformed = f"http://:{REDIS_PASSWORD}@127.0.0.1:6379/0"
    logged: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(f"{record.name} {record.getMessage()}")

    with _nodes(settings, engine, malformed, count=1) as [(client, app)]:
        handler = Collect(logging.DEBUG)
        logging.getLogger().addHandler(handler)
        try:
            answers = [_token(client, client_id, secret) for _ in range(PER_MINUTE + 1)]
        finally:
            logging.getLogger().removeHandler(handler)
        assert answers == [200] * PER_MINUTE + [429]  # still limited, in this process
        assert isinstance(app.state.oauth_limiter, AddressLimiter)
    assert any(line.startswith("tinhso.exchange.oauth.api ") for line in logged), logged
    assert not any(REDIS_PASSWORD in line for line in logged), logged
