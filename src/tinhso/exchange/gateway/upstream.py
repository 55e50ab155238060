"""Lean pooled HTTP/1.1 client the gateway uses to forward requests to provider origins.

One :class:`UpstreamPool` per provider origin lives as long as its worker's event loop and keeps
idle keep-alive connections. Each connection is an ``asyncio.Protocol`` feeding an ``httptools``
response parser; a request costs one future, one response object and a few small lists (about
a fifth of aiohttp's CPU per request). Timeouts are deadlines checked by one periodic sweep per
pool rather than a timer per request (a timer costs more than the rest of the Python work).

Small responses are buffered; larger ones (over ``stream_threshold``) are handed over as a
:class:`BodyStream` with read back-pressure. A connection goes back to the pool only after a
complete response to a fully sent request, without error, with keep-alive allowed by the upstream.

Whose time is it: the request's ``timeout`` is the provider's. While a streamed request body
waits for the consumer's next bytes the provider's clock stops (it cannot answer what it has not
been sent), and a failure while the provider waits for those bytes is marked
``consumer_paced``: the consumer, not the provider, made the exchange slow. A streamed response
has ``stream_seconds`` in all of the provider's time (waits for its data, not for the reader).

With a ``destination`` (:class:`tinhso.exchange.netpolicy.Destination`) the pool connects to
the addresses it checked and pinned, never to the name (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Final

import httptools

from tinhso.core.http_semantics import (
    BODY_METHODS_BYTES,
    HOP_BY_HOP_HEADERS,
    IDEMPOTENT_METHODS_BYTES,
)
from tinhso.exchange.netpolicy import AddressRefused

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Sequence

    from tinhso.exchange.netpolicy import Destination

Headers = list[tuple[bytes, bytes]]

# The pool writes Host and the framing itself, and hands back an exact content-length.
_REQUEST_DROP: Final = HOP_BY_HOP_HEADERS | {b"host", b"content-length", b"expect"}
_RESPONSE_DROP: Final = HOP_BY_HOP_HEADERS | {b"content-length"}
_STREAM_HIGH_WATER: Final = 256 * 1024
_STREAM_LOW_WATER: Final = 64 * 1024
_SINGLE_WRITE_MAX: Final = 64 * 1024


class UpstreamError(Exception):
    """Base class for failures talking to an upstream (a 502 unless stated otherwise)."""

    # The upstream gave up while it was waiting for the consumer's request body.
    consumer_paced = False


class UpstreamConnectError(UpstreamError):
    """The TCP/TLS connection to the upstream could not be established."""


class UpstreamAddressRefused(UpstreamConnectError):
    """The upstream's host resolves to an address the network policy refuses; not contacted."""


class UpstreamTimeout(UpstreamError):
    """Connecting, or waiting for (more of) the response, took longer than allowed (a 504)."""


class UpstreamProtocolError(UpstreamError):
    """Connection reset or closed mid-exchange, or the upstream sent something not HTTP/1.x."""


class UpstreamResponseTooLarge(UpstreamError):
    """The response body exceeds the pool's ``max_response_bytes``."""


class UpstreamResponse:
    """Status, headers (lower-case names, no hop-by-hop ones) and ``body`` or ``stream``.

    When ``stream`` is set, ``body`` is empty and the caller must read the stream to its end or
    ``await response.aclose()``; either way the connection is then released or dropped.
    """

    __slots__ = ("body", "headers", "status", "stream")

    def __init__(self, status: int, headers: Headers, body: bytes, stream: BodyStream | None):
        self.status, self.headers, self.body, self.stream = status, headers, body, stream

    async def aclose(self) -> None:
        if self.stream is not None:
            self.stream.close()


