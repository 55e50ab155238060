"""The gateway's own HTTP/1.1 server, driven over real sockets with raw bytes.

Each test runs :class:`Server` on a uvloop event loop in a thread on a free loopback port with a
small ASGI app, and talks to it with a plain socket, so that framing, limits and timing are
exactly what a consumer would see. The supervisor (workers, restarts, graceful stop) is tested
with real processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvloop

from tests.conftest import TEST_SECRET
from tinhso.exchange.gateway.http.server import Limits, Refused, Server

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableMapping

ROOT = Path(__file__).resolve().parents[3]
seen: list[dict[str, Any]] = []


async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:  # noqa: PLR0911, PLR0912
    """Echo app: ``/echo`` answers the body it read; the others misbehave on purpose."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if os.environ.get("TEST_FAIL_STARTUP"):
                    await send({"type": "lifespan.startup.failed", "message": "no database"})
                    return
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    seen.append(
        {
            "path": path,
            "raw_path": scope["raw_path"],
            "query": scope["query_string"],
            "headers": scope["headers"],
        }
    )
    if path == "/slow":
        await asyncio.sleep(0.3)
    if path == "/pid":
        await _answer(send, 200, str(os.getpid()).encode())
        return
    if path == "/sleep":
        await asyncio.sleep(1.5)
        await _answer(send, 200, b"slept")
        return
    if path == "/refuse":  # answers without reading the body
        await _answer(send, 413, b"too large")
        return
    if path.startswith("/bad-header"):
        bad = {
            "/bad-header/value": (b"x-a", b"1\r\nx-b: 2"),
            "/bad-header/lf": (b"x-a", b"1\nx-b: 2"),
            "/bad-header/name": (b"x-b: 2\r\nx-a", b"1"),
            "/bad-header/colon": (b"x-b:x-a", b"1"),
        }[path]
        await send({"type": "http.response.start", "status": 200, "headers": [bad]})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one", b"two"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/cut":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("provider failed mid-response")
    chunks: list[int] = []
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            seen[-1]["disconnected"] = True
            return
        chunks.append(len(message["body"]))
        body += message["body"]
        if not message["more_body"]:
            break
    seen[-1]["chunks"] = chunks
    await _answer(send, 200, body)


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Hooked:
    """The echo app with the server's refusal hook (``refused``), as the gateway has it."""

    def __init__(self) -> None:
        self.refusals: list[Refused] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    async def refused(self, refused: Refused) -> tuple[list[tuple[bytes, bytes]], bytes]:
        await asyncio.sleep(0.05)  # like an audit write: the answer waits for it
        self.refusals.append(refused)
        body = b'{"code":"%s"}' % refused.code.encode()
        return [(b"content-type", b"application/problem+json")], body


class Running:
    def __init__(self, limits: Limits, asgi: Any = app) -> None:
        self.loop = uvloop.new_event_loop()
        self.server = Server(asgi, self.loop, limits)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.clients: list[socket.socket] = []
        self.listener: asyncio.AbstractServer | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.listener = self.loop.run_until_complete(
            self.loop.create_server(self.server.protocol, sock=self.sock)
        )
        self.server.start_sweeping()
        self.loop.run_forever()

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            _unread.pop(client.fileno(), None)
            client.close()

        async def close() -> None:
            if self.listener is not None:
                self.listener.close()
            await self.server.shut_down(1.0)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(close(), self.loop)
        self.thread.join(5)
        self.loop.close()


_LIMITS = Limits(head_seconds=1.0, keepalive_seconds=1.0, body_seconds=1.0)


@pytest.fixture
def server() -> Iterator[Running]:
    seen.clear()
    running = Running(_LIMITS)
    running.thread.start()
    yield running
    running.stop()


@pytest.fixture
def hooked() -> Iterator[tuple[Running, Hooked]]:
    seen.clear()
    asgi = Hooked()
    running = Running(_LIMITS, asgi)
    running.thread.start()
    yield running, asgi
    running.stop()


_unread: dict[int, bytes] = {}  # bytes received past the response read, per socket


