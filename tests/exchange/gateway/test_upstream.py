"""UpstreamPool against a real asyncio HTTP/1.1 server started by each test (pytest-asyncio, auto
mode as configured in pyproject; one test also runs under uvloop, the production loop)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from typing import TYPE_CHECKING, cast

import httptools
import pytest
import uvloop

from tinhso.core.config import Settings
from tinhso.exchange.gateway.upstream import (
    UpstreamAddressRefused,
    UpstreamConnectError,
    UpstreamPool,
    UpstreamProtocolError,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
)
from tinhso.exchange.netpolicy import Destination, NetworkPolicy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

BIG_CHUNK = bytes(range(256)) * 256  # 64 KiB


class _ServerConn(asyncio.Protocol):
    """Serves one request at a time; the path picks the behaviour."""

    def __init__(self, server: ScriptedServer):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.die_on_next = False
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        self.server.accepted += 1
        self.server.transports.append(self.transport)

    def data_received(self, data: bytes) -> None:
        if self.die_on_next:
            assert self.transport is not None
            self.transport.close()
            return
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        if self.url == b"/early":  # answer before the request body has arrived
            self.send(413, b"too big")
        elif self.url == b"/impatient":  # gives up on a request body that is slow to come
            assert self.transport is not None
            asyncio.get_running_loop().call_later(0.3, self.transport.close)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        task = asyncio.get_running_loop().create_task(self.respond())
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    def send(self, status: int, body: bytes, extra: bytes = b"") -> None:
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %d X\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n%s\r\n%s"
            % (status, len(body), extra, body)
        )

    async def respond(self) -> None:  # noqa: PLR0912
        t = self.transport
        assert t is not None
        path = self.url.split(b"?")[0]
        method = self.parser.get_method()
        if path == b"/early":
            return
        if path == b"/normal":
            self.send(200, b"hello")
        elif path == b"/echo":
            self.send(200, b"".join(self.body))
        elif path == b"/headers":
            self.send(200, json.dumps(self.headers).encode())
        elif path == b"/slow":
            await asyncio.sleep(2)
            if not t.is_closing():
                self.send(200, b"late")
        elif path == b"/reset":
            sock = t.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            t.abort()
        elif path == b"/garbage":
            t.write(b"SPDY/9 banana\r\n\r\n")
        elif path == b"/close":
            self.send(200, b"bye", b"connection: close\r\n")
            t.close()
        elif path == b"/die-next":
            self.send(200, b"armed")
            self.die_on_next = True
        elif path == b"/chunked":
            t.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for _ in range(int(self.url.split(b"n=")[1])):
                t.write(b"%x\r\n%s\r\n" % (len(BIG_CHUNK), BIG_CHUNK))
                await asyncio.sleep(0)
            t.write(b"0\r\n\r\n")
        elif path == b"/until-close":
            t.write(b"HTTP/1.1 200 OK\r\n\r\nstreamed until close")
            t.close()
        elif path == b"/big":
            t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 99999999\r\n\r\nxx")
        elif path == b"/continue":
            t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.send(201, b"after interim")
        elif path == b"/trickle":  # a large answer, then its last bytes one by one
            t.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (len(BIG_CHUNK) * 4 + 100))
            t.write(BIG_CHUNK * 4)
            for _ in range(100):
                await asyncio.sleep(0.05)
                if t.is_closing():
                    return
                t.write(b"t")
        elif path == b"/head" and method == b"HEAD":
            t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
        else:
            self.send(404, b"")


class ScriptedServer:
    def __init__(self) -> None:
        self.accepted = 0
        self.transports: list[asyncio.Transport] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> ScriptedServer:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _ServerConn(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        for transport in self.transports:
            transport.abort()
        await self.server.wait_closed()
        await asyncio.sleep(0.01)


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    srv = await ScriptedServer().start()
    yield srv
    await srv.stop()


@pytest.fixture
async def pool(server: ScriptedServer) -> AsyncIterator[UpstreamPool]:
    p = UpstreamPool(
        "127.0.0.1",
        server.port,
        max_idle=4,
        stream_threshold=128 * 1024,
        max_response_bytes=8 * 1024 * 1024,
    )
    yield p
    await p.close()


async def test_keep_alive_reuses_one_connection(server: ScriptedServer, pool: UpstreamPool) -> None:
    for _ in range(20):
        response = await pool.request(b"GET", b"/normal?x=1", [(b"x-trace", b"1")], timeout=2)
        assert (response.status, response.body, response.stream) == (200, b"hello", None)
        assert (b"content-length", b"5") in response.headers
    assert server.accepted == 1
    assert pool.connections_opened == 1


async def test_concurrent_requests_keep_at_most_max_idle(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    responses = await asyncio.gather(
        *(pool.request(b"GET", b"/normal", [], timeout=2) for _ in range(10))
    )
    assert all(r.body == b"hello" for r in responses)
    assert server.accepted == 10
    assert pool.idle_count == 4


async def test_host_and_framing_headers_are_the_pools(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    headers = [
        (b"host", b"evil"),
        (b"connection", b"close"),
        (b"content-length", b"99"),
        (b"transfer-encoding", b"chunked"),
        (b"authorization", b"Bearer t"),
    ]
    response = await pool.request(b"GET", b"/headers", headers, timeout=2)
    seen = json.loads(response.body)
    assert seen["host"] == f"127.0.0.1:{server.port}"
    assert seen["authorization"] == "Bearer t"
    assert "connection" not in seen and "content-length" not in seen
    assert "transfer-encoding" not in seen
    with pytest.raises(ValueError, match="CR, LF or space"):
        await pool.request(b"GET", b"/headers", [(b"x-a", b"1\r\nx-b: 2")], timeout=2)
    assert server.accepted == 1


async def test_timeout_raises_within_margin_and_drops_connection(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await pool.request(b"GET", b"/slow", [], timeout=0.2)
    assert 0.19 <= time.monotonic() - started < 0.6
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2


async def test_connection_reset_raises_protocol_error(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    with pytest.raises(UpstreamProtocolError):
        await pool.request(b"GET", b"/reset", [], timeout=2)
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2


async def test_garbage_response_raises_protocol_error(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    with pytest.raises(UpstreamProtocolError, match="invalid response"):
        await pool.request(b"GET", b"/garbage", [], timeout=2)
    assert pool.idle_count == 0
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2


async def test_connection_close_is_not_reused(server: ScriptedServer, pool: UpstreamPool) -> None:
    assert (await pool.request(b"GET", b"/close", [], timeout=2)).body == b"bye"
    assert pool.idle_count == 0
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2


async def test_stale_idle_connection_is_replayed_for_idempotent_methods_only(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    await pool.request(b"GET", b"/die-next", [], timeout=2)
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2
    await pool.request(b"GET", b"/die-next", [], timeout=2)
    with pytest.raises(UpstreamProtocolError):
        await pool.request(b"POST", b"/echo", [], b"once", timeout=2)


async def test_big_chunked_body_is_streamed_then_connection_reused(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    response = await pool.request(b"GET", b"/chunked?n=64", [], timeout=2)  # 4 MiB
    assert response.stream is not None and response.body == b""
    assert all(name != b"transfer-encoding" for name, _ in response.headers)
    received = bytearray()
    chunks = 0
    async for chunk in response.stream:
        received += chunk
        chunks += 1
    assert len(received) == 64 * len(BIG_CHUNK)
    assert received[: len(BIG_CHUNK)] == BIG_CHUNK
    assert chunks > 1
    assert (await pool.request(b"GET", b"/chunked?n=1", [], timeout=2)).stream is None
    assert server.accepted == 1


async def test_abandoned_stream_closes_its_connection(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    response = await pool.request(b"GET", b"/chunked?n=64", [], timeout=2)
    assert response.stream is not None
    await anext(response.stream)
    await response.aclose()
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2


async def test_response_size_limit(server: ScriptedServer) -> None:
    small = UpstreamPool(
        "127.0.0.1", server.port, max_response_bytes=1024 * 1024, stream_threshold=64 * 1024
    )
    try:
        with pytest.raises(UpstreamResponseTooLarge):
            await small.request(b"GET", b"/big", [], timeout=2)
        response = await small.request(b"GET", b"/chunked?n=32", [], timeout=2)  # 2 MiB
        assert response.stream is not None
        with pytest.raises(UpstreamResponseTooLarge):
            async for _ in response.stream:
                pass
    finally:
        await small.close()


async def test_request_bodies_content_length_and_chunked(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    response = await pool.request(b"POST", b"/echo", [], b'{"a":1}', timeout=2)
    assert response.body == b'{"a":1}'

    async def parts() -> AsyncIterator[bytes]:
        for i in range(50):
            yield b"part-%d;" % i
        yield BIG_CHUNK

    response = await pool.request(b"PUT", b"/echo", [], parts(), timeout=2)
    assert response.body == b"".join(b"part-%d;" % i for i in range(50)) + BIG_CHUNK
    assert server.accepted == 1


async def test_early_answer_or_failing_upload_spends_the_connection(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    async def slow_parts() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 100
            await asyncio.sleep(0.01)

    response = await pool.request(b"POST", b"/early", [], slow_parts(), timeout=2)
    assert (response.status, response.body) == (413, b"too big")
    assert pool.idle_count == 0

    async def broken_parts() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        await pool.request(b"POST", b"/echo", [], broken_parts(), timeout=2)
    assert pool.idle_count == 0
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 3


async def test_head_interim_and_until_close_responses(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    response = await pool.request(b"HEAD", b"/head", [], timeout=2)
    assert (response.status, response.body) == (200, b"")
    assert (b"content-length", b"1234") in response.headers
    response = await pool.request(b"POST", b"/continue", [], b"x", timeout=2)
    assert (response.status, response.body) == (201, b"after interim")
    assert server.accepted == 1
    response = await pool.request(b"GET", b"/until-close", [], timeout=2)
    assert response.body == b"streamed until close"
    assert pool.idle_count == 0


async def test_cancelled_request_drops_connection(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    task = asyncio.create_task(pool.request(b"GET", b"/slow", [], timeout=5))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.idle_count == 0
    assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    assert server.accepted == 2


async def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = UpstreamPool("127.0.0.1", port)
    with pytest.raises(UpstreamConnectError):
        await pool.request(b"GET", b"/", [], timeout=1)
    await pool.close()


def test_under_uvloop() -> None:
    async def scenario() -> int:
        srv = await ScriptedServer().start()
        pool = UpstreamPool("127.0.0.1", srv.port, stream_threshold=64 * 1024)
        try:
            for _ in range(5):
                assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
            response = await pool.request(b"GET", b"/chunked?n=16", [], timeout=2)
            assert response.stream is not None
            size = sum([len(c) async for c in response.stream])
            assert size == 16 * len(BIG_CHUNK)
            with pytest.raises(UpstreamProtocolError):
                await pool.request(b"GET", b"/garbage", [], timeout=2)
            with pytest.raises(UpstreamTimeout):
                await pool.request(b"GET", b"/slow", [], timeout=0.1)
            return srv.accepted
        finally:
            await pool.close()
            await srv.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == 2  # garbage kills the first connection


async def test_a_slow_upload_stops_the_providers_clock(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    """While the body waits for the consumer the provider cannot answer: the timeout is the
    provider's time (sending to it, then its answer), not the consumer's."""

    async def drip() -> AsyncIterator[bytes]:
        for i in range(8):
            yield b"part-%d;" % i
            await asyncio.sleep(0.1)

    started = time.monotonic()
    response = await pool.request(b"POST", b"/echo", [], drip(), timeout=0.3)
    assert response.body == b"".join(b"part-%d;" % i for i in range(8))
    assert time.monotonic() - started > 0.7  # longer than the timeout, all of it the consumer's
    # Once the body is sent, the provider's clock runs again.
    with pytest.raises(UpstreamTimeout):
        await pool.request(b"POST", b"/slow", [], drip(), timeout=0.3)


async def test_a_provider_that_gives_up_on_a_slow_upload_is_the_consumers_doing(
    server: ScriptedServer, pool: UpstreamPool
) -> None:
    async def drip() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x"
            await asyncio.sleep(0.1)

    with pytest.raises(UpstreamProtocolError) as caught:
        await pool.request(b"POST", b"/impatient", [], drip(), timeout=5)
    assert caught.value.consumer_paced
    # A provider failing on its own is not.
    with pytest.raises(UpstreamProtocolError) as caught:
        await pool.request(b"GET", b"/reset", [], timeout=2)
    assert not caught.value.consumer_paced


async def test_a_trickled_answer_is_cut_by_the_providers_total_time(
    server: ScriptedServer,
) -> None:
    pool = UpstreamPool("127.0.0.1", server.port, stream_threshold=64 * 1024, stream_seconds=0.5)
    try:
        started = time.monotonic()
        response = await pool.request(b"GET", b"/trickle", [], timeout=2)  # 50 ms per byte
        assert response.stream is not None
        received = 0
        with pytest.raises(UpstreamTimeout):
            async for chunk in response.stream:
                received += len(chunk)
        assert received >= len(BIG_CHUNK) * 4
        assert time.monotonic() - started < 0.5 + 0.5
        # A slow reader spends its own time, not the provider's: a fast answer read slowly
        # for longer than the provider's total is whole.
        response = await pool.request(b"GET", b"/chunked?n=16", [], timeout=2)
        assert response.stream is not None
        size = 0
        async for chunk in response.stream:
            size += len(chunk)
            await asyncio.sleep(0.05)
        assert size == 16 * len(BIG_CHUNK)
    finally:
        await pool.close()


def _policy(**overrides: object) -> NetworkPolicy:
    return NetworkPolicy.from_settings(Settings(environment="test", **overrides))  # type: ignore[arg-type]


class _DNS:
    """A resolver the test controls: the name's answer changes when the test says so."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


