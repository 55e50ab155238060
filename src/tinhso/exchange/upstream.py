"""Lean pooled HTTP/1.1 client used by the gateway to forward requests to provider origins.

One :class:`UpstreamPool` per provider origin (scheme, host, port) lives for the whole life of
a worker process and keeps idle keep-alive connections for reuse. Each connection is an
``asyncio.Protocol`` driving an ``httptools`` response parser; a request costs one future, one
timer and a handful of small lists, which is several times cheaper than a general-purpose
client. Small responses are buffered; responses larger than ``stream_threshold`` are handed
over as a streaming body with read back-pressure.

A connection goes back to the pool only after a complete response, with the request fully
written, no error, and keep-alive allowed by the upstream (no ``Connection: close``, HTTP/1.1).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

import httptools

if TYPE_CHECKING:
    import ssl

__all__ = [
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamResponse",
    "UpstreamResponseTooLarge",
    "UpstreamTimeout",
]

Headers = list[tuple[bytes, bytes]]

# Hop-by-hop and framing headers: never copied from the caller (the pool writes its own Host and
# framing) nor handed back from the upstream (the pool re-adds an exact content-length).
_REQUEST_DROP: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
     b"transfer-encoding", b"upgrade", b"host", b"content-length", b"expect"}
)
_RESPONSE_DROP: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
     b"transfer-encoding", b"upgrade", b"content-length"}
)
_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
_BODY_METHODS: Final = frozenset({b"POST", b"PUT", b"PATCH"})
_STREAM_HIGH_WATER: Final = 256 * 1024
_STREAM_LOW_WATER: Final = 64 * 1024
_SINGLE_WRITE_MAX: Final = 64 * 1024


class UpstreamError(Exception):
    """Base class for failures talking to an upstream (map to 502 unless stated otherwise)."""


class UpstreamConnectError(UpstreamError):
    """The TCP/TLS connection to the upstream could not be established."""


class UpstreamTimeout(UpstreamError):
    """Connecting, or waiting for (part of) the response, took longer than allowed (504)."""


class UpstreamProtocolError(UpstreamError):
    """Connection reset or closed mid-exchange, or the upstream sent something not HTTP/1.x."""


class UpstreamResponseTooLarge(UpstreamError):
    """The response body exceeds the pool's ``max_response_bytes``."""


class UpstreamResponse:
    """Status, headers (lower-case names, hop-by-hop removed) and either ``body`` or ``stream``.

    When ``stream`` is not None the body has to be consumed from it (``body`` is empty) and the
    caller must ``await response.aclose()`` if it stops before the end.
    """

    __slots__ = ("body", "headers", "status", "stream")

    def __init__(self, status: int, headers: Headers, body: bytes, stream: BodyStream | None):
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream

    async def aclose(self) -> None:
        if self.stream is not None:
            self.stream.close()


class BodyStream:
    """Async iterator over the chunks of a large response body, with read back-pressure."""

    __slots__ = ("_buffered", "_chunks", "_conn", "_done", "_error", "_timeout", "_waiter")

    def __init__(self, conn: _Connection, timeout: float):
        self._conn: _Connection | None = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: UpstreamError | None = None
        self._timeout = timeout
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _STREAM_HIGH_WATER and self._conn is not None:
            self._conn.transport.pause_reading()
        self._wake()

    def finish(self) -> None:
        self._done = True
        self._conn = None
        self._wake()

    def fail(self, exc: UpstreamError) -> None:
        self._error = exc
        self._conn = None
        self._wake()

    def close(self) -> None:
        """Stop reading; a connection still carrying this body is not reusable and is aborted."""
        if self._conn is not None:
            self._conn.abort()
        self._done = True
        self._chunks.clear()

    def _on_timeout(self) -> None:
        if self._conn is not None:
            self._conn.fail(UpstreamTimeout(f"no response data within {self._timeout:g}s"))

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                raise StopAsyncIteration
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            timer = loop.call_later(self._timeout, self._on_timeout)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        if self._error is not None:
            raise self._error
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._buffered < _STREAM_LOW_WATER and self._conn is not None:
            self._conn.transport.resume_reading()
        return chunk


