"""Registry change notices over Redis pub/sub (a real redis-server): published by the control
plane after the commit (never before, never on rollback), and waking gateways' registry caches
without waiting for their poll, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
import redis
import redis.asyncio as redis_asyncio
from fastapi.testclient import TestClient

from tests.conftest import TEST_SECRET, suite_settings
from tests.exchange.conftest import API, Listener, basic_auth
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    free_port,
    gateway_world,
    provider,
    raw_request,
)
from tests.support.services import RedisServer
from tinhso.app import create_app
from tinhso.core.config import Settings
from tinhso.core.db import make_sessionmaker
from tinhso.exchange import notices, repository
from tinhso.exchange.gateway.registry_cache import RegistryCache

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from tests.exchange.conftest import ExchangeWorld

# How long to wait for something that must happen (a notice, a reload); the platform promises
# that a change reaches every gateway within 2 seconds.
PROMISE_SECONDS = 2.0
# How long to listen for a notice that must NOT come (a PUBLISH reaches a subscriber in well
# under a millisecond on loopback).
QUIET_SECONDS = 0.5


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, redis_url: str) -> Settings:
    """The suite's settings with Redis notices on (and loopback providers, for the gateway)."""
    return suite_settings(database_url, tmp_path, exchange_allow_loopback=True, redis_url=redis_url)


@pytest.fixture
def announcing(engine: Engine, redis_url: str) -> Callable[[], Session]:
    """Sessions like the control plane's (with Redis notices)."""
    sessions = make_sessionmaker(engine)
    notices.announce_changes(sessions, redis_url)
    return sessions


def test_a_revocation_through_the_api_publishes_the_committed_version(
    client: TestClient,
    exchange_world: ExchangeWorld,
    approved_grant: dict[str, Any],
    listener: Listener,
    session: Session,
) -> None:
    before = repository.state_version(session)
    session.rollback()
    response = client.post(
        f"{API}/grants/{approved_grant['id']}/revoke",
        json={"reason": "Hết nhu cầu khai thác"},
        headers=exchange_world.provider_admin.headers,
    )
    assert response.status_code == 200, response.text
    version = repository.state_version(session)
    assert version > before
    assert listener.next(PROMISE_SECONDS) == version
    assert listener.next(QUIET_SECONDS) is None  # one change, one notice


def test_published_only_after_the_commit_and_never_on_rollback(
    announcing: Callable[[], Session], listener: Listener
) -> None:
    with announcing() as session:
        assert repository.bump_state(session) > 0
        session.flush()
        assert listener.next(QUIET_SECONDS) is None  # not before the commit
        session.rollback()
        session.commit()  # a later commit of the same session has nothing to announce
    assert listener.next(QUIET_SECONDS) is None
    with announcing() as session:
        with session.begin_nested():
            repository.bump_state(session)
        assert listener.next(QUIET_SECONDS) is None  # a released savepoint is not a commit
        session.rollback()
    assert listener.next(QUIET_SECONDS) is None
    with announcing() as session, session.begin():
        first = repository.bump_state(session)
        last = repository.bump_state(session)  # two changes in one transaction: one notice
    assert last == first + 1
    assert listener.next(PROMISE_SECONDS) == last
    assert listener.next(QUIET_SECONDS) is None


def test_sessions_without_redis_publish_nothing(engine: Engine, listener: Listener) -> None:
    with make_sessionmaker(engine).begin() as session:
        assert repository.bump_state(session) > 0
    assert listener.next(QUIET_SECONDS) is None