class BodyStream:
    """Async iterator over a large response body; ``timeout`` bounds each wait for data, and
    ``budget`` all of them together (a provider trickling its answer is cut)."""

    __slots__ = (
        "_budget", "_buffered", "_chunks", "_conn", "_done", "_error", "_timeout", "_waiter",
    )  # fmt: skip

    def __init__(self, conn: _Connection, timeout: float, budget: float):
        self._budget = budget
        self._conn: _Connection | None = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: UpstreamError | None = None
        self._timeout = timeout
        self._waiter: asyncio.Future[None] | None = None

    def _detach(self) -> None:
        self._conn = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._conn is not None:
            if self._buffered > _STREAM_HIGH_WATER:
                self._conn.transport.pause_reading()
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    def finish(self) -> None:
        self._done = True
        self._detach()

    def fail(self, exc: UpstreamError) -> None:
        self._error = exc
        self._detach()

    def close(self) -> None:
        """Stop reading; a connection still carrying this body cannot be reused and is dropped."""
        if self._conn is not None:
            self._conn.abort()
        self._done = True
        self._chunks.clear()
        self._detach()

    def __aiter__(self) -> BodyStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._chunks:
            if self._error is not None:
                raise self._error
            conn = self._conn
            if self._done or conn is None:
                raise StopAsyncIteration
            if self._budget <= 0.0:
                conn.fail(UpstreamTimeout("the upstream took too long to send its body"))
                continue
            self._waiter = conn.loop.create_future()
            waited = time.monotonic()
            conn.watch(waited, min(self._timeout, self._budget))
            try:
                await self._waiter
            finally:
                self._waiter = None
                self._budget -= time.monotonic() - waited
                if self._conn is conn:
                    conn.deadline = 0.0
        if self._error is not None:
            raise self._error
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._buffered < _STREAM_LOW_WATER and self._conn is not None:
            self._conn.transport.resume_reading()
        return chunk


