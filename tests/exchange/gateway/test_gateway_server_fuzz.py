"""Differential fuzzing of the gateway's HTTP/1.1 server against h11 as the reference parser.

Hypothesis generates byte streams of one to four pipelined requests (methods, targets, header
names and values with optional whitespace, Content-Length and chunked bodies with extensions
and trailers, HTTP/1.0 and ``Connection: close``), sometimes broken on purpose (a bad chunk,
a missing or second Host, another HTTP version, too many or too large headers, a second
Authorization or Content-Length), sends each, cut in pieces, to :class:`Server` over a real
socket and parses the same bytes with h11. The server must hand the app exactly the requests
h11 reads (method, target, version, headers without trailers, body), in order, answer each,
stop after one that closes the connection, and answer a request h11 refuses with an error
status, then close. Where the server is stricter than h11 on purpose (a second Authorization
or Content-Length, more than ``max_headers`` headers or ``max_head_bytes`` of head, versions
other than 1.0 and 1.1), the expected answer is that refusal.

The run is bounded (``TINHSO_FUZZ_EXAMPLES``, 200 by default, derandomised so the suite is
repeatable); a longer, random run::

    TINHSO_FUZZ_EXAMPLES=20000 PYTHONPATH=src pytest -p no:cacheprovider \\
        tests/exchange/gateway/test_gateway_server_fuzz.py
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import h11
import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinhso.exchange.gateway.http.server import Limits, Server

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableMapping

EXAMPLES = int(os.environ.get("TINHSO_FUZZ_EXAMPLES", "200"))
LIMITS = Limits(max_head_bytes=8192, max_headers=30, head_seconds=5.0, keepalive_seconds=5.0)
# h11 may buffer more than the server takes: the server's own limits are checked separately.
H11_BUFFER = 64 * 1024


async def echo(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Answers what it was given: method, target, version, headers and body (hex)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()  # a malformed body raises: the server answers 400
        if message["type"] == "http.disconnect":
            return
        body += message["body"]
        if not message["more_body"]:
            break
    target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
    data = json.dumps(
        {
            "method": scope["method"],
            "target": target.decode("latin-1"),
            "version": scope["http_version"],
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
            "body": body.hex(),
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class Running:
    """The server on its own event loop in a thread, for the whole module."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.server = Server(echo, self.loop, LIMITS)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.listener: asyncio.AbstractServer | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.listener = self.loop.run_until_complete(
            self.loop.create_server(self.server.protocol, sock=self.sock)
        )
        self.server.start_sweeping()
        self.loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            if self.listener is not None:
                self.listener.close()
            await self.server.shut_down(1.0)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(close(), self.loop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    server = Running()
    server.thread.start()
    yield server
    server.stop()


# -- generated requests ---------------------------------------------------------------------------
@dataclass
class Generated:
    data: bytes
    stricter: int | None = None  # the status the server answers although h11 accepts it


TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789-_!#$%&'*+.^`|~"
RESERVED = {
    "host", "content-length", "transfer-encoding", "connection", "expect", "upgrade", "te",
    "trailer", "keep-alive", "authorization", "proxy-connection", "http2-settings",
}  # fmt: skip
names = st.text(TOKEN, min_size=1, max_size=12).filter(lambda n: n.lower() not in RESERVED)
# Visible ASCII and inner spaces/tabs, optional whitespace around (optional white space).
values = st.builds(
    lambda pre, core, post: pre + core + post,
    st.sampled_from(["", " ", "  ", "\t"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).map(
        lambda v: v.replace("  ", " ")
    ),
    st.sampled_from(["", " ", "\t"]),
)
segments = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._~%2F", min_size=1, max_size=8)
targets = st.builds(
    lambda parts, query: "/" + "/".join(parts) + (f"?{query}" if query else ""),
    st.lists(segments, max_size=4),
    st.one_of(st.just(""), st.text("abc=&xyz0123456789%", max_size=12)),
)
FLAWS = [
    None, None, None, None, None, None,  # most requests are well formed
    "bad_chunk", "no_host", "two_hosts", "version", "too_many_headers", "huge_header",
    "two_authorizations", "two_lengths", "space_before_colon",
]  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> Generated:  # noqa: PLR0912 - one branch per flaw
    flaw = draw(st.sampled_from(FLAWS))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    version = draw(st.sampled_from(["1.1", "1.1", "1.1", "1.0"]))
    if flaw == "version":
        version = draw(st.sampled_from(["2.0", "0.9", "1.2", "3.0"]))
    headers = draw(st.lists(st.tuples(names, values), max_size=6))
    stricter: int | None = None
    if version != "1.0" and flaw != "no_host":
        headers.insert(
            draw(st.integers(0, len(headers))),
            ("Host", draw(st.sampled_from(["gw", "gw:8080", "[::1]"]))),
        )
    if flaw == "two_hosts":
        headers.append(("host", "other"))
    if flaw == "two_authorizations":
        headers += [("Authorization", "Bearer a"), ("authorization", "Bearer b")]
        stricter = 400
    if flaw == "too_many_headers":
        headers += [(f"x-many-{i}", "1") for i in range(LIMITS.max_headers + 1)]
        stricter = 431
    if flaw == "huge_header":
        headers.append(("x-huge", "h" * (LIMITS.max_head_bytes + 100)))
        stricter = 431
    if draw(st.booleans()) and version == "1.1":
        headers.append(("Connection", "close"))
    body = draw(st.binary(max_size=300)) if method in {"POST", "PUT", "PATCH"} else b""
    framing = draw(st.sampled_from(["length", "chunked"])) if body or flaw == "bad_chunk" else ""
    if version != "1.1" and framing == "chunked":
        framing = "length"
    if flaw == "bad_chunk" and framing != "chunked":
        framing, version = "chunked", "1.1"
        if not any(name.lower() == "host" for name, _ in headers):
            headers.append(("host", "gw"))
    payload = b""
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
        if flaw == "two_lengths":
            headers.append(("content-length", str(len(body))))
            stricter = 400  # llhttp refuses even two equal lengths; h11 merges them
        payload = body
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        for part in parts:
            if not part:
                continue
            size = draw(st.sampled_from(["%x", "%X", "%04x"])) % len(part)
            extension = draw(st.sampled_from(["", ";a=b", ";name"]))
            payload += f"{size}{extension}\r\n".encode() + part + b"\r\n"
        if flaw == "bad_chunk":
            payload += draw(st.sampled_from([b"zz\r\n", b"3\r\nabcd\r\n", b"1\r\nxyz", b"-1\r\n"]))
        else:
            trailers = draw(st.lists(st.tuples(names, st.sampled_from(["1", "v"])), max_size=2))
            payload += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
    lines = [f"{method} {draw(targets)} HTTP/{version}"]
    for name, value in headers:
        separator = " :" if flaw == "space_before_colon" and name == headers[0][0] else ":"
        lines.append(f"{name}{separator}{value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return Generated(head + payload, stricter)


# -- the reference --------------------------------------------------------------------------------
@dataclass
class Parsed:
    method: str
    target: str
    version: str
    headers: list[list[str]]
    body: bytes = b""
    closes: bool = False
    trailers: list[list[str]] = field(default_factory=list)


def reference(data: bytes) -> tuple[list[Parsed], bool]:
    """What h11 reads from ``data``: the complete requests, and whether it then refused."""
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=H11_BUFFER)
    connection.receive_data(data)
    parsed: list[Parsed] = []
    current: Parsed | None = None
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError:
            return parsed, True
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return parsed, False
        if isinstance(event, h11.Request):
            current = Parsed(
                event.method.decode(),
                event.target.decode("latin-1"),
                event.http_version.decode(),
                [[n.decode("latin-1"), v.decode("latin-1")] for n, v in event.headers.raw_items()],
            )
        elif isinstance(event, h11.Data):
            assert current is not None
            current.body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert current is not None
            current.closes = connection.their_state is h11.MUST_CLOSE
            parsed.append(current)
            if current.closes:
                return parsed, False
            connection.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
            connection.send(h11.EndOfMessage())
            connection.start_next_cycle()
            current = None


# -- the server under test ------------------------------------------------------------------------
def exchange(
    port: int, pieces: list[bytes], answers: int, *, closing: bool
) -> tuple[list[tuple[int, bytes]], bool]:
    """Send ``pieces``; read up to ``answers`` answers; (answers, whether the server closed,
    looked at only when it must: ``closing``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        for piece in pieces:
            try:
                client.sendall(piece)
            except OSError:  # the server refused and closed before everything was sent
                break
            time.sleep(0.001)
        received: list[tuple[int, bytes]] = []
        buffer = b""
        while len(received) < answers:
            while b"\r\n\r\n" not in buffer:
                part = _recv(client)
                if not part:
                    return received, True
                buffer += part
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
            length = int(fields["content-length"])
            while len(buffer) < length:
                part = _recv(client)
                assert part, "the server closed mid-answer"
                buffer += part
            received.append((int(lines[0].split()[1]), buffer[:length]))
            buffer = buffer[length:]
        assert not buffer, f"more than the expected answers: {buffer[:200]!r}"
        return received, closing and _recv(client, 5.0) == b""


def _recv(client: socket.socket, timeout: float = 10.0) -> bytes:
    client.settimeout(timeout)
    try:
        return client.recv(65536)
    except ConnectionResetError:
        return b""
    except TimeoutError:
        return b"<open>"


def _expected(generated: list[Generated]) -> tuple[list[Parsed | int], bool]:
    """The answers the server owes, in order: a request it must pass on, or a refusal status;
    and whether it must close after them."""
    parsed, refused = reference(b"".join(g.data for g in generated))
    expected: list[Parsed | int] = []
    for index, request in enumerate(parsed):
        stricter = generated[index].stricter
        if stricter is not None:
            return [*expected, stricter], True
        if request.version not in {"1.0", "1.1"}:
            return [*expected, 505], True
        expected.append(request)
        if request.closes:
            return expected, True
    if refused:
        return [*expected, generated[len(parsed)].stricter or 400], True
    return expected, False


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="TINHSO_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(requests(), min_size=1, max_size=4), st.data())
def test_the_server_reads_requests_as_h11_does(
    running: Running, generated: list[Generated], data: st.DataObject
) -> None:
    stream = b"".join(g.data for g in generated)
    cuts = sorted(data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=3)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected, must_close = _expected(generated)
    answers, server_closed = exchange(
        running.port, [p for p in pieces if p], len(expected), closing=must_close
    )
    assert len(answers) == len(expected), (answers, expected)
    for (status, body), owed in zip(answers, expected, strict=True):
        if isinstance(owed, int):
            # Refused: the status owed (a 400 may be any of the head's 4xx for a broken head).
            assert status == owed or (owed == 400 and status in {400, 414, 431, 505}), body
            continue
        assert status == 200, body
        seen = json.loads(body)
        assert (seen["method"], seen["target"], seen["version"]) == (
            owed.method,
            owed.target,
            owed.version,
        )
        assert [[n.lower(), v] for n, v in seen["headers"]] == [
            [n.lower(), v] for n, v in owed.headers
        ]
        assert bytes.fromhex(seen["body"]) == owed.body
    if must_close:
        assert server_closed, "the server kept the connection open"