def test_an_unreachable_redis_never_fails_the_change_nor_leaks_its_password(
    settings: Settings,
    engine: Engine,
    exchange_world: ExchangeWorld,
    approved_grant: dict[str, Any],
    session: Session,
) -> None:
    unreachable = f"redis://:mat-khau-redis-bi-mat@127.0.0.1:{free_port()}/0"
    logged: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logging.getLogger(notices.__name__).addHandler(handler)
    try:
        broken = create_app(settings.model_copy(update={"redis_url": unreachable}), engine)
        with TestClient(broken, base_url="http://127.0.0.1") as client:
            response = client.post(
                f"{API}/grants/{approved_grant['id']}/revoke",
                json={"reason": "Hết nhu cầu khai thác"},
                headers=exchange_world.provider_admin.headers,
            )
    finally:
        logging.getLogger(notices.__name__).removeHandler(handler)
    assert response.status_code == 200, response.text
    assert response.json()["revoked_reason"] == "Hết nhu cầu khai thác"
    version = repository.state_version(session)
    assert len(logged) == 1
    assert f"could not publish version {version}" in logged[0]
    assert "127.0.0.1" in logged[0]
    assert "mat-khau-redis-bi-mat" not in logged[0]


async def _idle(_cache: RegistryCache) -> None:
    await asyncio.Event().wait()


