"""The gateway's HTTP/1.1 server: one ``asyncio.Protocol`` per consumer connection, ASGI inside.

Why not granian or uvicorn: forwarding with the same lean upstream client and no policy at
all, 2 processes on the benchmark machine (nginx as a proxy: ~96k req/s), granian's ASGI bridge
gave 19-27k req/s and uvicorn 36k; this server, with the ASGI app inside, gives 41-46k
(``bench/results/gateway-2026-12-01-*.txt``), a bare protocol without ASGI about 70k. The
server, not the policy, was most of the forwarding's cost. This one does only what the data
plane needs, with callbacks: ``httptools`` (llhttp, Node's parser) parses, each request runs
the ASGI app in one task, the response head and body leave in one write.

What a consumer connection may and may not do:
- request line and headers at most ``limits.max_head_bytes`` and ``limits.max_headers``
  (431 otherwise); they must arrive within ``limits.head_seconds`` (then the connection is
  closed), an idle keep-alive connection is closed after ``limits.keepalive_seconds``;
- a request body that stalls for ``limits.body_seconds`` counts as a disconnect; the body is
  buffered up to a high-water mark and reading pauses until the app takes it (back-pressure);
- pipelined requests are answered in order, at most ``_MAX_PIPELINED`` waiting;
- an answer the client does not read for ``limits.send_seconds`` aborts the connection;
- malformed HTTP (llhttp strict: no CL+TE, no duplicate Content-Length, no bare LF) gets 400
  and the connection closed; so does a request with more than one ``Host``, ``Authorization``
  or ``Content-Length`` header, or an HTTP/1.1 request without ``Host``; an HTTP version other
  than 1.0 and 1.1 gets 505; trailer fields of a chunked body are read and dropped, never
  merged into the request's headers;
- a chunked body that turns out malformed is not a disconnect: the app's ``receive`` raises
  :class:`~tinhso.exchange.gateway.http.request.RequestMalformed` (the gateway answers 400 and
  audits it), the connection then closes;
- a request the server refuses itself (malformed head, 414, 431, 505, a head not received
  within ``limits.head_seconds``: 408) is answered after the requests before it on the
  connection, and handed to the app's optional ``refused(Refused)`` coroutine first (the
  gateway counts it, audits it and returns a problem+json body to send);
- nothing after a request that closes the connection (HTTP/1.0, ``Connection: close``, an
  error) is read as a request; such a connection, and one whose answer left part of the
  request body unread, is closed the lingering way (write side shut, input discarded for
  ``_LINGER_SECONDS``) so the client sees the whole answer rather than a reset;
- a response header from the app whose name is not a token or whose value holds CR or LF is
  refused (500: no response splitting).

One request and its answer (body hand-over, response framing) is
:class:`tinhso.exchange.gateway.http.request.RequestCycle`.

Time limits are deadlines checked by one sweep per second (:meth:`Server.sweep`), not a
timer per request. The ASGI scope has ``raw_path`` exactly as sent (the gateway decides on
it: encoded separators, dot segments) and header values as bytes, whatever their encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httptools

from tinhso.exchange.gateway.http.request import REASONS, RequestCycle, RequestMalformed

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Message = MutableMapping[str, Any]
    ASGIApp = Callable[
        [MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Any]],
        Awaitable[None],
    ]
    # The app's optional ``refused``: the headers and body of the answer, or None (plain text).
    RefusedHook = Callable[["Refused"], Awaitable[tuple[list[tuple[bytes, bytes]], bytes] | None]]

log = logging.getLogger(__name__)

_ASGI = {"version": "3.0", "spec_version": "2.4"}
_MAX_PIPELINED = 16
_BODY_HIGH_WATER = 1024 * 1024
_LINGER_SECONDS = 2.0
_VERSIONS = frozenset({"1.0", "1.1"})
_OWS = frozenset(b" \t")
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection", b"keep-alive"})
# Headers a request may carry once (bit per name): a second Host, Authorization or
# Content-Length is read differently by different parsers (smuggling, confused identity).
_HOST = 1
_SINGLE = {b"host": _HOST, b"authorization": 2, b"content-length": 4}


@dataclass(frozen=True)
class Limits:
    """What one consumer connection may take (``TINHSO_GATEWAY_*`` settings, see gateway.py)."""

    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    head_seconds: float = 10.0
    keepalive_seconds: float = 60.0
    body_seconds: float = 30.0
    send_seconds: float = 60.0


class _Reject(Exception):
    """Raised from a parser callback: answer ``status`` and close."""

    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


class _Stop(Exception):
    """Raised from ``on_message_complete``: nothing after this request is parsed."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A request the server refused itself, as far as it was received (for the app's audit).

    ``code``: ``malformed_request``, ``duplicate_header``, ``host_missing``, ``uri_too_long``,
    ``headers_too_large``, ``http_version_not_supported`` or ``head_timeout``.
    """

    status: int
    code: str
    method: str | None
    target: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    client: tuple[str, int] | None = None


_PARSER_ERRORS = {
    "Invalid HTTP version": (505, "http_version_not_supported"),
    "Duplicate Content-Length": (400, "duplicate_header"),
}


def _plain_response(status: int, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s"
        % (status, REASONS.get(status, b""), len(text), text)
    )


class HTTPConnection(asyncio.Protocol):
    """One consumer connection: parses requests, runs the app for each, writes the answers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.closed = False
        self.input_paused = False
        self.write_paused = False
        self.lingering = False
        self.deadline = 0.0
        self._drain: asyncio.Future[None] | None = None
        self._client: tuple[str, int] | None = None
        self._local: tuple[str, int] | None = None
        self._current: RequestCycle | None = None  # being answered
        self._parsing: RequestCycle | None = None  # being received
        self._waiting: deque[RequestCycle] = deque()
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._singles = 0  # _SINGLE bits of the headers seen in this head
        self._in_head = False  # a request head has begun and is not complete
        self.final = False  # no more requests are read on this connection
        self._refusal: Refused | None = None  # to answer after the requests before it
        self._refusing = False

    # -- transport events --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self._client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._local = (str(local[0]), int(local[1])) if isinstance(local, tuple) else None
        self.deadline = self.server.now() + self.server.limits.head_seconds
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.lingering or self.final:
            return  # read and dropped: not a request
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol switch here (no WebSocket, no h2c): answer what was asked (a request
            # without a body, see on_headers_complete), then close.
            last = self._waiting[-1] if self._waiting else self._current
            if last is not None:
                last.keep_alive = False
            self.resume_input()
            self.final = True
        except httptools.HttpParserCallbackError as error:
            reject = error.__context__
            if isinstance(reject, _Stop):
                return
            if isinstance(reject, _Reject):
                self._fail(reject.status, reject.code)
            else:
                self._fail(400, "malformed_request")
        except httptools.HttpParserError as error:
            self._fail(*_PARSER_ERRORS.get(str(error), (400, "malformed_request")))

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.forget(self)
        for cycle in (self._current, self._parsing, *self._waiting):
            if cycle is not None:
                cycle.wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.deadline = self.server.now() + self.server.limits.send_seconds

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.lingering:
            idle = self._current is None
            self.deadline = (
                self.server.now() + self.server.limits.keepalive_seconds if idle else 0.0
            )
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    async def drain(self) -> None:
        if self.write_paused and not self.closed:
            self._drain = self.loop.create_future()
            await self._drain

    def pause_input(self) -> None:
        if not self.input_paused and not self.closed:
            self.input_paused = True
            self.transport.pause_reading()

    def resume_input(self) -> None:
        if self.input_paused and not self.closed:
            self.input_paused = False
            self.transport.resume_reading()

    # -- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._singles = 0
        self._in_head = True
        if self._current is None:
            self.deadline = self.server.now() + self.server.limits.head_seconds

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > self.server.limits.max_head_bytes:
            raise _Reject(414, "uri_too_long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._parsing is not None:
            # A trailer field (after a chunked body): read within the head's size limit and
            # dropped, never merged into the headers the app has seen or will see.
            if self._head_bytes > self.server.limits.max_head_bytes:
                raise _Reject(431, "headers_too_large")
            return
        if (
            self._head_bytes > self.server.limits.max_head_bytes
            or len(self._headers) >= self.server.limits.max_headers
        ):
            raise _Reject(431, "headers_too_large")
        name = name.lower()
        if value and value[-1] in _OWS:  # llhttp keeps trailing white space (RFC 9110 5.5)
            value = value.rstrip(b" \t")
        single = _SINGLE.get(name)
        if single is not None:
            if self._singles & single:
                raise _Reject(400, "duplicate_header")
            self._singles |= single
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        self._in_head = False
        version = self._version()
        # llhttp skips the body of an upgrade request; CONNECT asks for a tunnel. Neither is
        # answered here: a request with a body would reach the app without it.
        if parser.should_upgrade() and (
            parser.get_method() == b"CONNECT"
            or any(
                name in (b"content-length", b"transfer-encoding") and value.strip() != b"0"
                for name, value in self._headers
            )
        ):
            raise _Reject(400, "malformed_request")
        url = self._url
        if url[:1] == b"/":
            raw_path, _, query = url.partition(b"?")
        else:  # absolute form (or "*"): RFC 9112 3.2.2
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise _Reject(400, "malformed_request") from None
            raw_path, query = parsed.path or b"/", parsed.query or b""
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError:
            raise _Reject(400, "malformed_request") from None
        if "%" in path:
            path = unquote(path)
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": version,
            "server": self._local,
            "client": self._client,
            "scheme": "http",
            "method": parser.get_method().decode("ascii"),
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
        }
        cycle = RequestCycle(self, scope, parser.should_keep_alive())
        for name, value in self._headers:
            if name == b"expect" and value.lower() == b"100-continue":
                cycle.continue_wanted = True
        self._parsing = cycle
        if self._current is None:
            self._start(cycle)
        else:
            self._waiting.append(cycle)
            if len(self._waiting) >= _MAX_PIPELINED:
                self.pause_input()

    def _version(self) -> str:
        """The request's HTTP version, once it is known to be served (1.0, or 1.1 with Host)."""
        version = self.parser.get_http_version()
        if version not in _VERSIONS:
            raise _Reject(505, "http_version_not_supported")
        if not self._singles & _HOST and version == "1.1":
            raise _Reject(400, "host_missing")  # RFC 9112 3.2
        return version

    def on_body(self, body: bytes) -> None:
        cycle = self._parsing
        if cycle is None:
            return
        cycle.body.append(body)
        cycle.body_size += len(body)
        if cycle.body_size > _BODY_HIGH_WATER:
            self.pause_input()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self._parsing
        if cycle is not None:
            cycle.complete = True
            cycle.wake()
            self._parsing = None
            if not cycle.keep_alive:
                # The connection closes after this answer: what follows is not a request
                # (it is read and dropped, and the answer is sent whole).
                self.final = True
                raise _Stop

    # -- answering ---------------------------------------------------------------------------
    def _start(self, cycle: RequestCycle) -> None:
        self._current = cycle
        self.deadline = 0.0  # the app's own time limits apply while it works
        self.loop.create_task(self._run(cycle))

    async def _run(self, cycle: RequestCycle) -> None:
        try:
            await self.server.app(cycle.scope, cycle.receive, cycle.send)
        except RequestMalformed:
            if not cycle.started and not self.closed:
                self.transport.write(_plain_response(400, b"Malformed request body\n"))
            self._close(lingering=True)
            return
        except Exception:
            if not cycle.started and not self.closed:
                log.exception("gateway server: the app failed before answering")
                self.transport.write(_plain_response(500, b"Internal Server Error\n"))
            elif not cycle.response_complete:
                log.debug("gateway server: response cut", exc_info=True)
            self._close()
            return
        if self.closed:
            return
        if not cycle.response_complete:
            if cycle.started:  # the app returned mid-response: the client must see it cut
                self._close()
                return
            log.error("gateway server: the app returned without answering")
            self.transport.write(_plain_response(500, b"Internal Server Error\n"))
            self._close()

    def finished(self, cycle: RequestCycle) -> None:
        """The answer of ``cycle`` is written: next request, keep-alive wait, or close."""
        self._current = None
        cycle.wake()
        if not cycle.keep_alive or not self.server.serving or not cycle.complete:
            # Lingering: the client may still be sending (a body the app did not read, or
            # bytes after a request that closes the connection); a plain close would answer
            # them with a reset that can destroy the answer in the client's buffer.
            self._close(lingering=True)
            return
        if self._waiting:
            self._start(self._waiting.popleft())
            self.resume_input()
        elif self._refusal is not None:
            self._answer_refusal()
        else:
            self.deadline = self.server.now() + self.server.limits.keepalive_seconds

    def _fail(self, status: int, code: str) -> None:
        """The parser refused what it read: nothing more is read as a request."""
        if self.closed or self.final:
            return
        self.final = True
        cycle = self._parsing
        if cycle is not None:  # the body of a request being received is malformed
            self._parsing = None
            cycle.malformed = True
            cycle.keep_alive = False
            cycle.wake()
            return
        self._refusal = self._refused(status, code)
        if self._current is None:
            self._answer_refusal()
        # else: answered when the requests before it are (finished)

    def _refused(self, status: int, code: str) -> Refused:
        try:
            method: str | None = self.parser.get_method().decode("ascii")
        except (httptools.HttpParserError, UnicodeDecodeError):
            method = None
        return Refused(status, code, method, self._url, self._headers, self._client)

    def _answer_refusal(self) -> None:
        refusal = self._refusal
        if refusal is None or self._refusing or self.closed:
            return
        self._refusing = True
        self.deadline = 0.0
        self.loop.create_task(self._send_refusal(refusal))

    async def _send_refusal(self, refusal: Refused) -> None:
        answer = None
        hook = self.server.refused
        if hook is not None:
            try:
                answer = await hook(refusal)
            except Exception:
                log.exception("gateway server: the app's refusal hook failed")
        if self.closed:
            return
        if answer is None:
            self.transport.write(_plain_response(refusal.status, REASONS[refusal.status]))
        else:
            headers, body = answer
            lines = [b"HTTP/1.1 %d %s\r\n" % (refusal.status, REASONS[refusal.status])]
            lines.extend(
                b"%s: %s\r\n" % (name, value)
                for name, value in headers
                if name.lower() not in _FRAMING  # this server's own, set below
            )
            lines.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
            self.transport.write(b"".join(lines) + body)
        self._close(lingering=True)

    def _close(self, *, lingering: bool = False) -> None:
        if self.closed:
            return
        if lingering and self.transport.can_write_eof():
            # Shut our side, read and drop what the client still sends for a while, then close:
            # closing with unread input would send a reset that can destroy the answer.
            self.lingering = True
            self.resume_input()
            with contextlib.suppress(OSError):
                self.transport.write_eof()
            self.deadline = self.server.now() + _LINGER_SECONDS
            return
        self.closed = True
        self.transport.close()

    def expire(self, now: float) -> None:
        """Called by the sweep: close the connection if its current deadline passed."""
        if self.deadline and now >= self.deadline and not self.closed:
            if self.write_paused or self.lingering:
                self.closed = True
                self.transport.abort()
            elif self._current is not None and not self._current.complete:
                # A stalled request body: the app sees the client gone.
                self.closed = True
                self.transport.close()
                self._current.wake()
            elif self._in_head and self._current is None:
                # A head not received in time (slowloris): 408, audited by the app's hook.
                self.final = True
                self._refusal = self._refused(408, "head_timeout")
                self._answer_refusal()
            else:
                self.closed = True
                self.transport.close()

    def close_if_idle(self) -> None:
        if (
            self._current is None
            and self._parsing is None
            and not self._refusing
            and not self.closed
        ):
            self.closed = True
            self.transport.close()


class Server:
    """The connections of one worker process and their sweep."""

    def __init__(self, app: ASGIApp, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.app = app
        self.loop = loop
        self.limits = limits
        self.refused: RefusedHook | None = getattr(app, "refused", None)
        self.now = loop.time
        self.connections: set[HTTPConnection] = set()
        self.serving = True
        self._sweeper: asyncio.TimerHandle | None = None
        self._all_closed = asyncio.Event()

    def forget(self, connection: HTTPConnection) -> None:
        self.connections.discard(connection)
        if not self.serving and not self.connections:
            self._all_closed.set()

    def protocol(self) -> HTTPConnection:
        return HTTPConnection(self)

    def start_sweeping(self) -> None:
        self._sweeper = self.loop.call_later(1.0, self.sweep)

    def sweep(self) -> None:
        now = self.now()
        for connection in list(self.connections):
            connection.expire(now)
        self._sweeper = self.loop.call_later(1.0, self.sweep)

    async def shut_down(self, grace_seconds: float) -> None:
        """Stop keep-alive, close idle connections, wait for answers in progress (bounded)."""
        self.serving = False
        for connection in list(self.connections):
            connection.close_if_idle()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), grace_seconds)
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                connection.transport.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