class _Connection(asyncio.Protocol):
    """One upstream connection carrying at most one exchange at a time."""

    __slots__ = (
        "_chunks", "_drain", "_error", "_headers", "_in_body", "_informational", "_is_head",
        "_keep_alive", "_length", "_parser", "_pool", "_sent", "_size", "_status", "_stream",
        "_until_close", "_uploading", "_waiter", "closed", "deadline", "idle_since", "loop",
        "received", "timeout", "transport",
    )  # fmt: skip

    transport: asyncio.Transport

    def __init__(self, pool: UpstreamPool, loop: asyncio.AbstractEventLoop):
        self._pool, self.loop = pool, loop
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = self.deadline = self.timeout = 0.0
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._error: UpstreamError | None = None
        self._stream: BodyStream | None = None
        self._is_head = self._informational = self._sent = self.received = False
        self._until_close = self._in_body = self._keep_alive = self._uploading = False
        self._status = self._size = 0
        self._length = -1
        self._headers: Headers = []
        self._chunks: list[bytes] = []

    # asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None and self._stream is None:
            self.abort()  # unsolicited bytes on an idle connection: never trust it again
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(self._error or UpstreamProtocolError(f"invalid response: {exc}"))

    def eof_received(self) -> bool:
        if self._until_close and self._in_body:
            self._until_close = False
            self.on_message_complete()  # a body delimited by the connection close
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self._waiter is not None or self._stream is not None:
            reason = f": {exc}" if exc else ""
            error = UpstreamProtocolError(f"upstream closed the connection{reason}")
            # Closed while it waited for the consumer's next bytes: the consumer was too slow.
            error.consumer_paced = self._uploading
            self.fail(error)

    def pause_writing(self) -> None:
        self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # httptools callbacks ------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _RESPONSE_DROP:
            self._headers.append((name, value))
        elif name == b"content-length" and value.strip().isdigit():
            self._length = int(value)
        elif name == b"transfer-encoding":
            self._length = -2

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # interim response (100 Continue, 103 ...): wait for the final one
            self._informational = True
            self._headers, self._length = [], -1
            return
        self._status = status
        self._keep_alive = self._parser.should_keep_alive()
        if self._length > self._pool.max_response_bytes:
            raise self._set_error(UpstreamResponseTooLarge(f"content-length {self._length}"))
        if self._is_head:
            self._parser = httptools.HttpResponseParser(self)  # llhttp would wait for a body
            self.on_message_complete()
            return
        self._in_body = True
        self._until_close = self._length == -1 and status not in (204, 304)
        if self._length > self._pool.stream_threshold:
            self._start_stream()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._pool.max_response_bytes:
            raise self._set_error(UpstreamResponseTooLarge(f"body over {self._size} bytes"))
        if self._stream is not None:
            self._stream.feed(body)
            return
        self._chunks.append(body)
        if self._size > self._pool.stream_threshold:
            self._start_stream()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self._in_body = False
        self.deadline = 0.0
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.finish()
            self.transport.resume_reading()
        else:
            body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            if self._is_head or self._status == 304:
                if self._length >= 0:  # describes the representation, not this empty body
                    self._headers.append((b"content-length", b"%d" % self._length))
            elif self._status != 204:
                self._headers.append((b"content-length", b"%d" % len(body)))
            self._resolve(UpstreamResponse(self._status, self._headers, body, None))
        if self._sent and self._keep_alive and self._error is None:
            self._pool.release(self)
        else:
            self.abort()

    # exchange -----------------------------------------------------------------------------------
    async def exchange(
        self,
        head: bytes,
        body: bytes | AsyncIterator[bytes],
        timeout: float,  # noqa: ASYNC109
        now: float,
        is_head: bool,
    ) -> UpstreamResponse:
        waiter: asyncio.Future[UpstreamResponse] = self.loop.create_future()
        self._waiter = waiter
        self.watch(now, timeout)
        self._sent = self.received = self._until_close = self._in_body = False
        self._informational = self._keep_alive = False
        self._is_head = is_head
        self._status = self._size = 0
        self._length = -1
        self._headers, self._chunks = [], []
        try:
            if not isinstance(body, bytes):
                self._sent = await self._send_chunked(head, body, waiter)
            else:
                if len(body) <= _SINGLE_WRITE_MAX:
                    self.transport.write(head + body)
                else:
                    self.transport.writelines((head, body))
                self._sent = True
            return await waiter
        except BaseException:
            if not waiter.done():  # failed or cancelled mid-exchange: the state is unknown
                self._waiter = None
                waiter.cancel()
                self.abort()
            elif not waiter.cancelled() and waiter.exception() is None:
                stream = waiter.result().stream
                if stream is not None:  # cancelled just after the head: nobody will read it
                    stream.close()
            raise

    async def _send_chunked(
        self, head: bytes, body: AsyncIterator[bytes], waiter: asyncio.Future[UpstreamResponse]
    ) -> bool:
        """Send a chunked body; False if the upstream answered first (the connection is spent)."""
        self.transport.write(head)
        timeout = self.timeout
        parts = aiter(body)
        while True:
            # Waiting for the consumer: its time, not the provider's.
            self.deadline, self._uploading = 0.0, True
            try:
                chunk = await anext(parts)
            except StopAsyncIteration:
                break
            finally:
                self._uploading = False
            if waiter.done():  # the upstream answered early (e.g. 413): stop sending
                return False
            if self._error is not None:
                raise self._error
            if chunk:
                self.transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                if self._drain is not None:
                    self.watch(time.monotonic(), timeout)  # the provider is not reading
                    await self._drain
            if self._error is not None:
                raise self._error
        self.transport.write(b"0\r\n\r\n")
        self.watch(time.monotonic(), timeout)  # all sent: the provider's time to answer
        return True

    def watch(self, now: float, timeout: float) -> None:
        """Fail the exchange unless it progresses within ``timeout`` of ``now``."""
        self.deadline, self.timeout = now + timeout, timeout
        self._pool.arm(self.loop)

    def _start_stream(self) -> None:
        self._stream = BodyStream(self, self.timeout, self._pool.stream_seconds)
        for chunk in self._chunks:
            self._stream.feed(chunk)
        self._chunks = []
        self._resolve(UpstreamResponse(self._status, self._headers, b"", self._stream))

    def _resolve(self, response: UpstreamResponse) -> None:
        self.deadline = 0.0
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _set_error(self, exc: UpstreamError) -> UpstreamError:
        self._error = self._error or exc
        return exc

    def fail(self, exc: UpstreamError) -> None:
        """Fail whatever is in flight on this connection and drop the connection."""
        self._set_error(exc)
        self.deadline = 0.0
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.fail(exc)
        self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._pool.forget_idle(self)
            self.transport.abort()


