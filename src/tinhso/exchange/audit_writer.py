"""One audit writer per gateway node: the workers hand their records to it over a Unix socket.

Under ``tinhso gateway`` the supervisor starts :func:`run_writer` in a process of its own
before the workers. It owns the node's :class:`~tinhso.exchange.audit_log.AuditLog` (group
commit, chain, checkpoints, spool and replay, all as before) and so:
- one group commit for all workers of the node, not one per worker: fewer commits, and no
  worker waits on another's chain lock;
- no writer thread inside the workers: a worker's event loop no longer trades the GIL with a
  thread that chains and inserts, and the record's canonical text is made in the writer.

A worker's :class:`AuditChannel` has the interface of ``AuditLog`` (``await record(entry)``
returns once the record is durable). Records queued during one pass of the worker's event loop
go as one line of JSON (``{"id": n, "r": [[field, ...], ...]}``); the writer answers
``{"id": n, "ok": true}`` once that batch is committed or spooled. If the writer cannot be
reached, or the connection breaks with batches unanswered, the worker writes those records
itself through a local ``AuditLog`` (nothing is lost; a batch the writer committed just before
it died may then be recorded twice, never zero times) and reconnects every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinhso.exchange.audit import AuditEntry, load_signer, timestamp
from tinhso.exchange.audit_log import AuditLog, AuditStats

if TYPE_CHECKING:
    from collections.abc import Callable

    from tinhso.core.config import Settings

log = logging.getLogger(__name__)

# The fields of a record on the wire, in this order (node: the writer's).
_FIELDS = (
    "recorded_at", "request_id", "method", "status", "outcome", "latency_us", "bytes_in",
    "bytes_out", "consumer", "service", "grant_id", "path_template", "request_sha256",
    "response_sha256",
)  # fmt: skip
_MAX_LINE = 64 * 1024 * 1024
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def socket_path(data_dir: Path, port: int) -> Path:
    return data_dir.resolve() / f"gateway-{port}-audit.sock"


def _wire(entry: AuditEntry) -> list[Any]:
    return [
        timestamp(entry.recorded_at), entry.request_id, entry.method, entry.status,
        entry.outcome, entry.latency_us, entry.bytes_in, entry.bytes_out, entry.consumer,
        entry.service, entry.grant_id, entry.path_template, entry.request_sha256,
        entry.response_sha256,
    ]  # fmt: skip


def _entry(values: list[Any]) -> AuditEntry:
    fields = dict(zip(_FIELDS, values, strict=True))
    fields["recorded_at"] = datetime.fromisoformat(fields["recorded_at"])
    return AuditEntry(**fields)


# -- the writer process ---------------------------------------------------------------------------
class _WriterConnection(asyncio.Protocol):
    """One worker's connection: batches in, acknowledgements out."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.writer.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\n" not in data:
            if len(self.buffer) > _MAX_LINE and self.transport is not None:
                self.transport.abort()
            return
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
                batch_id = int(message["id"])
                entries = [_entry(values) for values in message["r"]]
            except (ValueError, KeyError, TypeError):
                log.error("audit writer: a worker sent a malformed batch; dropping its connection")
                if self.transport is not None:
                    self.transport.abort()
                return
            self.writer.accept(self, batch_id, entries)

    def connection_lost(self, exc: Exception | None) -> None:
        self.writer.connections.discard(self)
        if not self.writer.connections:
            self.writer.idle.set()

    def answer(self, batch_id: int, ok: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b'{"id":%d,"ok":%s}\n' % (batch_id, b"true" if ok else b"false"))