async def _until(check: Callable[[], Any], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_notice_wakes_the_registry_cache_without_waiting_for_its_poll(
    engine: Engine,
    redis_url: str,
    announcing: Callable[[], Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PostgreSQL's LISTEN would wake the cache too: keep only the Redis path under test.
    monkeypatch.setattr(RegistryCache, "_listen", _idle)
    cache = RegistryCache(
        engine, None, poll_seconds=3600, full_reload_seconds=3600, redis_url=redis_url
    )
    probe = redis_asyncio.Redis.from_url(redis_url)
    await cache.start()
    try:
        assert cache.snapshot is not None
        loaded = cache.snapshot.version

        async def subscribed() -> bool:
            counts = dict(await probe.pubsub_numsub(notices.CHANNEL))
            return bool(counts.get(notices.CHANNEL.encode()))

        assert await _until(subscribed, PROMISE_SECONDS)

        def change() -> int:
            with announcing() as session, session.begin():
                return repository.bump_state(session)

        version = await asyncio.to_thread(change)
        assert version > loaded

        async def reloaded() -> bool:
            snapshot = cache.snapshot
            return snapshot is not None and snapshot.version == version and cache.notices > 0

        assert await _until(reloaded, PROMISE_SECONDS), (cache.notices, cache.snapshot)
    finally:
        await cache.stop()
        await probe.aclose()


async def test_after_redis_restarts_notices_flow_again(
    engine: Engine,
    redis_server: RedisServer,
    announcing: Callable[[], Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(RegistryCache, "_listen", _idle)  # only the Redis path under test
    cache = RegistryCache(
        engine, None, poll_seconds=3600, full_reload_seconds=3600, redis_url=redis_server.url
    )
    probe = redis_asyncio.Redis.from_url(redis_server.url)

    async def subscribed() -> bool:
        with contextlib.suppress(redis.ConnectionError):
            counts = dict(await probe.pubsub_numsub(notices.CHANNEL))
            return bool(counts.get(notices.CHANNEL.encode()))
        return False

    def change() -> int:
        with announcing() as session, session.begin():
            return repository.bump_state(session)

    await cache.start()
    try:
        assert await _until(subscribed, PROMISE_SECONDS)
        first = await asyncio.to_thread(change)  # the publisher now holds a connection
        assert await _until(lambda: _has(cache, first), PROMISE_SECONDS)
        await asyncio.to_thread(redis_server.pause, crash=True)
        missed = await asyncio.to_thread(change)  # Redis away: committed, not announced
        await asyncio.to_thread(redis_server.resume)
        # Resubscribed (within the reconnection pause); the check after resubscribing finds
        # the change made while Redis was away.
        assert await _until(subscribed, 15)
        assert await _until(lambda: _has(cache, missed), PROMISE_SECONDS)
        received = cache.notices
        last = await asyncio.to_thread(change)  # the publisher reconnects by itself
        assert await _until(lambda: _has(cache, last, received + 1), PROMISE_SECONDS)
    finally:
        await cache.stop()
        await probe.aclose()


async def _has(cache: RegistryCache, version: int, notices_at_least: int = 1) -> bool:
    snapshot = cache.snapshot
    return (
        snapshot is not None and snapshot.version == version and cache.notices >= notices_at_least
    )


def test_a_gateway_refuses_a_revoked_grant_at_once_through_redis(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> None:
    world = gateway_world
    token = world.token()
    # Polling once an hour: only the Redis notice (or, on PostgreSQL, NOTIFY) can be in time.
    gateway = world.gateway(TINHSO_REDIS_URL=redis_url, TINHSO_GATEWAY_POLL_SECONDS="3600")
    auth = {"Authorization": f"Bearer {token}"}
    target = f"/{SERVICE}/citizens/1"
    assert raw_request(gateway.url, "GET", target, auth).status == 200
    probe = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 15
        while not dict(probe.pubsub_numsub(notices.CHANNEL)).get(notices.CHANNEL.encode()):
            assert time.monotonic() < deadline, "the gateway never subscribed"
            time.sleep(0.02)
    finally:
        probe.close()
    response = world.client.post(
        f"{API}/grants/{world.grant_id}/revoke",
        json={"reason": "Chấm dứt chia sẻ"},
        headers=world.world.provider_admin.headers,
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + PROMISE_SECONDS
    while (status := raw_request(gateway.url, "GET", target, auth).status) == 200:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 403


def test_a_key_rotation_from_the_cli_is_announced(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    redis_url: str,
    listener: Listener,
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415 - this test only

    from tinhso.cli import app  # noqa: PLC0415

    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("TINHSO_REDIS_URL", redis_url)
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    with make_sessionmaker(engine)() as session:
        expected = repository.state_version(session)
    assert listener.next(PROMISE_SECONDS) == expected


# -- registry changes that affect admission: announced like a grant revocation -------------------
SYSTEMS = "/api/v1/systems"
CONSUMER = "ubnd-viet-yen/mot-cua"
PROVIDER = "so-yte/his"


def _set_status(client: TestClient, world: ExchangeWorld, system: str, status: str) -> None:
    response = client.patch(
        f"{SYSTEMS}/{system}", json={"status": status}, headers=world.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


@pytest.mark.parametrize(
    ("system", "steps"),
    [
        (CONSUMER, ["suspended"]),
        (CONSUMER, ["retired"]),
        (PROVIDER, ["suspended"]),
        (PROVIDER, ["retired"]),
        (CONSUMER, ["suspended", "active"]),  # back in operation: usable again at once
    ],
    ids=[
        "consumer-suspended",
        "consumer-retired",
        "provider-suspended",
        "provider-retired",
        "consumer-reactivated",
    ],
)
def test_every_system_status_change_is_announced(
    client: TestClient,
    exchange_world: ExchangeWorld,
    listener: Listener,
    session: Session,
    system: str,
    steps: list[str],
) -> None:
    for status in steps:
        before = repository.state_version(session)
        session.rollback()
        _set_status(client, exchange_world, system, status)
        version = repository.state_version(session)
        session.rollback()
        assert version > before, status
        assert listener.next(PROMISE_SECONDS) == version, status
        assert listener.next(QUIET_SECONDS) is None  # one change, one notice


def test_a_registry_change_that_admission_ignores_is_not_announced(
    client: TestClient, exchange_world: ExchangeWorld, listener: Listener, session: Session
) -> None:
    before = repository.state_version(session)
    session.rollback()
    response = client.patch(
        f"{SYSTEMS}/{CONSUMER}",
        json={"name_vi": "Hệ thống một cửa điện tử"},
        headers=exchange_world.admin.headers,
    )
    assert response.status_code == 200, response.text
    assert repository.state_version(session) == before
    assert listener.next(QUIET_SECONDS) is None


def _until_status(
    url: str, target: str, auth: dict[str, str], wanted: Callable[[int], bool]
) -> int:
    deadline = time.monotonic() + PROMISE_SECONDS
    while not wanted(status := raw_request(url, "GET", target, auth).status):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return status


def _until_subscribed(redis_url: str) -> None:
    """Wait until a gateway listens for notices (a notice sent before would be missed)."""
    probe = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 15
        while not dict(probe.pubsub_numsub(notices.CHANNEL)).get(notices.CHANNEL.encode()):
            assert time.monotonic() < deadline, "the gateway never subscribed"
            time.sleep(0.02)
    finally:
        probe.close()


def test_a_gateway_follows_system_suspension_and_retirement_at_once_through_redis(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> None:
    """Polling once an hour (the full reload comes after a minute): only the notice is in time."""
    world = gateway_world
    token = world.token()
    gateway = world.gateway(TINHSO_REDIS_URL=redis_url, TINHSO_GATEWAY_POLL_SECONDS="3600")
    auth = {"Authorization": f"Bearer {token}"}
    target = f"/{SERVICE}/citizens/1"
    assert raw_request(gateway.url, "GET", target, auth).status == 200
    _until_subscribed(redis_url)
    refused = lambda status: status != 200  # noqa: E731
    served = lambda status: status == 200  # noqa: E731
    # The consumer is suspended: its (still unexpired) token no longer admits it (its
    # credentials are no longer usable).
    _set_status(world.client, world.world, CONSUMER, "suspended")
    assert _until_status(gateway.url, target, auth, refused) == 401
    # Back in operation: served again.
    _set_status(world.client, world.world, CONSUMER, "active")
    assert _until_status(gateway.url, target, auth, served) == 200
    # The provider is retired: its services are no longer served.
    _set_status(world.client, world.world, PROVIDER, "retired")
    assert _until_status(gateway.url, target, auth, refused) == 404
    response = raw_request(gateway.url, "GET", target, auth)
    assert response.json()["code"] == "service_unavailable"


def test_suspending_resuming_and_narrowing_a_grant_reach_the_gateway_at_once(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> None:
    world = gateway_world
    auth = {"Authorization": f"Bearer {world.token()}"}
    gateway = world.gateway(TINHSO_REDIS_URL=redis_url, TINHSO_GATEWAY_POLL_SECONDS="3600")
    target = f"/{SERVICE}/citizens/1"
    assert raw_request(gateway.url, "GET", target, auth).status == 200
    admin = world.world.provider_admin.headers
    consumer_admin = world.world.consumer_admin.headers
    grant = f"{API}/grants/{world.grant_id}"

    no_reason = world.client.post(f"{grant}/suspend", json={"reason": ""}, headers=admin)
    assert no_reason.status_code == 422
    suspended = world.client.post(
        f"{grant}/suspend", json={"reason": "Nghi lộ thông tin xác thực"}, headers=consumer_admin
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["suspended_reason"] == "Nghi lộ thông tin xác thực"
    assert _until_status(gateway.url, target, auth, lambda status: status == 403) == 403
    again = world.client.post(f"{grant}/suspend", json={"reason": "Lần nữa"}, headers=admin)
    assert again.status_code == 409
    resumed = world.client.post(f"{grant}/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.json()["suspended_at"] is None
    assert _until_status(gateway.url, target, auth, lambda status: status == 200) == 200

    wider = world.client.post(
        f"{grant}/narrow", json={"allowed_methods": ["GET", "DELETE"]}, headers=admin
    )
    assert wider.status_code == 422  # narrowing never widens
    by_consumer = world.client.post(
        f"{grant}/narrow", json={"allowed_methods": ["POST"]}, headers=consumer_admin
    )
    assert by_consumer.status_code == 403  # the provider decides what it grants
    narrowed = world.client.post(
        f"{grant}/narrow", json={"allowed_methods": ["POST"]}, headers=admin
    )
    assert narrowed.status_code == 200 and narrowed.json()["allowed_methods"] == ["POST"]
    assert _until_status(gateway.url, target, auth, lambda status: status == 403) == 403


def test_retiring_a_service_and_revoking_a_credential_reach_the_gateway_at_once(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> None:
    """Issue 11 item 2: the other registry changes that end admission, each within 2 s with
    the gateway polling once an hour (only the notice is in time): a service retired, then
    the consumer's client credential revoked while its access token has not expired."""
    world = gateway_world
    world.add_service("doi", world.provider.url + "/api")
    auth = {"Authorization": f"Bearer {world.token()}"}
    gateway = world.gateway(TINHSO_REDIS_URL=redis_url, TINHSO_GATEWAY_POLL_SECONDS="3600")
    echo, other = f"/{SERVICE}/citizens/1", "/so-yte/his/doi/v1/citizens/1"
    assert raw_request(gateway.url, "GET", echo, auth).status == 200
    assert raw_request(gateway.url, "GET", other, auth).status == 200
    _until_subscribed(redis_url)
    admin = world.world.admin.headers
    for status in ("deprecated", "retired"):
        response = world.client.post(
            f"{API}/services/so-yte/his/doi/v1/status", json={"status": status}, headers=admin
        )
        assert response.status_code == 200, response.text
    assert _until_status(gateway.url, other, auth, lambda status: status != 200) == 404
    assert raw_request(gateway.url, "GET", other, auth).json()["code"] == "service_unavailable"
    assert raw_request(gateway.url, "GET", echo, auth).status == 200  # the other service
    response = world.client.post(
        f"{API}/credentials/{world.client_id}/revoke",
        headers=world.world.consumer_admin.headers,
    )
    assert response.status_code == 200, response.text
    assert _until_status(gateway.url, echo, auth, lambda status: status != 200) == 401


# -- a changed organisation or system code (the names in service paths) --------------------------
def _rename(
    sessions: Callable[[], Session], model: type, old: str, new: str, organisation: str = ""
) -> None:
    """Change a code the way any path outside the API would (CLI, a console): through the ORM
    in a session like the control plane's, which announces what it commits."""
    from sqlalchemy import select  # noqa: PLC0415 - these tests only

    from tinhso.registry.models import InformationSystem, Organisation  # noqa: PLC0415

    with sessions() as session, session.begin():
        row: Organisation | InformationSystem
        if model is Organisation:
            row = session.scalars(select(Organisation).where(Organisation.code == old)).one()
        else:
            row = session.scalars(
                select(InformationSystem)
                .join(Organisation, InformationSystem.organisation_id == Organisation.id)
                .where(Organisation.code == organisation, InformationSystem.code == old)
            ).one()
        row.code = new


@pytest.mark.parametrize("what", ["organisation", "system"])
def test_a_changed_organisation_or_system_code_is_announced(
    announcing: Callable[[], Session],
    exchange_world: ExchangeWorld,
    listener: Listener,
    session: Session,
    what: str,
) -> None:
    from tinhso.registry.models import InformationSystem, Organisation  # noqa: PLC0415

    before = repository.state_version(session)
    session.rollback()
    if what == "organisation":
        _rename(announcing, Organisation, "so-yte", "so-y-te")
    else:
        _rename(announcing, InformationSystem, "his", "his-moi", organisation="so-yte")
    version = repository.state_version(session)
    session.rollback()
    assert version > before
    assert listener.next(PROMISE_SECONDS) == version
    assert listener.next(QUIET_SECONDS) is None  # one change, one notice


def test_a_gateway_follows_changed_organisation_and_system_codes_at_once(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> None:
    """Issue 11 item 2: the provider's organisation code, then its system code, change (the
    names in the service's path): with the gateway polling once an hour, only the notice can
    make the old path unknown and the new one served within 2 s."""
    from tinhso.registry.models import InformationSystem, Organisation  # noqa: PLC0415

    world = gateway_world
    sessions = make_sessionmaker(world.engine)
    notices.announce_changes(sessions, redis_url)
    auth = {"Authorization": f"Bearer {world.token()}"}
    gateway = world.gateway(TINHSO_REDIS_URL=redis_url, TINHSO_GATEWAY_POLL_SECONDS="3600")
    old, renamed, moved = (
        "/so-yte/his/echo/v1/citizens/1",
        "/so-y-te/his/echo/v1/citizens/1",
        "/so-y-te/his-moi/echo/v1/citizens/1",
    )
    assert raw_request(gateway.url, "GET", old, auth).status == 200
    assert raw_request(gateway.url, "GET", renamed, auth).status == 404
    _until_subscribed(redis_url)

    _rename(sessions, Organisation, "so-yte", "so-y-te")
    assert _until_status(gateway.url, renamed, auth, lambda status: status == 200) == 200
    assert raw_request(gateway.url, "GET", old, auth).status == 404

    _rename(sessions, InformationSystem, "his", "his-moi", organisation="so-y-te")
    assert _until_status(gateway.url, moved, auth, lambda status: status == 200) == 200
    assert raw_request(gateway.url, "GET", renamed, auth).status == 404


# -- a disabled organisation: neither its consumers nor its services are admitted ---------------
ORGANISATIONS = "/api/v1/organisations"


def _set_disabled(client: TestClient, world: ExchangeWorld, code: str, *, disabled: bool) -> None:
    response = client.patch(
        f"{ORGANISATIONS}/{code}", json={"disabled": disabled}, headers=world.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is disabled


def test_disabling_and_re_enabling_an_organisation_is_announced_by_platform_admins_only(
    client: TestClient, exchange_world: ExchangeWorld, listener: Listener, session: Session
) -> None:
    own_admin = client.patch(
        f"{ORGANISATIONS}/ubnd-viet-yen",
        json={"disabled": True},
        headers=exchange_world.consumer_admin.headers,
    )
    assert own_admin.status_code == 403
    assert "quản trị nền tảng" in own_admin.json()["message"]["vi"]
    assert listener.next(QUIET_SECONDS) is None
    null = client.patch(
        f"{ORGANISATIONS}/ubnd-viet-yen",
        json={"disabled": None},
        headers=exchange_world.admin.headers,
    )
    assert null.status_code == 422
    for disabled in (True, False):
        before = repository.state_version(session)
        session.rollback()
        _set_disabled(client, exchange_world, "ubnd-viet-yen", disabled=disabled)
        version = repository.state_version(session)
        session.rollback()
        assert version > before
        assert listener.next(PROMISE_SECONDS) == version
        assert listener.next(QUIET_SECONDS) is None  # one change, one notice
    listed = client.get(f"{ORGANISATIONS}/ubnd-viet-yen", headers=exchange_world.admin.headers)
    assert listed.status_code == 200 and listed.json()["disabled"] is False


def test_a_gateway_and_the_token_endpoint_follow_a_disabled_organisation_at_once(
    gateway_world: GatewayWorld,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> None:
    """Issue 11 item 2: the consumer's organisation disabled, then re-enabled, then the
    provider's: each reaches a gateway polling once an hour within 2 s, with answers that say
    why (403 organisation_disabled for the consumer, 503 provider_disabled for the service)."""
    world = gateway_world
    token = world.token()
    gateway = world.gateway(TINHSO_REDIS_URL=redis_url, TINHSO_GATEWAY_POLL_SECONDS="3600")
    auth = {"Authorization": f"Bearer {token}"}
    target = f"/{SERVICE}/citizens/1"
    assert raw_request(gateway.url, "GET", target, auth).status == 200
    _until_subscribed(redis_url)

    _set_disabled(world.client, world.world, "ubnd-viet-yen", disabled=True)
    assert _until_status(gateway.url, target, auth, lambda status: status != 200) == 403
    refused = raw_request(gateway.url, "GET", target, auth).json()
    assert refused["code"] == "organisation_disabled"
    assert "vô hiệu hoá" in refused["message"]["vi"]
    assert "disabled" in refused["message"]["en"]
    no_token = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(world.client_id, world.client_secret),
    )
    assert no_token.status_code == 401
    assert no_token.json()["error"] == "invalid_client"
    assert "vô hiệu hoá" in str(no_token.json())

    _set_disabled(world.client, world.world, "ubnd-viet-yen", disabled=False)
    assert _until_status(gateway.url, target, auth, lambda status: status == 200) == 200
    world.token()  # the token endpoint serves it again

    _set_disabled(world.client, world.world, "so-yte", disabled=True)
    assert _until_status(gateway.url, target, auth, lambda status: status != 200) == 503
    unavailable = raw_request(gateway.url, "GET", target, auth).json()
    assert unavailable["code"] == "provider_disabled"
    assert "vô hiệu hoá" in unavailable["message"]["vi"]
    _set_disabled(world.client, world.world, "so-yte", disabled=False)
    assert _until_status(gateway.url, target, auth, lambda status: status == 200) == 200
