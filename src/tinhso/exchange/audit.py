"""The gateway's tamper-evident audit log: one hash chain in the database, signed checkpoints.

Design (several gateway processes, one database, ONE chain):
- Every process queues its records in memory; a single writer task per process takes whatever
  is queued (group commit) and writes it in one transaction that first takes the chain lock
  (PostgreSQL: ``pg_advisory_xact_lock``; SQLite: ``BEGIN IMMEDIATE``, the database write lock),
  reads the chain head (highest ``seq``), then numbers and hashes the batch after it. Writers of
  all processes therefore serialise on the head and the chain stays linear: ``seq`` has no gaps
  and ``prev_hash`` of record n is ``record_hash`` of record n-1. ``node`` says which process
  wrote a record.
- A request's answer is sent only after its record is durable: committed, or, when the
  database is unreachable, appended to this node's spool file (``data_dir/audit-spool``,
  fsync'd). Spooled records are replayed in order (and chained then) when the database is back;
  while a spool exists new records go behind it, so a node's records keep their order.
- ``record_hash = SHA-256(canonical JSON of every field and prev_hash)``. Altering, deleting or
  reordering records breaks the chain at the first affected ``seq``: :func:`verify` names it.
- Checkpoints sign ``"tinhso-audit-checkpoint/v1:{last_seq}:{last_hash}"`` with the platform's
  active Ed25519 key (the JWKS key with the same ``kid``); the writer adds one at most every
  ``checkpoint_seconds`` and ``tinhso audit checkpoint`` adds one on demand.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import json.encoder as json_encoder
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, text

from tinhso.core.db import make_sessionmaker, utcnow
from tinhso.exchange.models import AuditCheckpoint, AuditRecord, SigningKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

    from tinhso.core.config import Settings

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
CHECKPOINT_PREFIX = "tinhso-audit-checkpoint/v1"
# pg_advisory_xact_lock key of the chain head ("tinh" in ASCII).
CHAIN_LOCK_KEY = 0x74696E68
_RECORDS = cast("Table", AuditRecord.__table__)
_CHECKPOINTS = cast("Table", AuditCheckpoint.__table__)


@dataclass(slots=True)
class AuditEntry:
    """A record before it is chained (the writer adds seq, prev_hash and record_hash)."""

    recorded_at: datetime
    request_id: str
    method: str
    status: int
    outcome: str
    latency_us: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    consumer: str | None = None
    service: str | None = None
    grant_id: int | None = None
    path_template: str | None = None
    request_sha256: str | None = None
    response_sha256: str | None = None
    node: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["recorded_at"] = timestamp(self.recorded_at)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        values = dict(data)
        values["recorded_at"] = datetime.fromisoformat(values["recorded_at"].replace("Z", "+00:00"))
        return cls(**values)


def timestamp(moment: datetime) -> str:
    """UTC, microseconds: the one textual form of a time that goes into hashes."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# Column order of a record; every column but the last goes into its hash, in this order.
_COLUMNS = (
    "seq", "recorded_at", "node", "request_id", "consumer", "service", "grant_id", "method",
    "path_template", "status", "outcome", "latency_us", "bytes_in", "bytes_out",
    "request_sha256", "response_sha256", "prev_hash", "record_hash",
)  # fmt: skip
_HASHED_FIELDS = _COLUMNS[:-1]
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _not_serialisable(value: object) -> Any:
    msg = f"Object of type {type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


# The C encoder behind ``_dumps``, built once (``_dumps`` builds one per call): the same text.
# Positional arguments as JSONEncoder.iterencode passes them: markers, default, encoder, indent,
# key and item separators, sort_keys, skipkeys, allow_nan.
_C_MAKE_ENCODER: Any = getattr(json_encoder, "c_make_encoder", None)
_ENCODER_ARGS = (None, None, json_encoder.encode_basestring, None, ":", ",", False, False, True)
_encode_list: Any = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(*_ENCODER_ARGS[:1], _not_serialisable, *_ENCODER_ARGS[2:])
)


