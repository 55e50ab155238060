"""The data plane: a raw ASGI app that checks and forwards exchanges to providers.

``/{org}/{system}/{service}/{version}/{rest...}`` -> the provider's ``base_url`` + ``rest``;
what happens to one exchange is :mod:`tinhso.exchange.gateway.forwarding`. This module holds what a
worker process keeps between requests (:class:`Gateway`: registry snapshot, token cache,
limiters, provider pools and breakers, audit log, metrics), the ASGI callable with its
lifespan, and :func:`serve`. Nothing touches the database on the request path except the
grouped audit write.

Serve with ``tinhso gateway --workers N`` (:mod:`tinhso.exchange.gateway.processes`: the
gateway's own HTTP/1.1 server on uvloop) or any ASGI server: ``tinhso.exchange.gateway.app:app``
reads settings (its ``gateway`` section: ``TINHSO_GATEWAY_*``) from the environment and
``.env`` once, at start-up.
Also answers ``/healthz`` and ``/metrics`` (Prometheus; loopback or ``TINHSO_METRICS_TOKEN``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import shutil
import ssl
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import values

from tinhso.core.config import GatewaySection, Settings, load_settings
from tinhso.core.db import engine_from_settings
from tinhso.exchange.audit.chain import load_signer
from tinhso.exchange.audit.log import AuditLog
from tinhso.exchange.audit.witness import NodeWitness
from tinhso.exchange.gateway import saved_snapshot
from tinhso.exchange.gateway.admission import TokenCache
from tinhso.exchange.gateway.breaker import Breaker
from tinhso.exchange.gateway.client_certificates import ClientCertificates
from tinhso.exchange.gateway.forwarding import (
    Receive,
    Scope,
    Send,
    handle,
    new_request_ids,
    refuse_unparsed,
)
from tinhso.exchange.gateway.http.body import Uploads
from tinhso.exchange.gateway.http.server import Limits
from tinhso.exchange.gateway.limits import LocalLimiter, RedisLimiter
from tinhso.exchange.gateway.metrics import MULTIPROCESS_ENV, Metrics, multiprocess_dir
from tinhso.exchange.gateway.registry_cache import RegistryCache
from tinhso.exchange.gateway.upstream import UpstreamPool
from tinhso.exchange.netpolicy import Destination, NetworkPolicy

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from sqlalchemy.engine import Engine

    from tinhso.exchange.gateway.http.server import Refused
    from tinhso.exchange.policy import ExchangeSnapshot, ServiceEntry

log = logging.getLogger(__name__)

_SIGNER_RETRY_SECONDS = 5.0


def connection_limits(section: GatewaySection) -> Limits:
    """What one consumer connection may take: the server's :class:`Limits`, with those the
    gateway section sets (``TINHSO_GATEWAY_MAX_HEAD_BYTES``, ...) instead of their defaults."""
    chosen = {f.name: getattr(section, f.name, None) for f in fields(Limits)}
    return Limits(**{name: value for name, value in chosen.items() if value is not None})


@dataclass
class _Route:
    pool: UpstreamPool
    prefix: bytes  # base URL path, no trailing slash
    breaker: Breaker


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class Gateway:
    """Everything of one worker process (one event loop)."""

    def __init__(self, settings: Settings, options: GatewaySection, engine: Engine) -> None:
        self.settings, self.options, self.engine = settings, options, engine
        self.registry = RegistryCache(
            engine,
            settings.base_url,
            poll_seconds=options.poll_seconds,
            redis_url=settings.redis_url,
            saved_copy=settings.data_dir / saved_snapshot.FILE_NAME,
            secret_key=settings.secret_key.get_secret_value(),
            max_age_seconds=options.registry_max_age_seconds,
        )
        self.tokens = TokenCache(options.token_cache_entries)
        self.certificates = ClientCertificates(
            options.trusted_proxies, options.client_certificate_header
        )
        self.local_limiter = LocalLimiter()
        self.redis_limiter = RedisLimiter(settings.redis_url) if settings.redis_url else None
        self.audit = AuditLog(
            engine,
            settings.data_dir,
            node=options.node,
            checkpoint_seconds=options.checkpoint_seconds,
            orphan_seconds=options.audit_orphan_seconds,
            linger=options.audit_linger_seconds,
            witness=NodeWitness(settings.data_dir, settings.redis_url),
        )
        self.metrics = Metrics()
        self.uploads = Uploads(options.uploads_per_consumer, options.body_total_seconds)
        # Checked again when connecting (DNS rebinding), with the settings registration used.
        self.network_policy = NetworkPolicy.from_settings(settings)
        self._routes: dict[tuple[int, str, int], _Route] = {}
        # Per service and provider origin: one service's failures do not cut off another
        # service of the same host.
        self._breakers: dict[tuple[int, str], Breaker] = {}
        self._tls = ssl.create_default_context()
        self._kids: frozenset[str] = frozenset()
        new_request_ids()  # a forked worker gets its own
        self._background: set[asyncio.Task[None]] = set()
        self._metrics_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        try:
            self.audit.signer = await asyncio.to_thread(load_signer, self.engine, self.settings)
        except Exception as error:
            log.warning("gateway: no signing key for checkpoints yet: %s", error)
        if self.audit.signer is None:  # no key yet, or no database: keep trying
            self._in_background(self._await_signer())
        self.audit.start()
        self.registry.changed.append(self._keys_changed)
        self.registry.changed.append(self._services_changed)
        await self.registry.start()
        self._flush_metrics()
        snapshot = self.registry.snapshot
        log.info(
            "gateway worker started (registry version %s from %s)",
            snapshot.version if snapshot is not None else "-",
            self.registry.source,
        )

    def _flush_metrics(self) -> None:
        self.metrics.flush()
        self._metrics_timer = asyncio.get_running_loop().call_later(1.0, self._flush_metrics)

    def _keys_changed(self, snapshot: ExchangeSnapshot) -> None:
        """Sign checkpoints with the newly active key after a rotation."""
        kids = frozenset(snapshot.public_keys)
        if kids != self._kids:
            self._kids = kids
            self._in_background(self._reload_signer())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _services_changed(self, snapshot: ExchangeSnapshot) -> None:
        """Forget the routes built from a service's former settings (base URL, response limit):
        a changed service takes effect on the next request, as a changed grant does. Their pools
        close once their exchanges in flight have finished."""
        current = {_route_key(service) for service in snapshot.services.values()}
        for key in [key for key in self._routes if key not in current]:
            task = asyncio.get_running_loop().create_task(self._routes.pop(key).pool.close())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _reload_signer(self) -> None:
        try:
            self.audit.signer = await asyncio.to_thread(load_signer, self.engine, self.settings)
        except Exception as error:
            log.warning("gateway: could not reload the signing key: %s", error)

    async def _await_signer(self) -> None:
        """Load the checkpoint signing key once there is one (and a database to read it from)."""
        while self.audit.signer is None:
            await asyncio.sleep(_SIGNER_RETRY_SECONDS)
            with contextlib.suppress(Exception):
                self.audit.signer = await asyncio.to_thread(load_signer, self.engine, self.settings)

    def health(self) -> tuple[int, bytes]:
        """``/healthz``: whether this process serves, and from what registry."""
        registry = self.registry
        if registry.snapshot is None:
            return 503, b'{"status":"unavailable","registry":null}'
        answer = {
            # "degraded": serving from the copy saved on disk, the database unreachable.
            "status": "ok" if registry.source == "database" else "degraded",
            "registry": registry.source,
            "registry_version": registry.snapshot.version,
            "registry_age_seconds": round(registry.age_seconds, 1),
            "registry_max_age_seconds": registry.max_age_seconds,
            "audit": "spooling" if self.audit.stats.spool_pending else "ok",
        }
        return 200, json.dumps(answer, separators=(",", ":")).encode()

    async def stop(self) -> None:
        if self._metrics_timer is not None:
            self._metrics_timer.cancel()
        self.metrics.flush()
        await self.registry.stop()
        await self.audit.close()
        for route in self._routes.values():
            await route.pool.close()
        if self.redis_limiter is not None:
            await self.redis_limiter.close()
        await asyncio.to_thread(self.engine.dispose)
        log.info("gateway worker stopped")

    def route(self, service: ServiceEntry) -> _Route:
        key = _route_key(service)
        route = self._routes.get(key)
        if route is None:
            url = urlsplit(service.base_url)
            secure = url.scheme == "https"
            port = url.port or (443 if secure else 80)
            of_service = (service.id, f"{url.scheme}://{url.hostname}:{port}")
            breaker = self._breakers.get(of_service)
            if breaker is None:
                breaker = self._breakers[of_service] = Breaker(
                    self.options.breaker_failures,
                    self.options.breaker_cooldown_seconds,
                    name=f"{service.id} {of_service[1]}",
                )
            host = url.hostname or ""
            pool = UpstreamPool(
                host,
                port,
                ssl=self._tls if secure else None,
                server_hostname=url.hostname if secure else None,
                max_response_bytes=service.max_response_bytes,
                stream_seconds=self.options.response_total_seconds,
                destination=Destination(
                    host, port, self.network_policy, ttl=self.options.dns_seconds
                ),
            )
            route = self._routes[key] = _Route(pool, url.path.rstrip("/").encode(), breaker)
        return route


def _route_key(service: ServiceEntry) -> tuple[int, str, int]:
    """Everything a route (its upstream pool) is built from: a change to any is a new route."""
    return (service.id, service.base_url, service.max_response_bytes)


class GatewayApp:
    """The ASGI callable; one :class:`Gateway` per process, created at lifespan start-up."""

    def __init__(
        self, settings: Settings | None = None, options: GatewaySection | None = None
    ) -> None:
        self._settings = settings
        self._options = options
        self.gateway: Gateway | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            gateway = self.gateway
            if gateway is None:
                gateway = await self._startup()
            path = scope["path"]
            if path == "/healthz":
                status, body = gateway.health()
                await _plain(send, status, body, b"application/json")
            elif path == "/metrics":
                await _metrics(gateway, scope, send)
            else:
                await handle(gateway, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def refused(self, refused: Refused) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """Called by the gateway's server for a request it refused itself: counted, audited,
        answered with problem+json (plain text before the gateway has started)."""
        if self.gateway is None:
            return None
        return await refuse_unparsed(self.gateway, refused)

    async def _startup(self) -> Gateway:
        if self.gateway is None:
            # Read once, when this worker starts: nothing on the request path asks the settings.
            settings = self._settings or load_settings()
            options = self._options or settings.gateway
            self.gateway = Gateway(settings, options, engine_from_settings(settings))
            await self.gateway.start()
        return self.gateway

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._startup()
                except Exception as error:
                    log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.gateway is not None:
                    await self.gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = GatewayApp()


async def _plain(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _metrics(gateway: Gateway, scope: Scope, send: Send) -> None:
    token = gateway.settings.metrics_token
    allowed = _is_loopback(scope)
    if token is not None:
        expected = token.get_secret_value().encode()
        allowed = any(
            name == b"authorization"
            and value[:7].lower() == b"bearer "
            and hmac.compare_digest(value[7:].strip(), expected)
            for name, value in scope["headers"]
        )
    if not allowed:
        await _plain(send, 403, b"forbidden\n", b"text/plain")
        return
    stats = gateway.audit.stats
    for fate, value in (
        ("written", stats.written),
        ("spooled", stats.spooled),
        ("replayed", stats.replayed),
    ):
        gateway.metrics.audit.labels(fate).set(value)
    await _plain(send, 200, gateway.metrics.exposition(), b"text/plain; version=0.0.4")


def serve(host: str, port: int, workers: int) -> int:
    """Run the gateway with ``workers`` processes until SIGTERM; the exit status."""
    from tinhso.exchange.gateway import processes as gateway_processes  # noqa: PLC0415 - only when serving

    # Workers are forked from here: metrics go to per-process files in one directory so that
    # /metrics, whichever worker answers it, reports the sum over all of them.
    settings = load_settings()
    directory = settings.data_dir.resolve() / f"gateway-metrics-{port}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = multiprocess_dir[0] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

    options = settings.gateway
    return gateway_processes.run(
        "tinhso.exchange.gateway.app:app",
        host,
        port,
        workers,
        connection_limits(options),
        grace_seconds=options.grace_seconds,
    )