class _Connection(asyncio.Protocol):
    """One upstream connection; carries at most one request at a time."""

    transport: asyncio.Transport

    def __init__(self, pool: UpstreamPool):
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._drain: asyncio.Future[None] | None = None
        self._error: UpstreamError | None = None
        self._stream: BodyStream | None = None
        self._timeout = 0.0
        self._is_head = self._informational = self._sent = self.received = False
        self._until_close = self._in_body = self._keep_alive = False
        self._status = self._size = 0
        self._length = -1
        self._headers: Headers = []
        self._chunks: list[bytes] = []

    # asyncio.Protocol -------------------------------------------------------------------------
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
            self.on_message_complete()  # body delimited by connection close
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.discard(self)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self._waiter is not None or self._stream is not None:
            reason = f": {exc}" if exc else ""
            self.fail(UpstreamProtocolError(f"upstream closed the connection{reason}"))

    def pause_writing(self) -> None:
        self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # httptools callbacks ----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in _RESPONSE_DROP:
            if name == b"content-length" and value.strip().isdigit():
                self._length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self._length = -2
            return
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # interim response (100 Continue, 103 ...): wait for the final
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
        reusable = self._sent and self._keep_alive and self._error is None
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.finish()
            self.transport.resume_reading()
        else:
            body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            if self._is_head or self._status == 304:
                if self._length >= 0:  # describes the representation, not this (empty) body
                    self._headers.append((b"content-length", b"%d" % self._length))
            elif self._status != 204:
                self._headers.append((b"content-length", b"%d" % len(body)))
            self._resolve(UpstreamResponse(self._status, self._headers, body, None))
        if reusable:
            self._pool.release(self)
        else:
            self.abort()

    # request side -------------------------------------------------------------------------------
    async def exchange(
        self, head: bytes, body: bytes | AsyncIterator[bytes], timeout: float, is_head: bool
    ) -> UpstreamResponse:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._is_head, self._timeout = is_head, timeout
        self._sent = self.received = self._until_close = self._in_body = False
        self._informational = self._keep_alive = False
        self._status = self._size = 0
        self._length = -1
        self._headers, self._chunks = [], []
        self._timer = loop.call_later(timeout, self._on_timeout)
        try:
            if isinstance(body, bytes):
                if len(body) <= _SINGLE_WRITE_MAX:
                    self.transport.write(head + body)
                else:
                    self.transport.writelines((head, body))
            else:
                await self._send_chunked(head, body, waiter)
            self._sent = True
            return await waiter
        except BaseException:
            if not waiter.done():
                self.abort()  # failed or cancelled mid-exchange: the connection state is unknown
            elif not waiter.cancelled() and waiter.exception() is None:
                stream = waiter.result().stream
                if stream is not None:  # cancelled right after the head: nobody will read it
                    stream.close()
            raise

    async def _send_chunked(
        self, head: bytes, body: AsyncIterator[bytes], waiter: asyncio.Future[UpstreamResponse]
    ) -> None:
        self.transport.write(head)
        async for chunk in body:
            if waiter.done():  # upstream answered early (e.g. 413): stop sending
                return
            if chunk:
                self.transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                if self._drain is not None:
                    await self._drain
            if self._error is not None:
                raise self._error
        self.transport.write(b"0\r\n\r\n")

    def _start_stream(self) -> None:
        self._stream = BodyStream(self, self._timeout)
        for chunk in self._chunks:
            self._stream.feed(chunk)
        self._chunks = []
        self._resolve(UpstreamResponse(self._status, self._headers, b"", self._stream))

    def _resolve(self, response: UpstreamResponse) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _set_error(self, exc: UpstreamError) -> UpstreamError:
        self._error = self._error or exc
        return exc

    def _on_timeout(self) -> None:
        self._timer = None
        self.fail(UpstreamTimeout(f"no response within {self._timeout:g}s"))

    def fail(self, exc: UpstreamError) -> None:
        """Fail whatever is in flight on this connection and drop the connection."""
        self._set_error(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
            self._pool.discard(self)
            self.transport.abort()


class UpstreamPool:
    """Keep-alive connections to one provider origin, shared by all requests of a worker."""

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
    ):
        self.host, self.port, self._ssl = host, port, ssl
        self._server_hostname = server_hostname
        default_port = 443 if ssl is not None else 80
        bracketed = f"[{host}]" if ":" in host else host
        authority = bracketed if port == default_port else f"{bracketed}:{port}"
        self._host_line = b"host: " + (host_header or authority.encode("idna")) + b"\r\n"
        self.max_idle, self.idle_timeout = max_idle, idle_timeout
        self.max_response_bytes, self.stream_threshold = max_response_bytes, stream_threshold
        self._idle: list[_Connection] = []
        self._closed = False
        self.connections_opened = 0

    async def request(
        self,
        method: bytes,
        path_and_query: bytes,
        headers: Headers,
        body: bytes | AsyncIterator[bytes] = b"",
        timeout: float = 30.0,
    ) -> UpstreamResponse:
        """Send one request; ``timeout`` bounds connect + response (buffered), or each read."""
        head = self._build_head(method, path_and_query, headers, body)
        replayable = method in _IDEMPOTENT and isinstance(body, bytes)
        conn = self._take_idle()
        if conn is not None:
            try:
                return await conn.exchange(head, body, timeout, method == b"HEAD")
            except UpstreamProtocolError:
                # A kept-alive connection the upstream closed while idle fails before any
                # response byte; replay idempotent requests once on a fresh connection.
                if not replayable or conn.received:
                    raise
        deadline = time.monotonic() + timeout
        conn = await self._connect(timeout)
        remaining = max(deadline - time.monotonic(), 0.001)
        return await conn.exchange(head, body, remaining, method == b"HEAD")

    def _build_head(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        body: bytes | AsyncIterator[bytes],
    ) -> bytes:
        if b" " in target or b"\n" in target or b"\r" in target:
            raise ValueError("invalid request target")
        parts = [method, b" ", target, b" HTTP/1.1\r\n", self._host_line]
        for name, value in headers:
            if name in _REQUEST_DROP:
                continue
            if b"\n" in value or b"\r" in value or b"\n" in name or b":" in name:
                raise ValueError(f"invalid header {name!r}")
            parts.append(b"%s: %s\r\n" % (name, value))
        if not isinstance(body, bytes):
            parts.append(b"transfer-encoding: chunked\r\n\r\n")
        elif body or method in _BODY_METHODS:
            parts.append(b"content-length: %d\r\n\r\n" % len(body))
        else:
            parts.append(b"\r\n")
        return b"".join(parts)

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_timeout:
                return conn
            conn.abort()
        return None

    async def _connect(self, timeout: float) -> _Connection:
        if self._closed:
            raise UpstreamConnectError("pool is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname if self._ssl is not None else None,
                )
        except TimeoutError:
            raise UpstreamTimeout(f"connect to {self.host}:{self.port} over {timeout:g}s") from None
        except OSError as exc:
            raise UpstreamConnectError(f"connect to {self.host}:{self.port}: {exc}") from exc
        self.connections_opened += 1
        return conn

    def release(self, conn: _Connection) -> None:
        if self._closed or len(self._idle) >= self.max_idle:
            conn.abort()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def discard(self, conn: _Connection) -> None:
        try:
            self._idle.remove(conn)
        except ValueError:
            pass

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def close(self) -> None:
        """Close idle connections; in-flight exchanges finish and then close their connection."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()
        await asyncio.sleep(0)  # let transports run connection_lost