def _digest(values: list[Any]) -> str:
    text = _dumps(values) if _encode_list is None else "".join(_encode_list(values, 0))
    return hashlib.sha256(text.encode()).hexdigest()


def record_hash(row: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON array of a record's fields (``prev_hash`` included)."""
    values = [row[name] for name in _HASHED_FIELDS]
    values[1] = timestamp(values[1])
    return _digest(values)


def checkpoint_message(last_seq: int, last_hash: str) -> bytes:
    return f"{CHECKPOINT_PREFIX}:{last_seq}:{last_hash}".encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_b64url_decode(str(jwk["x"])))


def checkpoint_signature_valid(
    last_seq: int, last_hash: str, signature: str, jwk: dict[str, Any]
) -> bool:
    try:
        public_key_from_jwk(jwk).verify(
            _b64url_decode(signature), checkpoint_message(last_seq, last_hash)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


# -- writing --------------------------------------------------------------------------------------
def _lock_chain(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    else:
        # Durable at commit (the platform default, NORMAL, may lose the last commits on power
        # loss), and the write lock now, not at the first INSERT: no other writer can read
        # the same head.
        connection.exec_driver_sql("PRAGMA synchronous=FULL")
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _chain_head(connection: Connection) -> tuple[int, str]:
    row = connection.execute(
        select(_RECORDS.c.seq, _RECORDS.c.record_hash).order_by(_RECORDS.c.seq.desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


Signer = tuple[str, "Ed25519PrivateKey"]


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """What of a record can be computed before its place in the chain is known.

    ``text``: the canonical JSON of its hashed fields between ``seq`` and ``prev_hash``, so that
    chaining under the lock is one short string and one SHA-256 per record; ``row``: the same
    fields as the driver takes them. Made outside the lock (by the gateway, when it queues).
    """

    text: str
    row: tuple[Any, ...]


def prepare(entry: AuditEntry, *, sqlite: bool) -> PreparedEntry:
    at = _utc_text(entry.recorded_at)
    values: list[Any] = [
        at, entry.node, entry.request_id, entry.consumer, entry.service, entry.grant_id,
        entry.method, entry.path_template, entry.status, entry.outcome, entry.latency_us,
        entry.bytes_in, entry.bytes_out, entry.request_sha256, entry.response_sha256,
    ]  # fmt: skip
    text = _dumps(values) if _encode_list is None else "".join(_encode_list(values, 0))
    # SQLite keeps SQLAlchemy's text form of the UTC time (same digits, no offset); PostgreSQL's
    # COPY reads the ISO text (with its +00:00 offset) as timestamptz.
    if sqlite:
        values[0] = f"{at[:10]} {at[11:26]}"
    return PreparedEntry(text[1:-1], tuple(values))


def _chained_hash(seq: int, prepared: PreparedEntry, prev: str) -> str:
    """:func:`record_hash` of the record ``prepared`` at ``seq`` after ``prev`` (same text)."""
    return hashlib.sha256(f'[{seq},{prepared.text},"{prev}"]'.encode()).hexdigest()


def append_entries(
    engine: Engine,
    entries: list[AuditEntry],
    signer: Signer | None = None,
    checkpoint_every: timedelta | None = None,
    *,
    connection: Any = None,
    prepared: list[PreparedEntry] | None = None,
) -> int:
    """Chain and insert ``entries`` in one transaction; returns the new head ``seq``.

    With ``signer`` and ``checkpoint_every``, also signs a checkpoint of the new head when the
    last one is older than that (inside the same lock, so nodes do not duplicate it).
    Works on the driver connection (no ORM/Core per row; multi-row INSERTs on SQLite, COPY on
    PostgreSQL): this is the gateway's hot write, done while the chain is locked, so everything
    that does not depend on the chain head is in ``prepared`` (made by :func:`prepare` if not
    given).
    ``connection``: a driver connection from :func:`open_writer_connection` that the caller
    keeps (the gateway's writer); otherwise one is taken from the engine's pool for this call.
    """
    dialect = engine.dialect
    sqlite = dialect.name == "sqlite"
    if prepared is None:
        prepared = [prepare(entry, sqlite=sqlite) for entry in entries]
    chain_lock = _sqlite_chain_lock(engine) if sqlite else None
    if chain_lock is not None:
        # Processes of one host queue here (woken at once by the kernel) rather than in
        # SQLite's busy handler, which sleeps 1, 2, 5, 10 ... ms between attempts.
        fcntl.flock(chain_lock, fcntl.LOCK_EX)
    raw = connection if connection is not None else open_writer_connection(engine)
    cursor = raw.cursor()
    try:
        if sqlite:
            # The write lock now, not at the first INSERT: no other writer can read the head.
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_KEY,))
        cursor.execute(_HEAD_SQL)
        head = cursor.fetchone()
        seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
        seq, prev = _insert_chained(cursor, prepared, seq, prev, sqlite=sqlite)
        if signer is not None and checkpoint_every is not None and seq > 0:
            mark = "?" if sqlite else "%s"
            _maybe_checkpoint(cursor, dialect, mark, signer, checkpoint_every, seq, prev)
        raw.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            raw.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            cursor.close()
        if connection is None:
            raw.close()
        if chain_lock is not None:
            fcntl.flock(chain_lock, fcntl.LOCK_UN)
    return seq


def _insert_chained(
    cursor: Any, prepared: list[PreparedEntry], seq: int, prev: str, *, sqlite: bool
) -> tuple[int, str]:
    """Number, hash and insert ``prepared`` after the head ``(seq, prev)``; the new head."""
    if sqlite:
        for start in range(0, len(prepared), _ROWS_PER_INSERT):
            chunk = prepared[start : start + _ROWS_PER_INSERT]
            params: list[Any] = []
            for item in chunk:
                seq += 1
                digest = _chained_hash(seq, item, prev)
                params.append(seq)
                params.extend(item.row)
                params.append(prev)
                params.append(digest)
                prev = digest
            cursor.execute(_insert_rows(len(chunk)), params)
    elif prepared:
        # COPY: rows formatted by the driver's C code, no SQL text to parse per batch.
        with cursor.copy(_COPY_PG) as copy:
            copy.set_types(_COPY_TYPES)
            for item in prepared:
                seq += 1
                digest = _chained_hash(seq, item, prev)
                copy.write_row((seq, *item.row, prev, digest))
                prev = digest
    return seq, prev


def open_writer_connection(engine: Engine) -> Any:
    """A driver connection for :func:`append_entries` (from the pool: its set-up applies).

    On SQLite, commits on it are durable (``synchronous=FULL``; the platform default, NORMAL,
    may lose the last commits on power loss).
    """
    raw = engine.raw_connection()
    if engine.dialect.name == "sqlite":
        cursor = raw.cursor()
        try:
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()
    return raw


def _utc_text(moment: datetime) -> str:
    """:func:`timestamp`, without the conversion when ``moment`` is already in UTC."""
    if moment.tzinfo is UTC:
        return moment.isoformat(timespec="microseconds")
    if moment.tzinfo is None:
        msg = "naive datetime given; use timezone-aware UTC datetimes"
        raise ValueError(msg)
    return timestamp(moment)


_chain_locks: dict[tuple[int, str], int] = {}


def _sqlite_chain_lock(engine: Engine) -> int | None:
    """An open lock file beside the SQLite database (one per database and process)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    key = (os.getpid(), database)  # a forked process must not share the parent's descriptor
    fd = _chain_locks.get(key)
    if fd is None:
        fd = _chain_locks[key] = os.open(f"{database}-audit.lock", os.O_RDWR | os.O_CREAT, 0o600)
    return fd


def _maybe_checkpoint(
    cursor: Any,
    dialect: Any,
    mark: str,
    signer: Signer,
    every: timedelta,
    seq: int,
    head: str,
) -> None:
    signed_at = _CHECKPOINTS.c.signed_at.type.dialect_impl(dialect)
    cursor.execute(
        f"SELECT signed_at, last_seq FROM {_CHECKPOINTS.name} ORDER BY id DESC LIMIT 1"  # noqa: S608
    )
    last = cursor.fetchone()
    now = utcnow()
    if last is not None:
        read = signed_at.result_processor(dialect, None)
        when = cast("datetime", read(last[0]) if read is not None else last[0])
        if int(last[1]) >= seq or now - when < every:
            return
    kid, private_key = signer
    write = signed_at.bind_processor(dialect)
    cursor.execute(
        f"INSERT INTO {_CHECKPOINTS.name} (last_seq, last_hash, signed_at, kid, signature)"  # noqa: S608
        f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
        (
            seq,
            head,
            write(now) if write is not None else now,
            kid,
            _b64url(private_key.sign(checkpoint_message(seq, head))),
        ),
    )


# SQLite: rows per INSERT statement, one statement (one driver call) per 64 records of a batch.
_ROWS_PER_INSERT = 64
_INSERT_SQL: dict[int, str] = {}
_COPY_PG = f"COPY {_RECORDS.name} ({', '.join(_COLUMNS)}) FROM STDIN"
# The COPY's value types, in _COLUMNS order (fixed dumpers: no per-value type lookup); the time
# goes as ISO text, which the server reads as timestamptz.
_COPY_TYPES = (
    "int8", "text", "text", "text", "text", "text", "int4", "text", "text", "int4", "text",
    "int8", "int8", "int8", "text", "text", "text", "text",
)  # fmt: skip


def _insert_rows(rows: int) -> str:
    """``INSERT ... VALUES (?, ...), (?, ...)`` for ``rows`` records (cached per size)."""
    sql = _INSERT_SQL.get(rows)
    if sql is None:
        one = "(" + ", ".join(["?"] * len(_COLUMNS)) + ")"
        sql = _INSERT_SQL[rows] = (
            f"INSERT INTO {_RECORDS.name} ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
            + ", ".join([one] * rows)
        )
    return sql


_HEAD_SQL = f"SELECT seq, record_hash FROM {_RECORDS.name} ORDER BY seq DESC LIMIT 1"  # noqa: S608


def _insert_checkpoint(connection: Connection, signer: Signer, seq: int, head: str) -> None:
    kid, private_key = signer
    connection.execute(
        insert(_CHECKPOINTS).values(
            last_seq=seq,
            last_hash=head,
            signed_at=utcnow(),
            kid=kid,
            signature=_b64url(private_key.sign(checkpoint_message(seq, head))),
        )
    )


def write_checkpoint(engine: Engine, settings: Settings) -> tuple[int, str] | None:
    """Sign the current chain head now (``tinhso audit checkpoint``); None if the log is empty."""
    from tinhso.exchange.keys import signing_key_service  # noqa: PLC0415 - avoids an import cycle

    with make_sessionmaker(engine).begin() as session:
        signer = signing_key_service.active_signer(session, settings)
    with engine.connect() as connection:
        _lock_chain(connection)
        seq, head = _chain_head(connection)
        if seq == 0:
            connection.rollback()
            return None
        _insert_checkpoint(connection, signer, seq, head)
        connection.commit()
    return seq, head


def load_signer(engine: Engine, settings: Settings) -> Signer | None:
    """The active signing key, or None if the platform has none yet (no checkpoints then)."""
    from tinhso.exchange.keys import signing_key_service  # noqa: PLC0415 - avoids an import cycle

    with make_sessionmaker(engine)() as session:
        key = signing_key_service.active(session)
        return None if key is None else (key.kid, signing_key_service.private_key(key, settings))


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
    ) -> None:
        self.engine = engine
        self.node = node or f"{socket.gethostname()}-{os.getpid()}"
        self.spool = Spool(data_dir / "audit-spool", self.node)
        self.signer = signer
        self.checkpoint_every = timedelta(seconds=checkpoint_seconds)
        self.max_batch = max_batch
        self.retry_seconds = retry_seconds
        self.linger = linger
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
            # commits (the commit, not the row, is what costs); an idle log writes at once.
            wait_more = self._last_batch + self.linger - loop.time()
            if wait_more > 0:
                await asyncio.sleep(wait_more)
            self._last_batch = loop.time()
            batch = self._queue[: self.max_batch]
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


# -- verification and export ----------------------------------------------------------------------
@dataclass
class VerifyResult:
    ok: bool
    records: int = 0
    checkpoints: int = 0
    first_broken_seq: int | None = None
    reason: str | None = None
    bad_checkpoint_id: int | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH


def check_chain(rows: Iterable[dict[str, Any]], anchor: tuple[int, str]) -> VerifyResult:
    """Check consecutive ``seq``, ``prev_hash`` links and every ``record_hash`` after ``anchor``."""
    expected_seq, prev = anchor[0] + 1, anchor[1]
    count = 0
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            # A deleted record shows as a gap: the first missing seq is the broken one.
            return VerifyResult(
                ok=False, records=count, first_broken_seq=expected_seq, reason="missing"
            )
        if row["prev_hash"] != prev:
            return VerifyResult(ok=False, records=count, first_broken_seq=seq, reason="broken_link")
        if record_hash(row) != row["record_hash"]:
            return VerifyResult(ok=False, records=count, first_broken_seq=seq, reason="altered")
        prev = row["record_hash"]
        expected_seq += 1
        count += 1
    return VerifyResult(ok=True, records=count, head_seq=expected_seq - 1, head_hash=prev)


def verify(engine: Engine) -> VerifyResult:
    """Prove the whole chain and every checkpoint; names the first broken record."""
    with engine.connect() as connection:
        rows = connection.execution_options(yield_per=2000).execute(
            select(_RECORDS).order_by(_RECORDS.c.seq)
        )
        try:
            result = check_chain((dict(row._mapping) for row in rows), (0, GENESIS_HASH))
        finally:
            rows.close()
        if not result.ok:
            return result
        keys = {
            row.kid: dict(row.public_jwk)
            for row in connection.execute(select(SigningKey.kid, SigningKey.public_jwk))
        }
        hashes: dict[int, str] = {}
        checkpoints = list(connection.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.id)))
        wanted = [c.last_seq for c in checkpoints]
        for start in range(0, len(wanted), 500):
            for seq, digest in connection.execute(
                select(_RECORDS.c.seq, _RECORDS.c.record_hash).where(
                    _RECORDS.c.seq.in_(wanted[start : start + 500])
                )
            ):
                hashes[int(seq)] = str(digest)
    for checkpoint in checkpoints:
        jwk = keys.get(checkpoint.kid)
        if (
            hashes.get(checkpoint.last_seq) != checkpoint.last_hash
            or jwk is None
            or not checkpoint_signature_valid(
                checkpoint.last_seq, checkpoint.last_hash, checkpoint.signature, jwk
            )
        ):
            result.ok = False
            result.bad_checkpoint_id = checkpoint.id
            result.reason = "checkpoint"
            return result
        result.checkpoints += 1
    return result


def export(engine: Engine, start: datetime, end: datetime) -> dict[str, Any]:
    """Records with ``start <= recorded_at < end`` and their proof.

    The proof is the hash of the record before the range (the anchor), the checkpoints that
    cover the range (the first one at or after its last record ties it to a signature) and
    the public keys of those checkpoints. :func:`verify_export` checks such a document alone.
    """
    with engine.connect() as connection:
        bounds = connection.execute(
            select(_RECORDS.c.seq)
            .where(_RECORDS.c.recorded_at >= start, _RECORDS.c.recorded_at < end)
            .order_by(_RECORDS.c.seq)
        ).scalars()
        seqs = list(bounds)
        records: list[dict[str, Any]] = []
        anchor = (0, GENESIS_HASH)
        checkpoints: list[dict[str, Any]] = []
        keys: dict[str, dict[str, Any]] = {}
        if seqs:
            first, last = seqs[0], seqs[-1]
            previous = connection.execute(
                select(_RECORDS.c.seq, _RECORDS.c.record_hash).where(_RECORDS.c.seq == first - 1)
            ).first()
            if previous is not None:
                anchor = (int(previous[0]), str(previous[1]))
            query = select(_RECORDS).where(_RECORDS.c.seq >= first, _RECORDS.c.seq <= last)
            records = [dict(row._mapping) for row in connection.execute(query.order_by("seq"))]
            covering = connection.execute(
                select(_CHECKPOINTS)
                .where(_CHECKPOINTS.c.last_seq >= last)
                .order_by(_CHECKPOINTS.c.last_seq)
                .limit(1)
            ).first()
            inside = connection.execute(
                select(_CHECKPOINTS).where(
                    _CHECKPOINTS.c.last_seq >= first, _CHECKPOINTS.c.last_seq < last
                )
            ).all()
            chosen = list(inside) + ([covering] if covering is not None else [])
            checkpoints.extend(
                {
                    "last_seq": row.last_seq,
                    "last_hash": row.last_hash,
                    "signed_at": timestamp(row.signed_at),
                    "kid": row.kid,
                    "signature": row.signature,
                }
                for row in chosen
            )
            kids = {c["kid"] for c in checkpoints}
            for kid, jwk in connection.execute(
                select(SigningKey.kid, SigningKey.public_jwk).where(SigningKey.kid.in_(kids))
            ):
                keys[kid] = dict(jwk)
    for record in records:
        record["recorded_at"] = timestamp(record["recorded_at"])
    return {
        "format": "tinhso-audit-export/v1",
        "from": timestamp(start),
        "to": timestamp(end),
        "records": records,
        "proof": {
            "anchor_seq": anchor[0],
            "anchor_hash": anchor[1],
            "checkpoints": checkpoints,
            "public_keys": keys,
            "hash": "sha256(canonical JSON array of fields: " + ",".join(_HASHED_FIELDS) + ")",
            "checkpoint_message": f"{CHECKPOINT_PREFIX}:<last_seq>:<last_hash> (Ed25519)",
        },
    }


def verify_export(document: dict[str, Any]) -> VerifyResult:
    """Check an export on its own: the chain from its anchor and the signed checkpoints."""
    proof = document["proof"]
    rows = []
    for record in document["records"]:
        row = dict(record)
        row["recorded_at"] = datetime.fromisoformat(row["recorded_at"].replace("Z", "+00:00"))
        rows.append(row)
    result = check_chain(iter(rows), (int(proof["anchor_seq"]), str(proof["anchor_hash"])))
    if not result.ok:
        return result
    hashes = {int(row["seq"]): str(row["record_hash"]) for row in rows}
    for checkpoint in proof["checkpoints"]:
        jwk = proof["public_keys"].get(checkpoint["kid"])
        seq = int(checkpoint["last_seq"])
        known = hashes.get(seq)
        if (
            (known is not None and known != checkpoint["last_hash"])
            or jwk is None
            or not checkpoint_signature_valid(
                seq, checkpoint["last_hash"], checkpoint["signature"], jwk
            )
        ):
            result.ok = False
            result.reason = "checkpoint"
            return result
        result.checkpoints += 1
    return result
