"""Minimal raw-ASGI forwarders used as the gateway benchmark's passthrough scenarios.

``app`` forwards every request to one upstream through :class:`UpstreamPool` (the lean client
the gateway uses); ``aiohttp_app`` does the same with a pooled ``aiohttp.ClientSession`` for
comparison; ``hello_app`` answers by itself (the server's own ceiling); ``busy_25us_app`` and
``busy_50us_app`` forward like ``app`` after a fixed amount of Python work (the cost curve). The forwarders read
the upstream from ``TINHSO_BENCH_UPSTREAM`` (``host:port``), create their client lazily in each
worker, and do no policy work at all: this is the ceiling the full-policy gateway is measured
against.

Serve with e.g. ``granian --interface asgi --loop uvloop bench.passthrough_app:app``.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from tinhso.exchange.gateway.upstream import UpstreamError, UpstreamPool, UpstreamTimeout

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import aiohttp

    Scope = dict[str, Any]
    Message = dict[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

UPSTREAM_ENV = "TINHSO_BENCH_UPSTREAM"
TIMEOUT = 10.0
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"expect",
    }
)
_HELLO = b'{"ok":true,"service":"bench-hello","items":[1,2,3]}'
_HELLO_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_HELLO))]
_METHODS = {m: m.encode() for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}


def _upstream() -> tuple[str, int]:
    host, _, port = os.environ.get(UPSTREAM_ENV, "127.0.0.1:18081").rpartition(":")
    return host, int(port)


_pool: UpstreamPool | None = None
_session: aiohttp.ClientSession | None = None


async def _lifespan(receive: Receive, send: Send) -> None:
    global _pool, _session  # noqa: PLW0603
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            if _session is not None:
                await _session.close()
            _pool = _session = None
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _request_parts(scope: Scope) -> tuple[bytes, list[tuple[bytes, bytes]], bool]:
    """Target (path?query), forwardable headers, and whether the request carries a body."""
    headers = []
    has_body = False
    for name, value in scope["headers"]:
        if name in _HOP_BY_HOP:
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                has_body = True
            continue
        headers.append((name, value))
    target = scope.get("raw_path") or scope["path"].encode()
    query = scope["query_string"]
    return (target + b"?" + query if query else target), headers, has_body


async def _error(send: Send, status: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Forward with the lean :class:`UpstreamPool`."""
    global _pool  # noqa: PLW0603
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    pool = _pool
    if pool is None:
        pool = _pool = UpstreamPool(*_upstream(), max_idle=256)
    target, headers, has_body = _request_parts(scope)
    body = await _read_body(receive) if has_body else b""
    method = _METHODS.get(scope["method"]) or scope["method"].encode()
    try:
        response = await pool.request(method, target, headers, body, TIMEOUT)
    except UpstreamTimeout:
        await _error(send, 504)
        return
    except UpstreamError:
        await _error(send, 502)
        return
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    if response.stream is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    try:
        async for chunk in response.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await response.aclose()


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def busy_25us_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``app`` plus 25 us of pure-Python work per request (holding the GIL, as policy code
    does): shows what any per-request Python work costs this server, whatever it does."""
    if scope["type"] == "http":
        _spin(25e-6)
    await app(scope, receive, send)


async def busy_50us_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``app`` plus 50 us of pure-Python work per request (see ``busy_25us_app``)."""
    if scope["type"] == "http":
        _spin(50e-6)
    await app(scope, receive, send)


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer directly without forwarding: the server's own ceiling on this machine."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HELLO_HEADERS})
    await send({"type": "http.response.body", "body": _HELLO})


async def aiohttp_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Forward with a pooled ``aiohttp.ClientSession`` (comparison only)."""
    global _session  # noqa: PLW0603
    import aiohttp  # noqa: PLC0415

    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    session = _session
    if session is None:
        host, port = _upstream()
        session = _session = aiohttp.ClientSession(
            base_url=f"http://{host}:{port}",
            connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            auto_decompress=False,
        )
    target, headers, has_body = _request_parts(scope)
    body = await _read_body(receive) if has_body else None
    try:
        async with session.request(
            scope["method"],
            target.decode("latin-1"),
            headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers],
            data=body,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        ) as response:
            payload = await response.read()
            out = [(n.lower(), v) for n, v in response.raw_headers if n.lower() not in _HOP_BY_HOP]
    except TimeoutError:
        await _error(send, 504)
        return
    except aiohttp.ClientError:
        await _error(send, 502)
        return
    out.append((b"content-length", b"%d" % len(payload)))
    await send({"type": "http.response.start", "status": response.status, "headers": out})
    await send({"type": "http.response.body", "body": payload})
