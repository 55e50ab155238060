"""The gateway's in-memory copy of the exchange registry, refreshed when it changes.

Each gateway process holds one :class:`~tinhso.exchange.policy.ExchangeSnapshot` (and the
validators compiled from it) and swaps it atomically when the registry's state version moves:
- PostgreSQL: LISTEN on ``tinhso_exchange`` (the control plane NOTIFYs with every change) wakes
  the watcher at once;
- Redis (``redis_url``, from ``settings.redis_url``; any database, SQLite included): SUBSCRIBE
  on ``tinhso:exchange:registry``, where the control plane publishes every committed change
  (:mod:`tinhso.exchange.notices`), wakes the watcher at once; after each (re)subscription the
  watcher also checks the version, so changes made while Redis was away are not missed;
- every database: the watcher also reads the state version every ``poll_seconds`` (a one-row
  query), which is all SQLite without Redis needs and the safety net behind a lost notice.
A revoked grant therefore stops working on every node within ``poll_seconds`` + load time
(default 0.5 s; the platform promises 2 s). If the database is unreachable, the last snapshot
keeps serving, for at most ``max_age_seconds`` since the database last confirmed it; after
that the gateway refuses exchanges (503) until the database answers again. A full reload also
happens every ``full_reload_seconds`` (expiring keys).
Both listeners reconnect on failure (Redis with a growing pause, up to 30 s).

Every snapshot loaded from the database is also saved, signed, on the node's disk
(:mod:`tinhso.exchange.gateway.saved_snapshot`); a process that starts while the database is
unreachable starts from that copy if it is authentic and younger than ``max_age_seconds``,
and says so (log, ``source``, the gateway's ``/healthz``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from tinhso.core.db import make_sessionmaker
from tinhso.exchange import notices, repository
from tinhso.exchange.gateway import saved_snapshot
from tinhso.exchange.policy import ExchangeSnapshot
from tinhso.exchange.snapshot import exchange_snapshot
from tinhso.exchange.standard import Validators

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_RESUBSCRIBE_FIRST = 0.5  # seconds before the first reconnection to Redis; doubles up to:
_RESUBSCRIBE_MAX = 30.0


class RegistryCache:
    def __init__(
        self,
        engine: Engine,
        issuer: str | None,
        *,
        poll_seconds: float = 0.5,
        full_reload_seconds: float = 60.0,
        redis_url: str | None = None,
        saved_copy: Path | None = None,
        secret_key: str | None = None,
        max_age_seconds: float = 3600.0,
    ) -> None:
        """``saved_copy``: where this node keeps the signed copy of the last snapshot (signed
        with a key derived from ``secret_key``); ``max_age_seconds``: how long a snapshot may
        serve after the database last confirmed it (the copy on disk included)."""
        self.engine = engine
        self.issuer = issuer
        self.redis_url = redis_url
        self.poll_seconds = poll_seconds
        self.full_reload_seconds = full_reload_seconds
        self.snapshot: ExchangeSnapshot | None = None
        self.validators = Validators([])
        self.reloads = 0
        self.failures = 0
        self.notices = 0  # change notices received from Redis
        self.saved_copy = saved_copy if secret_key else None
        self.max_age_seconds = max_age_seconds
        self._secret_key = secret_key or ""
        # Where the snapshot in use comes from ("database", or "disk" when the process started
        # without the database) and when (epoch seconds) the database last confirmed it.
        self.source: str | None = None
        self.confirmed_at = 0.0
        self._sessions = make_sessionmaker(engine)
        self._loaded_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self.changed: list[Any] = []  # callbacks(snapshot) after each swap

    # -- loading (blocking, runs in a thread) -----------------------------------------------------
    def _version(self) -> int:
        with self._sessions() as session:
            return repository.state_version(session)

    def _load(self) -> tuple[ExchangeSnapshot, Validators]:
        with self._sessions() as session:
            snapshot = exchange_snapshot(session, issuer=self.issuer)
        if self.saved_copy is not None:
            try:
                saved_snapshot.save(self.saved_copy, snapshot, self._secret_key)
            except OSError as error:
                log.warning(
                    "registry: could not save the snapshot to %s: %s", self.saved_copy, error
                )
        return snapshot, Validators(list(snapshot.services.values()))

    def _load_saved(self) -> tuple[ExchangeSnapshot, Validators]:
        assert self.saved_copy is not None  # noqa: S101 - checked by the caller
        snapshot = saved_snapshot.load(self.saved_copy, self._secret_key)
        age = time.time() - snapshot.loaded_at.timestamp()
        if age > self.max_age_seconds:
            msg = (
                f"the saved registry snapshot is {age:.0f} s old, more than the maximum age "
                f"({self.max_age_seconds:.0f} s, TINHSO_GATEWAY_REGISTRY_MAX_AGE_SECONDS)"
            )
            raise saved_snapshot.SavedSnapshotError(msg)
        return snapshot, Validators(list(snapshot.services.values()))

    @property
    def age_seconds(self) -> float:
        """Seconds since the database last confirmed the snapshot in use."""
        return max(0.0, time.time() - self.confirmed_at)

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the version moved (or ``force``); False if the database is unreachable."""
        try:
            if not force and self.snapshot is not None:
                version = await asyncio.to_thread(self._version)
                if version == self.snapshot.version and self.source == "database":
                    self.confirmed_at = time.time()
                    return True
            snapshot, validators = await asyncio.to_thread(self._load)
        except Exception as error:
            self.failures += 1
            if self.failures == 1 or self.failures % 60 == 0:
                log.warning("registry: reload failed, serving the cached snapshot: %s", error)
            return False
        self.failures = 0
        if self.source != "database":
            if self.source is not None:
                log.warning("registry: the database answers again; serving its registry")
            self.source = "database"
        self.confirmed_at = time.time()
        self._use(snapshot, validators)
        return True

    def _use(self, snapshot: ExchangeSnapshot, validators: Validators) -> None:
        self.snapshot, self.validators = snapshot, validators
        self._loaded_at = time.monotonic()
        self.reloads += 1
        log.info(
            "registry: snapshot version %d in use (%d services)",
            snapshot.version,
            len(snapshot.services),
            extra={"registry_version": snapshot.version},
        )
        for callback in self.changed:
            callback(snapshot)

    async def _start_from_saved_copy(self) -> bool:
        """Use the saved copy when the database does not answer at start-up; False if none."""
        if self.saved_copy is None:
            return False
        try:
            snapshot, validators = await asyncio.to_thread(self._load_saved)
        except saved_snapshot.SavedSnapshotError as error:
            log.error("registry: the database is unreachable and %s", error)
            return False
        self.source = "disk"
        self.confirmed_at = snapshot.loaded_at.timestamp()
        self._use(snapshot, validators)
        log.warning(
            "registry: the database is unreachable; serving the signed snapshot saved at %s "
            "(version %d, %.0f s old, refused after %.0f s) until it answers",
            snapshot.loaded_at.isoformat(timespec="seconds"),
            snapshot.version,
            self.age_seconds,
            self.max_age_seconds,
        )
        return True

    def _expire(self) -> None:
        """Stop serving a snapshot the database has not confirmed for ``max_age_seconds``."""
        if self.snapshot is not None and self.age_seconds > self.max_age_seconds:
            log.error(
                "registry: no answer from the database for %.0f s (maximum age %.0f s); "
                "refusing exchanges until it is back",
                self.age_seconds,
                self.max_age_seconds,
            )
            self.snapshot = None
            self.source = None

    # -- watching ---------------------------------------------------------------------------------
    async def start(self, first_load_timeout: float = 30.0) -> None:
        deadline = time.monotonic() + first_load_timeout
        loaded = await self.refresh(force=True) or await self._start_from_saved_copy()
        while not loaded and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            loaded = await self.refresh(force=True)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch(), name="tinhso-registry"))
        if self.engine.dialect.name == "postgresql":
            self._tasks.append(loop.create_task(self._listen(), name="tinhso-registry-listen"))
        if self.redis_url:
            task = self._subscribe(self.redis_url)
            self._tasks.append(loop.create_task(task, name="tinhso-registry-redis"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            stale = time.monotonic() - self._loaded_at > self.full_reload_seconds
            if not await self.refresh(force=stale or self.snapshot is None):
                self._expire()

    async def _listen(self) -> None:
        """LISTEN on PostgreSQL; every notification wakes the watcher (reconnects on failure)."""
        import psycopg  # noqa: PLC0415 - PostgreSQL only

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {repository.NOTIFY_CHANNEL}")
                    async for _notify in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(2.0)

    async def _subscribe(self, url: str) -> None:
        """SUBSCRIBE on Redis; every notice wakes the watcher (reconnects with a growing pause)."""
        import redis.asyncio as redis_asyncio  # noqa: PLC0415 - only when configured
        from redis.asyncio.retry import Retry  # noqa: PLC0415
        from redis.backoff import NoBackoff  # noqa: PLC0415

        where = notices.safe_url(url)
        pause, failing = _RESUBSCRIBE_FIRST, False
        while True:
            # A blocking pub/sub read has no socket timeout; TCP keepalive (on by default)
            # notices a dead peer. Reconnecting is this loop's job, hence no client retries.
            client = redis_asyncio.Redis.from_url(
                url, socket_connect_timeout=5.0, retry=Retry(NoBackoff(), 0)
            )
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(notices.CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self.notices += 1
                        elif message["type"] == "subscribe":
                            if failing:
                                log.info("registry: Redis notices back on %s", where)
                            pause, failing = _RESUBSCRIBE_FIRST, False
                        # A notice, or (re)subscribed: check for changes made meanwhile.
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not failing:
                    log.warning(
                        "registry: Redis notices from %s interrupted, polling meanwhile: %s",
                        where,
                        notices.without_password(str(error) or type(error).__name__, url),
                    )
                failing = True
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RESUBSCRIBE_MAX)