class UpstreamPool:
    """Keep-alive connections to one provider origin, for the requests of one event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        host_header: bytes | None = None,
        max_idle: int = 64,
        idle_timeout: float = 30.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        stream_threshold: int = 256 * 1024,
        stream_seconds: float = 300.0,
        timer_resolution: float = 0.05,
        destination: Destination | None = None,
    ):
        self.host, self.port, self._ssl, self._server_hostname = host, port, ssl, server_hostname
        bracketed = f"[{host}]" if ":" in host else host
        authority = bracketed if port == (443 if ssl else 80) else f"{bracketed}:{port}"
        self._host_line = b"host: %s\r\n" % (host_header or authority.encode("idna"))
        if self._host_line.count(b"\n") != 1 or self._host_line.count(b"\r") != 1:
            raise ValueError("invalid host header")
        self.max_idle, self.idle_timeout = max_idle, idle_timeout
        self.max_response_bytes, self.stream_threshold = max_response_bytes, stream_threshold
        self.stream_seconds = stream_seconds
        self.destination = destination
        self.timer_resolution = timer_resolution
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self.connections_opened = 0

    async def request(
        self,
        method: bytes,
        path_and_query: bytes,
        headers: Headers,
        body: bytes | AsyncIterator[bytes] = b"",
        timeout: float = 30.0,  # noqa: ASYNC109 - a swept deadline is cheaper than a timer
    ) -> UpstreamResponse:
        """Send one request; ``timeout`` bounds connect + response, or each wait for a stream."""
        head = self._build_head(method, path_and_query, headers, body)
        now = time.monotonic()
        conn = self._take_idle(now)
        if conn is not None:
            try:
                return await conn.exchange(head, body, timeout, now, method == b"HEAD")
            except UpstreamProtocolError:
                # A kept-alive connection that the upstream closed while idle fails before any
                # response byte: replay idempotent requests once, on a fresh connection.
                if (
                    conn.received
                    or method not in IDEMPOTENT_METHODS_BYTES
                    or not isinstance(body, bytes)
                ):
                    raise
        conn = await self._connect(timeout)
        return await conn.exchange(head, body, timeout, now, method == b"HEAD")

    def _build_head(
        self, method: bytes, target: bytes, headers: Headers, body: bytes | AsyncIterator[bytes]
    ) -> bytes:
        parts = [method, b" ", target, b" HTTP/1.1\r\n", self._host_line]
        for name, value in headers:
            if name not in _REQUEST_DROP:
                parts.append(b"%s: %s\r\n" % (name, value))
        if not isinstance(body, bytes):
            parts.append(b"transfer-encoding: chunked\r\n")
        elif body or method in BODY_METHODS_BYTES:
            parts.append(b"content-length: %d\r\n" % len(body))
        parts.append(b"\r\n")
        head = b"".join(parts)
        lines = len(parts) - 3  # exactly one CRLF in each part from the request line's end on
        if head.count(b"\n") != lines or head.count(b"\r") != lines or b" " in target:
            raise ValueError("CR, LF or space in the request target or a header")
        return head

    def _take_idle(self, now: float) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_timeout:
                return conn
            conn.abort()
        return None

    async def _connect(self, timeout: float) -> _Connection:  # noqa: ASYNC109
        if self._closed:
            raise UpstreamConnectError("pool is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                addresses: Sequence[str] = (self.host,)
                if self.destination is not None:
                    addresses = await self.destination.addresses()
                for address in addresses:  # the checked addresses, in the resolver's order
                    try:
                        _, conn = await loop.create_connection(
                            lambda: _Connection(self, loop),
                            address,
                            self.port,
                            ssl=self._ssl,
                            server_hostname=self._server_hostname if self._ssl else None,
                        )
                        break
                    except OSError:
                        if address == addresses[-1]:
                            raise
        except TimeoutError:
            raise UpstreamTimeout(f"connect to {self.host}:{self.port} over {timeout:g}s") from None
        except AddressRefused as exc:
            raise UpstreamAddressRefused(str(exc)) from None
        except OSError as exc:
            raise UpstreamConnectError(f"connect to {self.host}:{self.port}: {exc}") from exc
        self.connections_opened += 1
        self._open.add(conn)
        return conn

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure a deadline sweep is scheduled (one timer per pool, not per request)."""
        if self._sweeper is None:
            self._sweeper = loop.call_later(self.timer_resolution, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeper = None
        now, pending = time.monotonic(), False
        for conn in list(self._open):
            if conn.deadline <= 0.0:
                continue
            if conn.deadline <= now:
                conn.fail(UpstreamTimeout(f"{self.host}:{self.port} over {conn.timeout:g}s"))
            else:
                pending = True
        if pending:
            self.arm(loop)

    def release(self, conn: _Connection) -> None:
        if self._closed or len(self._idle) >= self.max_idle:
            conn.abort()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def forget_idle(self, conn: _Connection) -> None:
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    def forget(self, conn: _Connection) -> None:
        self.forget_idle(conn)
        self._open.discard(conn)

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def close(self) -> None:
        """Close idle connections; in-flight exchanges finish, then close their connection."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()
        await asyncio.sleep(0)  # let the transports report connection_lost
        if self._sweeper is not None and not any(c.deadline for c in self._open):
            self._sweeper.cancel()
            self._sweeper = None