def read_response(client: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response, framed by content-length or chunked encoding (the rest kept for the next)."""
    data = _unread.pop(client.fileno(), b"")

    def more() -> bytes:
        part = client.recv(65536)
        if not part:
            raise ConnectionError(f"closed mid-response: {data[:200]!r}")
        return part

    while b"\r\n\r\n" not in data:
        data += more()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    if status == 100 or "content-length" in headers:
        length = 0 if status == 100 else int(headers["content-length"])
        while len(rest) < length:
            rest += more()
        _unread[client.fileno()] = rest[length:]
        return status, headers, rest[:length]
    assert headers.get("transfer-encoding") == "chunked", headers
    body = b""
    while True:
        while b"\r\n" not in rest:
            rest += more()
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        while len(rest) < size + 2:
            rest += more()
        if size == 0:
            _unread[client.fileno()] = rest[2:]
            return status, headers, body
        body, rest = body + rest[:size], rest[size + 2 :]


def closed(client: socket.socket, within: float = 5.0) -> bool:
    client.settimeout(within)
    try:
        while client.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_keep_alive_raw_path_and_http10(server: Running) -> None:
    client = server.connect()
    for _ in range(2):
        client.sendall(
            b"POST /echo/a%2Fb/%2e%2e/x?q=1 HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello"
        )
        status, headers, body = read_response(client)
        assert (status, body) == (200, b"hello")
        assert "connection" not in headers
    assert seen[0]["raw_path"] == b"/echo/a%2Fb/%2e%2e/x"
    assert seen[0]["path"] == "/echo/a/b/../x"
    assert seen[0]["query"] == b"q=1"
    client.sendall(b"GET /echo HTTP/1.0\r\n\r\n")
    status, headers, _ = read_response(client)
    assert status == 200 and headers["connection"] == "close"
    assert closed(client)


def test_pipelined_requests_are_answered_in_order(server: Running) -> None:
    client = server.connect()
    client.sendall(
        b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nfirst"
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nsecond"
    )
    assert read_response(client)[2] == b"first"
    assert read_response(client)[2] == b"second"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /echo HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (
            b"GET /echo HTTP/1.1\r\nhost: x\r\n"
            + b"".join(b"x-%d: 1\r\n" % i for i in range(101))
            + b"\r\n",
            431,
        ),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n", 414),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        # Request smuggling: both framings, or two lengths.
        (
            b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
            400,
        ),
        (b"CONNECT provider:443 HTTP/1.1\r\nhost: provider:443\r\n\r\n", 400),
        (
            b"POST /echo HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\ncontent-length: 4\r\n\r\nabcd",
            400,
        ),
        # Exactly one Host (and one on HTTP/1.1); one Authorization; HTTP/1.0 and 1.1 only.
        (b"GET /echo HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nx-a: 1\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nhost: a\r\nauthorization: a\r\nAuthorization: b\r\n\r\n", 400),
        (b"GET /echo HTTP/1.2\r\nhost: x\r\n\r\n", 505),
        (b"GET /echo HTTP/2.0\r\nhost: x\r\n\r\n", 505),
        (b"GET /echo HTTP/0.9\r\nhost: x\r\n\r\n", 505),
    ],
)
def test_malformed_or_oversized_requests_are_refused(
    server: Running, request_bytes: bytes, status: int
) -> None:
    client = server.connect()
    client.sendall(request_bytes)
    answer, headers, _ = read_response(client)
    assert answer == status
    assert headers["connection"] == "close"
    assert closed(client)
    assert not any(entry.get("chunks") for entry in seen)  # the app never got a body


def test_slow_head_and_idle_connections_are_closed(server: Running) -> None:
    slow = server.connect()
    slow.sendall(b"GET /echo HTTP/1.1\r\nhost: x\r\nx-a: 1\r\n")  # never finished (slowloris)
    idle = server.connect()
    idle.sendall(b"GET /echo HTTP/1.1\r\nhost: x\r\n\r\n")
    assert read_response(idle)[0] == 200
    started = time.monotonic()
    assert closed(slow, within=4) and closed(idle, within=4)
    assert time.monotonic() - started < 3.5
    assert [entry["path"] for entry in seen] == ["/echo"]


def test_stalled_body_is_a_disconnect_for_the_app(server: Running) -> None:
    client = server.connect()
    client.sendall(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly part")
    assert closed(client, within=4)
    deadline = time.monotonic() + 2
    while not seen or "disconnected" not in seen[-1]:
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def test_expect_continue_chunked_body_and_large_body_in_parts(server: Running) -> None:
    client = server.connect()
    client.sendall(
        b"POST /echo HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n"
    )
    assert read_response(client)[0] == 100
    client.sendall(b"data")
    assert read_response(client)[2] == b"data"
    client.sendall(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert read_response(client)[2] == b"abcde"
    big = os.urandom(3 * 1024 * 1024)
    client.sendall(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(big) + big)
    assert read_response(client)[2] == big
    assert len(seen[-1]["chunks"]) > 1  # handed over in parts, not buffered whole


def test_answers_without_content_length_head_and_cut_responses(server: Running) -> None:
    client = server.connect()
    client.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers, body = read_response(client)
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", b"onetwo")
    client.sendall(b"HEAD /echo HTTP/1.1\r\nhost: x\r\n\r\n")
    client.settimeout(5)
    head = client.recv(65536)
    assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")  # no body
    client.sendall(b"GET /cut HTTP/1.1\r\nhost: x\r\n\r\n")
    with pytest.raises(ConnectionError, match="closed mid-response"):
        read_response(client)


@pytest.mark.parametrize("case", ["value", "lf", "name", "colon"])
def test_header_injection_from_the_app_is_a_500(server: Running, case: str) -> None:
    client = server.connect()
    client.sendall(b"GET /bad-header/%s HTTP/1.1\r\nhost: x\r\n\r\n" % case.encode())
    status, headers, _ = read_response(client)
    assert status == 500 and "x-b" not in headers


def test_answer_before_the_body_reaches_the_client(server: Running) -> None:
    """A refusal that leaves a large body unread is read by the client, not reset away."""
    client = server.connect()
    client.sendall(b"POST /refuse HTTP/1.1\r\nhost: x\r\ncontent-length: 50000000\r\n\r\n")
    client.sendall(b"x" * 1_000_000)
    status, headers, body = read_response(client)
    assert (status, body, headers["connection"]) == (413, b"too large", "close")


def _supervised(workers: int, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    code = (
        "import sys; from tinhso.exchange.gateway.processes import run;"
        f" sys.exit(run('tests.exchange.gateway.test_gateway_server:app', '127.0.0.1', {port}, {workers},"
        " grace_seconds=5))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        # The code under test (src/), not whichever tinhso the interpreter has installed.
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT), str(ROOT / "src"))), **env},
        start_new_session=True,
    )
    return process, port


def _get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"GET %s HTTP/1.1\r\nhost: x\r\n\r\n" % path.encode())
                status, _, body = read_response(client)
                return status, body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _children(supervisor: int) -> set[int]:
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as children:  # noqa: PTH123
        return {int(pid) for pid in children.read().split()}


def test_supervisor_restarts_workers_and_stops_gracefully() -> None:
    process, port = _supervised(2)
    try:
        _get(port, "/pid", 60.0)  # the workers are up (slow to import on a busy machine)
        pids = {int(_get(port, "/pid")[1]) for _ in range(40)}
        workers = _children(process.pid)
        assert len(workers) == 2
        assert pids <= workers  # answered by the two forked workers, not the supervisor
        victim = pids.pop()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:  # a replacement answers; the killed one never again
            answered = {int(_get(port, "/pid")[1]) for _ in range(40)}
            assert victim not in answered
            if answered - pids:
                break
            assert time.monotonic() < deadline
        # SIGTERM while a request is in progress: it is answered, then everything exits.
        result: list[tuple[int, bytes]] = []
        thread = threading.Thread(target=lambda: result.append(_get(port, "/sleep", 0)))
        thread.start()
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGTERM)
        thread.join(10)
        assert result == [(200, b"slept")]
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_worker_that_cannot_start_stops_the_gateway() -> None:
    process, _ = _supervised(2, TEST_FAIL_STARTUP="1")
    try:
        assert process.wait(20) == 1
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_port_in_use_is_a_clear_cli_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = int(taken.getsockname()[1])
        env = {k: v for k, v in os.environ.items() if not k.startswith("TINHSO_")}
        env.update(
            TINHSO_ENVIRONMENT="test",
            TINHSO_SECRET_KEY=TEST_SECRET,
            TINHSO_DATA_DIR=str(tmp_path),
            TINHSO_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            COLUMNS="200",
        )
        result = subprocess.run(
            [sys.executable, "-m", "tinhso.cli", "gateway", "--port", str(port)],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 2, output
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_connection_limits_come_from_the_gateway_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinhso.core.config import Settings  # noqa: PLC0415
    from tinhso.exchange.gateway.app import connection_limits  # noqa: PLC0415

    monkeypatch.setenv("TINHSO_GATEWAY_HEAD_SECONDS", "3")
    monkeypatch.setenv("TINHSO_GATEWAY_MAX_HEAD_BYTES", "4096")
    limits = connection_limits(Settings(_env_file=None).gateway)
    assert (limits.head_seconds, limits.max_head_bytes) == (3.0, 4096)
    assert limits.keepalive_seconds == Limits().keepalive_seconds  # unset: the server's default


def test_trailers_are_never_merged_into_the_request_headers(server: Running) -> None:
    client = server.connect()
    client.sendall(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\nauthorization: Bearer other\r\nx-tinhso-consumer: a/b\r\n\r\n"
        b"GET /echo HTTP/1.1\r\nhost: x\r\n\r\n"
    )
    assert read_response(client)[2] == b"abc"
    assert read_response(client)[0] == 200
    for entry in seen:  # after both answers: nothing was added to what the app was given
        assert [name for name, _ in entry["headers"]] in (
            [b"host", b"transfer-encoding"],
            [b"host"],
        )


def test_a_malformed_chunked_body_is_answered_400_not_dropped(server: Running) -> None:
    client = server.connect()
    client.sendall(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"
    )
    status, headers, _ = read_response(client)
    assert (status, headers["connection"]) == (400, "close")
    assert closed(client)
    assert "disconnected" not in seen[-1]  # the app was told "malformed", not "gone"


@pytest.mark.parametrize(
    "following",
    [
        b"NOT HTTP AT ALL\r\n\r\n",  # garbage after the request
        b"GET /echo HTTP/1.1\r\nhost: x\r\n\r\n" + b"x" * 2_000_000,  # a request, then a flood
    ],
)
@pytest.mark.parametrize(
    "closing",
    [
        b"GET /slow HTTP/1.0\r\n\r\n",
        b"GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    ],
)
def test_a_closing_request_gets_its_whole_answer_whatever_follows(
    server: Running, closing: bytes, following: bytes
) -> None:
    client = server.connect()
    client.sendall(closing)
    with contextlib.suppress(OSError):  # the server may shut its side before the flood is in
        client.sendall(following)
    status, headers, body = read_response(client)
    assert (status, headers["connection"], body) == (200, "close", b"")
    assert closed(client)  # and nothing else: what followed was not read as a request
    assert [entry["path"] for entry in seen] == ["/slow"]


def test_a_bad_request_after_pipelined_ones_is_answered_after_them(server: Running) -> None:
    client = server.connect()
    client.sendall(
        b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nfirst"
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nsecond"
        b"BAD / HTTP/1.1\r\n\r\n"
    )
    assert read_response(client)[2] == b"first"
    assert read_response(client)[2] == b"second"
    status, headers, _ = read_response(client)
    assert (status, headers["connection"]) == (400, "close")
    assert closed(client)


def test_refusals_of_the_http_layer_go_through_the_apps_hook(
    hooked: tuple[Running, Hooked],
) -> None:
    running, asgi = hooked
    cases = [
        (b"GET /x?q=1 HTTP/1.1\r\nhost: a\r\nauthorization: t\r\nhost: b\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nhost: a\r\n" + b"x-a: 1\r\n" * 101 + b"\r\n", 431),
        (b"GET /x HTTP/3.0\r\nhost: a\r\n\r\n", 505),
    ]
    for request, status in cases:
        client = running.connect()
        client.sendall(request)
        answer, headers, body = read_response(client)
        assert (answer, headers["content-type"]) == (status, "application/problem+json")
        assert body.startswith(b'{"code":')
    slow = running.connect()
    slow.sendall(b"POST /late HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\nx-a: never")
    assert read_response(slow)[0] == 408
    assert [(r.status, r.code, r.method) for r in asgi.refusals] == [
        (400, "duplicate_header", "GET"),
        (431, "headers_too_large", "GET"),
        (505, "http_version_not_supported", "GET"),
        (408, "head_timeout", "POST"),
    ]
    first, timed_out = asgi.refusals[0], asgi.refusals[-1]
    assert (first.target, first.headers) == (b"/x?q=1", [(b"host", b"a"), (b"authorization", b"t")])
    assert timed_out.headers == [(b"host", b"a"), (b"authorization", b"Bearer t")]
    assert timed_out.client is not None and timed_out.client[0] == "127.0.0.1"
    assert not seen  # the app was never called for any of them