class _Writer:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self.connections: set[_WriterConnection] = set()
        self.idle = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def accept(
        self, connection: _WriterConnection, batch_id: int, entries: list[AuditEntry]
    ) -> None:
        task = asyncio.get_running_loop().create_task(self._write(connection, batch_id, entries))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(
        self, connection: _WriterConnection, batch_id: int, entries: list[AuditEntry]
    ) -> None:
        try:
            await self.audit.record_batch(entries)
        except Exception:
            log.exception("audit writer: a batch could neither be written nor spooled")
            connection.answer(batch_id, ok=False)
            return
        connection.answer(batch_id, ok=True)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def run_writer(path: Path, grace_seconds: float) -> int:
    """The writer process's body (forked by the supervisor): serve until SIGTERM and the
    workers are gone (at most ``grace_seconds`` more), then flush and exit."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    import uvloop  # noqa: PLC0415 - after the fork

    # Listening (connections wait in the backlog) before the path appears, so that the
    # supervisor's "ready" (the path exists) means workers can connect.
    path.unlink(missing_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp))
    tmp.chmod(0o600)
    sock.listen(128)
    tmp.replace(path)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve_writer(sock, grace_seconds))
    finally:
        loop.close()
        path.unlink(missing_ok=True)


async def _serve_writer(sock: socket.socket, grace_seconds: float) -> int:
    from tinhso.core.config import load_settings  # noqa: PLC0415
    from tinhso.core.db import engine_from_settings  # noqa: PLC0415
    from tinhso.exchange.gateway import GatewaySettings  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    settings, options = load_settings(), GatewaySettings()
    engine = engine_from_settings(settings)
    audit = AuditLog(
        engine,
        settings.data_dir,
        node=options.node,
        checkpoint_seconds=options.checkpoint_seconds,
        linger=options.audit_linger_seconds,
    )
    await _load_signer(audit, engine, settings)
    audit.start()
    writer = _Writer(audit)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    server = await loop.create_unix_server(lambda: _WriterConnection(writer), sock=sock)
    signer_refresh = loop.create_task(_refresh_signer(audit, engine, settings, options))
    metrics = loop.create_task(_report(audit))
    await stopped.wait()
    server.close()
    # Workers finish their answers (which wait for their records), then close their channel.
    if writer.connections:
        writer.idle.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(writer.idle.wait(), grace_seconds + 5)
    await writer.drain()
    signer_refresh.cancel()
    metrics.cancel()
    await audit.close()
    await asyncio.to_thread(engine.dispose)
    return 0


async def _load_signer(audit: AuditLog, engine: Any, settings: Settings) -> None:
    try:
        audit.signer = await asyncio.to_thread(load_signer, engine, settings)
    except Exception as error:
        log.warning("audit writer: no signing key for checkpoints yet: %s", error)


async def _report(audit: AuditLog) -> None:
    """The writer's record counts into the gateway's metrics (summed over live processes)."""
    from tinhso.exchange.metrics import Metrics  # noqa: PLC0415

    gauge = Metrics().audit
    while True:
        stats = audit.stats
        for fate, value in (
            ("written", stats.written),
            ("spooled", stats.spooled),
            ("replayed", stats.replayed),
        ):
            gauge.labels(fate).set(value)
        await asyncio.sleep(1.0)


async def _refresh_signer(audit: AuditLog, engine: Any, settings: Settings, options: Any) -> None:
    """Sign checkpoints with the active key after a rotation (checked once an interval)."""
    while True:
        await asyncio.sleep(max(1.0, min(60.0, options.checkpoint_seconds)))
        await _load_signer(audit, engine, settings)


# -- the worker's side ----------------------------------------------------------------------------
class AuditChannel(asyncio.Protocol):
    """A worker's audit log: records go to the node's writer; ``record()`` returns once durable."""

    def __init__(self, path: Path, local: Callable[[], AuditLog]) -> None:
        self.path = path
        self.signer: Any = None  # the writer signs checkpoints; kept for AuditLog's interface
        self._make_local = local
        self._local: AuditLog | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._pending: list[list[Any]] = []
        self._pending_entries: list[AuditEntry] = []
        self._batch: asyncio.Future[None] | None = None
        self._inflight: dict[int, tuple[list[AuditEntry], asyncio.Future[None]]] = {}
        self._next_id = 0
        self._closing = False
        self._connector: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Connect (waiting up to ``wait_seconds`` for the writer to come up)."""
        self._loop = asyncio.get_running_loop()
        for _ in range(max(1, int(wait_seconds / 0.1))):
            if await self._connect():
                break
            await asyncio.sleep(0.1)
        if self._transport is None:
            log.warning("audit: node writer not reachable at %s; writing locally", self.path)
            self._connector = self._loop.create_task(self._reconnect())

    async def _connect(self) -> bool:
        assert self._loop is not None  # noqa: S101 - set by start()
        try:
            await self._loop.create_unix_connection(lambda: self, str(self.path))
        except OSError:
            return False
        return True

    async def _reconnect(self) -> None:
        while not self._closing and self._transport is None:
            await asyncio.sleep(1.0)
            if await self._connect():
                log.warning("audit: node writer reachable again at %s", self.path)

    @property
    def stats(self) -> AuditStats:
        """What this worker wrote itself (the writer process reports the rest)."""
        return self._local.stats if self._local is not None else AuditStats()

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\n" not in data:
            return
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            answer = json.loads(line)
            entries, future = self._inflight.pop(int(answer["id"]), ([], None))
            if future is None or future.done():
                continue
            if answer.get("ok"):
                future.set_result(None)
            else:  # the writer could neither commit nor spool: try here
                self._write_locally(entries, future)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._buffer = b""
        unanswered = list(self._inflight.values())
        self._inflight.clear()
        if unanswered:
            log.warning("audit: lost the node writer with %d batches unanswered", len(unanswered))
        for entries, future in unanswered:
            self._write_locally(entries, future)
        if not self._closing and self._loop is not None and not self._loop.is_closed():
            self._connector = self._loop.create_task(self._reconnect())

    # -- recording ----------------------------------------------------------------------------
    async def record(self, entry: AuditEntry) -> None:
        """Hand ``entry`` to the writer (with this loop pass's others); wait until durable."""
        if self._transport is None:
            await self._local_log().record(entry)
            return
        if self._batch is None:
            assert self._loop is not None  # noqa: S101 - set by start()
            self._batch = self._loop.create_future()
            self._loop.call_soon(self._send)
        batch = self._batch
        self._pending.append(_wire(entry))
        self._pending_entries.append(entry)
        await batch

    def _send(self) -> None:
        batch, entries, rows = self._batch, self._pending_entries, self._pending
        self._batch, self._pending_entries, self._pending = None, [], []
        if batch is None:
            return
        if self._transport is None:
            self._write_locally(entries, batch)
            return
        self._next_id += 1
        self._inflight[self._next_id] = (entries, batch)
        self._transport.write(_dumps({"id": self._next_id, "r": rows}).encode() + b"\n")

    def _write_locally(self, entries: list[AuditEntry], future: asyncio.Future[None]) -> None:
        async def write() -> None:
            try:
                await self._local_log().record_batch(entries)
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
                return
            if not future.done():
                future.set_result(None)

        assert self._loop is not None  # noqa: S101 - set by start()
        task = self._loop.create_task(write())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _local_log(self) -> AuditLog:
        if self._local is None:
            self._local = self._make_local()
            self._local.start()
        return self._local

    async def close(self) -> None:
        """Wait for what is in flight, then close the channel (and the local log, if any)."""
        self._closing = True
        if self._batch is not None:
            self._send()
        pending = [future for _, future in self._inflight.values()]
        if pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(pending, timeout=30)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connector is not None:
            self._connector.cancel()
        if self._transport is not None:
            self._transport.close()
        if self._local is not None:
            await self._local.close()
