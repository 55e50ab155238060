"""The audit log of one gateway process: group commit, and a spool when the database is away.

``await AuditLog.record(entry)`` returns once the record is durable: a single writer task per
process takes whatever is queued, and its own thread chains and commits it in one transaction
(:func:`tinhso.exchange.audit.chain.append_entries`). If the database is unreachable the records go
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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select

from tinhso.exchange.audit.chain import (
    AuditEntry,
    CheckpointHead,
    PreparedEntry,
    Signer,
    append_entries,
    open_writer_connection,
    prepare,
)
from tinhso.exchange.models import AuditRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_RECORDS = cast("Table", AuditRecord.__table__)
# Batches of orphan spools replayed per pass of the writer (between batches of live traffic).
_ORPHAN_CHUNKS = 4


# -- the spool ------------------------------------------------------------------------------------
class SpoolFile:
    """One JSON-lines spool file and how far it was replayed (``<name>.offset``, in bytes).

    Appending is one ``write`` + ``fsync`` at the end of the file, whatever its length; a replay
    reads the next ``limit`` records from the offset and, once they are committed, moves the
    offset past them (the file is removed when it is all replayed). Nothing re-reads or
    rewrites what is already there, so the cost of a record does not grow with the spool.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_path = path.with_suffix(".offset")

    def append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def offset(self) -> int:
        try:
            return int(self.offset_path.read_text(encoding="ascii") or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def pending(self) -> bool:
        return self.size() > self.offset()

    def read(self, limit: int) -> tuple[list[AuditEntry], int]:
        """Up to ``limit`` records after the offset, and the offset after them."""
        entries: list[AuditEntry] = []
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return entries, 0
        with handle:
            position = self.offset()
            handle.seek(position)
            while len(entries) < limit:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    # The end, or a torn last line (a crash mid-write): that record was never
                    # acknowledged to a consumer.
                    if line:
                        position += len(line)
                    break
                position += len(line)
                with contextlib.suppress(ValueError, TypeError):
                    entries.append(AuditEntry.from_json(json.loads(line)))
        return entries, position

    def count(self) -> int:
        """Records not yet replayed (reads the file: for ``audit verify``, not the hot path)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset())
                return sum(1 for line in handle if line.endswith(b"\n"))
        except FileNotFoundError:
            return 0

    def advance(self, position: int) -> None:
        """Mark everything before ``position`` as replayed (durably)."""
        if position >= self.size():
            self.remove()
            return
        tmp = self.offset_path.with_suffix(".offset-tmp")
        with tmp.open("w", encoding="ascii") as handle:
            handle.write(str(position))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.offset_path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.offset_path.unlink(missing_ok=True)


class Spool(SpoolFile):
    """This process's spool: records the database could not take yet, fsync'd, in order."""

    def __init__(self, directory: Path, node: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory / f"{node.replace('/', '_')}.jsonl")
        self.directory = directory
        # Held while this process lives: a spool whose lock can be taken belongs to a process
        # that is gone, and another process of the node adopts (replays) it.
        self._owner = _try_lock(self.path.with_suffix(".lock"))

    def release(self) -> None:
        """Give up the lock (at a clean exit, with nothing left in the spool)."""
        if self._owner is not None:
            self.path.with_suffix(".lock").unlink(missing_ok=True)
            os.close(self._owner)
            self._owner = None

    def orphans(self) -> list[tuple[SpoolFile, int]]:
        """Spool files of processes that are gone, oldest first, each with its lock held."""
        found = []
        for path in sorted(_spool_files(self.directory), key=_mtime):
            if path == self.path:
                continue
            fd = _try_lock(path.with_suffix(".lock"))
            if fd is not None:
                found.append((SpoolFile(path), fd))
        return found

    def append_entries(self, entries: list[AuditEntry]) -> None:
        self.append(
            "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries).encode()
        )


def _spool_files(directory: Path) -> list[Path]:
    return list(directory.glob("*.jsonl")) if directory.is_dir() else []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def spooled_records(data_dir: Path) -> dict[Path, int]:
    """Records in this node's spools (``data_dir/audit-spool``) not yet in the database.

    Answered exchanges whose records are on this disk only, e.g. for ``tinhso audit verify``:
    those of a running process waiting for the database, and those of a process that is gone
    and whose spool no process has adopted yet.
    """
    found = {}
    for path in sorted(_spool_files(data_dir / "audit-spool")):
        count = SpoolFile(path).count()
        if count:
            found[path] = count
    return found


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


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
        orphan_seconds: float = 5.0,
        linger: float = 0.004,
        linger_after: int = 4,
        witness: Callable[[CheckpointHead], None] | None = None,
    ) -> None:
        """``linger``: under load, at most one commit per this many seconds, so that more
        records share a commit; it holds a commit back only after a batch of at least
        ``linger_after`` records, so that a light load (one consumer calling in sequence, say)
        has each record committed at once.

        ``retry_seconds``: while the database is away, how often the writer tries to replay
        the spool (new records go behind it meanwhile, without trying the database);
        ``orphan_seconds``: how often it looks for spools of processes that are gone, with or
        without traffic; ``witness``: called with every checkpoint this process signs, after
        its commit (e.g. :class:`tinhso.exchange.audit.witness.NodeWitness`)."""
        self.engine = engine
        self.node = node or f"{socket.gethostname()}-{os.getpid()}"
        self.spool = Spool(data_dir / "audit-spool", self.node)
        self.signer = signer
        self.checkpoint_every = timedelta(seconds=checkpoint_seconds)
        self.max_batch = max_batch
        self.retry_seconds = retry_seconds
        self.orphan_seconds = orphan_seconds
        self.witness = witness
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
        self._next_replay = 0.0  # monotonic time of the next replay attempt
        self._next_orphan_check = 0.0  # at the first pass of the writer: at start-up
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
                # Idle: wake on a timer all the same, to replay this process's spool and
                # the spools of processes that are gone, whatever the traffic.
                wait = self._idle_wait()
                if wait > 0:
                    self._wake.clear()
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

    def _idle_wait(self) -> float:
        """Seconds until the writer has something to do with no record queued."""
        now = time.monotonic()
        due = self._next_orphan_check
        if self.stats.spool_pending:
            due = min(due, self._next_replay)
        return max(0.0, due - now)

    def _write(self, entries: list[AuditEntry], prepared: list[PreparedEntry]) -> None:
        """Blocking: replay the spool if any, then commit ``entries`` (or spool them).

        While the spool is pending, the database is tried at most once per ``retry_seconds``
        (a replay); in between, records go straight behind the spool (one append and fsync,
        however long the spool is).
        """
        now = time.monotonic()
        if self.stats.spool_pending:
            if now < self._next_replay or not self._replay():
                if entries:
                    self.spool.append_entries(entries)
                    self.stats.spooled += len(entries)
                return
            self.stats.spool_pending = False
        if now >= self._next_orphan_check:
            try:
                finished = self._adopt_orphans()
                # A long orphan spool is replayed a few batches per pass, between the batches
                # of this process's own traffic, and the next pass comes at once.
                self._next_orphan_check = now + (self.orphan_seconds if finished else 0.0)
            except Exception as error:
                self._note_failure(error)
                self._next_orphan_check = now + self.retry_seconds
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
                witness=self.witness,
            )
        except Exception as error:
            self._disconnect()
            self._note_failure(error)
            self.spool.append_entries(entries)
            self.stats.spooled += len(entries)
            self.stats.spool_pending = True
            self._next_replay = time.monotonic() + self.retry_seconds
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
            self._replay_file(self.spool)
        except Exception as error:
            self._note_failure(error)
            self._next_replay = time.monotonic() + self.retry_seconds
            return False
        return True

    def _replay_file(self, spool: SpoolFile, chunks: int | None = None) -> int | None:
        """Commit ``spool``'s records after its offset, ``max_batch`` at a time; how many, or
        None if ``chunks`` batches did not reach its end (the offset says where it stopped)."""
        replayed = 0
        done_chunks = 0
        while True:
            if chunks is not None and done_chunks >= chunks:
                return None
            done_chunks += 1
            chunk, end = spool.read(self.max_batch)
            if not chunk:
                spool.remove()
                return replayed
            # Those a previous replay committed before it could move the offset are skipped.
            done = _already_written(self.engine, chunk)
            fresh = [entry for entry in chunk if entry.request_id not in done]
            if fresh:
                append_entries(
                    self.engine, fresh, self.signer, self._checkpoint_due(), witness=self.witness
                )
            spool.advance(end)
            replayed += len(fresh)
            self.stats.replayed += len(fresh)
            log.info("audit: replayed %d spooled records of %s", len(fresh), spool.path.name)

    def _adopt_orphans(self) -> bool:
        """Replay the spools of this node's processes that are gone (e.g. after a restart),
        at most ``_ORPHAN_CHUNKS`` batches per call; False if some are left for the next."""
        budget = _ORPHAN_CHUNKS
        orphans = self.spool.orphans()
        try:
            for spool, _lock in orphans:
                if budget <= 0:
                    return False
                count = self._replay_file(spool, budget)
                if count is None:
                    return False
                budget -= count // self.max_batch + 1
                spool.path.with_suffix(".lock").unlink(missing_ok=True)
                log.info("audit: replayed %d records of the orphan spool %s", count, spool.path)
        finally:
            for _, lock in orphans:
                os.close(lock)
        return True

    def _checkpoint_due(self) -> timedelta | None:
        """The checkpoint interval when this node should look at the last checkpoint (else None:
        no query), i.e. at most once per interval; the database decides across nodes."""
        now = time.monotonic()
        if self.signer is None or now < self._next_checkpoint_check:
            return None
        # Half the interval: a node that looks exactly one interval after the last checkpoint
        # may find it a hair too recent (its own clock, or another node's checkpoint), and would
        # then wait a whole interval more; looking twice per interval bounds the gap between
        # checkpoints to 1.5 intervals of traffic, whatever the nodes and their restarts.
        self._next_checkpoint_check = now + self.checkpoint_every.total_seconds() / 2
        return self.checkpoint_every

    def _note_failure(self, error: BaseException) -> None:
        self.stats.failures += 1
        self.stats.last_error = type(error).__name__
        if not self._db_down:
            log.warning("audit: database unavailable, spooling to %s: %s", self.spool.path, error)
        self._db_down = True
