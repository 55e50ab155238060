"""One request on a consumer connection of the gateway's server, and its answer.

:class:`RequestCycle` is what the ASGI app sees of one request (:meth:`RequestCycle.receive`
hands over the body as it arrives, :meth:`RequestCycle.send` takes the answer); it frames the
answer (Content-Length as given, else chunked on HTTP/1.1, else the close; no body for HEAD)
and refuses response headers that would split the response. The connection it belongs to is
:class:`tinhso.exchange.gateway.http.server.HTTPConnection`.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import MutableMapping

    from tinhso.exchange.gateway.http.server import HTTPConnection

    Message = MutableMapping[str, Any]

REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 5.1)
_TOKENS: set[bytes] = set()  # response header names already checked (bounded)


class ConsumerDisconnected(OSError):
    """``send`` on a connection the consumer has left (ASGI spec 2.4: a subclass of OSError)."""


def _check_name(name: bytes) -> None:
    if _TOKEN.fullmatch(name) is None:
        msg = f"invalid response header name {name[:40]!r}"
        raise ValueError(msg)
    if len(_TOKENS) < 4096:
        _TOKENS.add(name)


class RequestMalformed(Exception):
    """Raised by ``receive``: the request body turned out malformed (a bad chunk, a trailer
    over the limit). Nothing more of it comes; the connection closes after the answer."""


class RequestCycle:
    """One request and its answer on a connection."""

    __slots__ = (
        "body",
        "body_size",
        "chunked",
        "complete",
        "connection",
        "continue_wanted",
        "delivered",
        "expected",
        "head",
        "keep_alive",
        "malformed",
        "response_complete",
        "scope",
        "sent",
        "started",
        "waiter",
    )

    def __init__(self, connection: HTTPConnection, scope: dict[str, Any], keep_alive: bool):
        self.connection = connection
        self.scope = scope
        self.keep_alive = keep_alive
        self.body: list[bytes] = []
        self.body_size = 0
        self.complete = False  # the whole request body has arrived
        self.delivered = False  # ... and the app has been given all of it
        self.continue_wanted = False
        self.malformed = False  # the body broke the HTTP framing (see RequestMalformed)
        self.waiter: asyncio.Future[None] | None = None
        self.started = False
        self.response_complete = False
        self.head = b""
        self.chunked = False
        self.expected: int | None = None  # the answer's content-length, if it gave one
        self.sent = 0

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def receive(self) -> Message:
        connection = self.connection
        if self.continue_wanted:
            self.continue_wanted = False
            if not self.complete and not connection.closed:
                connection.transport.write(_CONTINUE)
        while not self.body and not self.complete and not self.malformed and not connection.closed:
            connection.resume_input()
            connection.deadline = connection.server.now() + connection.server.limits.body_seconds
            self.waiter = connection.loop.create_future()
            await self.waiter
        if not connection.write_paused:
            connection.deadline = 0.0  # back to the app's own time limits
        if self.malformed and not self.body:
            raise RequestMalformed
        if self.delivered or (connection.closed and not self.body and not self.complete):
            if not self.response_complete and not connection.closed:
                self.waiter = connection.loop.create_future()
                await self.waiter  # until the client goes away or the answer is done
            return _DISCONNECT
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self.body.clear()
        self.body_size = 0
        self.delivered = self.complete
        if connection.input_paused:
            connection.resume_input()
        return {"type": "http.request", "body": body, "more_body": not self.complete}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        connection = self.connection
        if connection.closed:
            raise ConsumerDisconnected
        if kind == "http.response.start":
            if self.started:
                msg = "the response was already started"
                raise RuntimeError(msg)
            self.head = self._head(message["status"], message.get("headers", ()))
            self.started = True
            return
        if kind != "http.response.body":
            msg = f"unexpected ASGI message {kind!r}"
            raise RuntimeError(msg)
        if not self.started or self.response_complete:
            msg = "response body outside a started response"
            raise RuntimeError(msg)
        more = message.get("more_body", False)
        data = self._frame(message.get("body", b""), more)
        if data:
            connection.transport.write(data)
        if not more:
            self.response_complete = True
            if self.expected is not None and self.sent < self.expected:
                self.keep_alive = False  # framing is broken: the client must see it cut
            connection.finished(self)
        elif connection.write_paused:
            await connection.drain()

    def _frame(self, body: bytes, more: bool) -> bytes:
        """What goes on the wire for one body message (with the head, if not sent yet)."""
        if self.scope["method"] == "HEAD":
            body = b""
        elif self.expected is not None:
            self.sent += len(body)
            if self.sent > self.expected:
                msg = "the response body is longer than its content-length"
                raise RuntimeError(msg)
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            if not more:
                data += b"0\r\n\r\n"
        else:
            data = body
        if self.head:
            data = self.head + data
            self.head = b""
        return data

    def _head(self, status: int, headers: Any) -> bytes:
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b""))]
        for name, value in headers:
            if name not in _TOKENS:
                _check_name(name)
            lowered = name.lower()
            if lowered == b"content-length":
                self.expected = int(value)
            elif lowered in (b"transfer-encoding", b"connection", b"keep-alive"):
                continue  # framing and connection management are this server's
            lines.append(b"%s: %s\r\n" % (name, value))
        if self.expected is None and status >= 200 and status not in (204, 304):
            if self.scope["http_version"] == "1.1":
                self.chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                self.keep_alive = False  # HTTP/1.0: the end of the body is the close
        if not self.complete:
            self.keep_alive = False  # answered before the whole body came: it is not read
        if not self.keep_alive or not self.connection.server.serving:
            self.keep_alive = False
            lines.append(b"connection: close\r\n")
        elif self.scope["http_version"] == "1.0":
            lines.append(b"connection: keep-alive\r\n")
        lines.append(b"\r\n")
        head = b"".join(lines)
        # Each line was made with exactly one CRLF at its end: any other CR or LF came from a
        # header value (response splitting). One count over the head instead of one per value.
        if head.count(b"\n") != len(lines) or head.count(b"\r") != len(lines):
            msg = "CR or LF in a response header value"
            raise ValueError(msg)
        return head