async def test_dns_rebinding_is_refused_when_connecting(server: ScriptedServer) -> None:
    """A name that passed registration later resolves to a refused address: the pool checks
    the addresses when it connects, connects to the checked address (never to the name), and
    keeps it for the connection's life and the destination's ttl."""
    dns = _DNS({"his.so-yte.example": ["127.0.0.1"]})
    policy = _policy(exchange_allow_loopback=True)  # the test provider is on loopback
    destination = Destination("his.so-yte.example", server.port, policy, ttl=0.0, resolve=dns)
    pool = UpstreamPool("his.so-yte.example", server.port, destination=destination)
    try:
        response = await pool.request(b"GET", b"/headers", [], timeout=2)
        assert json.loads(response.body)["host"] == f"his.so-yte.example:{server.port}"
        assert server.accepted == 1  # the system resolver knows no such name: the pinned address
        for rebound in (["169.254.169.254"], ["127.0.0.1", "169.254.10.1"], ["0.0.0.0"], []):  # noqa: S104
            dns.answers["his.so-yte.example"] = rebound
            # The kept-alive connection was made to the checked address: it stays usable.
            assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
            await pool.request(b"GET", b"/close", [], timeout=2)  # the next one must connect
            accepted = server.accepted
            with pytest.raises(UpstreamAddressRefused):
                await pool.request(b"GET", b"/normal", [], timeout=2)
            assert server.accepted == accepted  # refused before any connection was made
            dns.answers["his.so-yte.example"] = ["127.0.0.1"]
            assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
    finally:
        await pool.close()
    # Without the loopback allowance a name resolving to loopback is never connected to.
    strict = UpstreamPool(
        "his.so-yte.example",
        server.port,
        destination=Destination("his.so-yte.example", server.port, _policy(), resolve=dns),
    )
    accepted = server.accepted
    try:
        with pytest.raises(UpstreamAddressRefused, match="loopback"):
            await strict.request(b"GET", b"/normal", [], timeout=2)
        ip_literal = UpstreamPool(
            "127.0.0.1",
            server.port,
            destination=Destination("127.0.0.1", server.port, _policy(), resolve=dns),
        )
        with pytest.raises(UpstreamAddressRefused):
            await ip_literal.request(b"GET", b"/normal", [], timeout=2)
        await ip_literal.close()
    finally:
        await strict.close()
    assert server.accepted == accepted


async def test_checked_addresses_are_kept_for_their_ttl(server: ScriptedServer) -> None:
    dns = _DNS({"his.so-yte.example": ["127.0.0.1"]})
    policy = _policy(exchange_allow_loopback=True)
    destination = Destination("his.so-yte.example", server.port, policy, ttl=60, resolve=dns)
    pool = UpstreamPool("his.so-yte.example", server.port, max_idle=0, destination=destination)
    try:
        responses = await asyncio.gather(
            *(pool.request(b"GET", b"/normal", [], timeout=2) for _ in range(10))
        )
        assert {r.body for r in responses} == {b"hello"}
        assert server.accepted == 10  # ten connections (none kept idle) ...
        assert dns.lookups == 1  # ... one lookup, shared and kept
        dns.answers["his.so-yte.example"] = ["169.254.169.254"]
        assert (await pool.request(b"GET", b"/normal", [], timeout=2)).body == b"hello"
        assert dns.lookups == 1  # within the ttl: the checked answer, not a new one
    finally:
        await pool.close()
