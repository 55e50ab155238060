"""The audit log of one gateway process: group commit, and a spool when the database is away.

``await AuditLog.record(entry)`` returns once the record is durable: a single writer task per
process takes whatever is queued, and its own thread chains and commits it in one transaction
(:func:`tinhso.exchange.audit.append_entries`). If the database is unreachable the records go
to this node's fsync'd spool file (``data_dir/audit-spool``) and are replayed in order when it
is back; spools left by processes that are gone are adopted and replayed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select

from tinhso.exchange.audit import (
    AuditEntry,
    PreparedEntry,
    Signer,
    append_entries,
    open_writer_connection,
    prepare,
)
from tinhso.exchange.models import AuditRecord

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_RECORDS = cast("Table", AuditRecord.__table__)


# -- the spool ------------------------------------------------------------------------------------
class Spool:
    """Append-only, fsync'd JSON-lines file of records the database could not take yet."""

    def __init__(self, directory: Path, node: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / f"{node.replace('/', '_')}.jsonl"
        self._lock = threading.Lock()
        # Held while this process lives: a spool whose lock can be taken belongs to a process
        # that is gone, and another process of the node adopts (replays) it.
        self._owner = _try_lock(self.path.with_suffix(".lock"))

    def release(self) -> None:
        """Give up the lock (at a clean exit, with nothing left in the spool)."""
        if self._owner is not None:
            self.path.with_suffix(".lock").unlink(missing_ok=True)
            os.close(self._owner)
            self._owner = None

    def orphans(self) -> list[tuple[Path, int]]:
        """Spool files of processes that are gone, oldest first, each with its lock held."""
        found = []
        for path in sorted(self.directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime):
            if path == self.path:
                continue
            fd = _try_lock(path.with_suffix(".lock"))
            if fd is not None:
                found.append((path, fd))
        return found

    def append(self, entries: list[AuditEntry]) -> None:
        data = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def read(self) -> list[AuditEntry]:
        with self._lock:
            return _read_spool(self.path) if self.path.exists() else []

    def drop(self, count_lines: int) -> None:
        """Remove the first ``count_lines`` records (replayed) keeping any appended since."""
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            rest = lines[count_lines:]
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                handle.writelines(rest)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
            if not rest:
                self.path.unlink()


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _read_spool(path: Path) -> list[AuditEntry]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        # A torn last line (crash mid-write) was never acknowledged to a consumer: skip it.
        with contextlib.suppress(ValueError, TypeError):
            entries.append(AuditEntry.from_json(json.loads(line)))
    return entries


def _already_written(engine: Engine, entries: list[AuditEntry]) -> set[str]:
    """Request ids of spooled records a previous replay committed before it could trim."""
    if not entries:
        return set()
    since = min(entry.recorded_at for entry in entries)
    ids = [entry.request_id for entry in entries]
    found: set[str] = set()
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            found.update(
                connection.scalars(
                    select(_RECORDS.c.request_id).where(
                        _RECORDS.c.recorded_at >= since,
                        _RECORDS.c.request_id.in_(ids[start : start + 500]),
                    )
                )
            )
    return found


# -- the per-process writer -----------------------------------------------------------------------
@dataclass
class AuditStats:
    written: int = 0
    spooled: int = 0
    replayed: int = 0
    batches: int = 0
    failures: int = 0
    last_error: str | None = None
    spool_pending: bool = False


class AuditLog:
    """Group-commit writer of one gateway process; ``await record(entry)`` returns once durable."""

    def __init__(
        self,
        engine: Engine,
        data_dir: Path,
        *,
        node: str | None = None,
        signer: Signer | None = None,
        checkpoint_seconds: float = 60.0,
        max_batch: int = 1000,
        retry_seconds: float = 1.0,
        linger: float = 0.004,
        linger_after: int = 4,
    ) -> None:
        """``linger``: under load, at most one commit per this many seconds, so that more
        records share a commit; it holds a commit back only after a batch of at least
        ``linger_after`` records, so that a light load (one consumer calling in sequence, say)
        has each record committed at once."""
        self.engine = engine
        self.node = node or f"{socket.gethostname()}-{os.getpid()}"
        self.spool = Spool(data_dir / "audit-spool", self.node)
        self.signer = signer
        self.checkpoint_every = timedelta(seconds=checkpoint_seconds)
        self.max_batch = max_batch
        self.retry_seconds = retry_seconds
        self.linger = linger
        self.linger_after = linger_after
        self.stats = AuditStats()
        self._queue: list[tuple[AuditEntry, PreparedEntry, asyncio.Future[None]]] = []
        self._sqlite = engine.dialect.name == "sqlite"
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._db_down = False
        self._next_checkpoint_check = 0.0
        self._last_batch = 0.0
        self._last_batch_size = 0
        self._orphans_adopted = False
        self.stats.spool_pending = self.spool.pending()  # left over from a previous run
        # The writer's own thread and driver connection, kept between batches (no pool
        # check-out/reset per commit); dropped after a failure and opened again.
        self._executor: ThreadPoolExecutor | None = None
        self._connection: Any = None
        self._connection_engine: Engine | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="tinhso-audit")
        self._task = self._loop.create_task(self._run(), name="tinhso-audit-writer")

    async def record(self, entry: AuditEntry) -> None:
        """Queue ``entry`` and wait until it is committed or spooled."""
        if self._loop is None or self._wake is None:
            msg = "AuditLog.start() was not called"
            raise RuntimeError(msg)
        entry.node = self.node
        future: asyncio.Future[None] = self._loop.create_future()
        # Serialised here, on the event loop, so that the writer thread (which must win the
        # GIL back after every blocking call) has as little Python to run as possible.
        self._queue.append((entry, prepare(entry, sqlite=self._sqlite), future))
        self._wake.set()
        await future

    async def close(self) -> None:
        """Flush what is queued, then stop the writer."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
            self._executor.shutdown(wait=False)
        if not self.stats.spool_pending:
            self.spool.release()

    async def _run(self) -> None:
        assert self._wake is not None  # noqa: S101 - set by start()
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                wait = self.retry_seconds if self.stats.spool_pending else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                await asyncio.sleep(0)  # let the requests that are ready join this batch
            # Under load, at most one commit per ``linger`` seconds: bigger groups, fewer
            # commits (the commit, not the row, is what costs). An idle log, or a light load
            # whose last batch was smaller than ``linger_after`` (a few consumers calling in
            # sequence), gains nothing by waiting and writes at once.
            wait_more = self._last_batch + self.linger - loop.time()
            if wait_more > 0 and self._last_batch_size >= self.linger_after:
                await asyncio.sleep(wait_more)
            self._last_batch = loop.time()
            batch = self._queue[: self.max_batch]
            self._last_batch_size = len(batch)
            del self._queue[: len(batch)]
            try:
                await loop.run_in_executor(
                    self._executor,
                    self._write,
                    [entry for entry, _, _ in batch],
                    [prepared for _, prepared, _ in batch],
                )
            except Exception as error:
                log.exception("audit: could neither write nor spool")
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _write(self, entries: list[AuditEntry], prepared: list[PreparedEntry]) -> None:
        """Blocking: replay the spool if any, then commit ``entries`` (or spool them)."""
        if self.stats.spool_pending and not self._replay():
            if entries:
                self.spool.append(entries)
                self.stats.spooled += len(entries)
            self.stats.spool_pending = True
            return
        self.stats.spool_pending = False
        if not self._orphans_adopted:
            try:
                self._adopt_orphans()
                self._orphans_adopted = True
            except Exception as error:
                self._note_failure(error)
        if not entries:
            return
        try:
            if self._connection is None or self._connection_engine is not self.engine:
                self._disconnect()
                self._connection = open_writer_connection(self.engine)
                self._connection_engine = self.engine
            append_entries(
                self.engine,
                entries,
                self.signer,
                self._checkpoint_due(),
                connection=self._connection,
                prepared=prepared,
            )
        except Exception as error:
            self._disconnect()
            self._note_failure(error)
            self.spool.append(entries)
            self.stats.spooled += len(entries)
            self.stats.spool_pending = True
            return
        self._db_down = False
        self.stats.written += len(entries)
        self.stats.batches += 1

    def _disconnect(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def _replay(self) -> bool:
        """Move the spool into the database in order; False if the database is still away."""
        try:
            while True:
                entries = self.spool.read()
                if not entries:
                    return True
                chunk = entries[: self.max_batch]
                done = _already_written(self.engine, chunk)
                fresh = [entry for entry in chunk if entry.request_id not in done]
                if fresh:
                    append_entries(self.engine, fresh, self.signer, self._checkpoint_due())
                self.spool.drop(len(chunk))
                self.stats.replayed += len(fresh)
                log.info("audit: replayed %d spooled records", len(fresh))
        except Exception as error:
            self._note_failure(error)
            return False

    def _adopt_orphans(self) -> None:
        """Replay the spools of this node's processes that are gone (e.g. after a restart)."""
        for path, fd in self.spool.orphans():
            try:
                entries = _read_spool(path)
                for start in range(0, len(entries), self.max_batch):
                    chunk = entries[start : start + self.max_batch]
                    done = _already_written(self.engine, chunk)
                    fresh = [entry for entry in chunk if entry.request_id not in done]
                    if fresh:
                        append_entries(self.engine, fresh, self.signer, self._checkpoint_due())
                    self.stats.replayed += len(fresh)
                path.unlink()
                path.with_suffix(".lock").unlink(missing_ok=True)
                log.info("audit: replayed %d records of the orphan spool %s", len(entries), path)
            finally:
                os.close(fd)

    def _checkpoint_due(self) -> timedelta | None:
        """The checkpoint interval when this node should look at the last checkpoint (else None:
        no query), i.e. at most once per interval; the database decides across nodes."""
        now = time.monotonic()
        if self.signer is None or now < self._next_checkpoint_check:
            return None
        self._next_checkpoint_check = now + self.checkpoint_every.total_seconds()
        return self.checkpoint_every

    def _note_failure(self, error: BaseException) -> None:
        self.stats.failures += 1
        self.stats.last_error = type(error).__name__
        if not self._db_down:
            log.warning("audit: database unavailable, spooling to %s: %s", self.spool.path, error)
        self._db_down = True
