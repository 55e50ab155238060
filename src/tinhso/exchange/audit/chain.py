"""The gateway's tamper-evident audit log: one hash chain in the database, signed checkpoints.

This module holds the records and the chain (what a record is, how it is hashed, chained,
inserted and checkpointed); :mod:`tinhso.exchange.audit.log` is the group-commit writer of a
gateway process with its spool, :mod:`tinhso.exchange.audit.proof` verifies and exports.

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
  reordering records breaks the chain at the first affected ``seq``: ``verify`` names it.
- Checkpoints are numbered 1, 2, 3 ... without gaps (the number is taken under the chain lock)
  and sign ``"tinhso-audit-checkpoint/v2:{number}:{last_seq}:{last_hash}"`` with the
  platform's active Ed25519 key (the JWKS key with the same ``kid``); the writers add one
  about every ``checkpoint_seconds`` of traffic and ``tinhso audit checkpoint`` adds one on
  demand. (Checkpoints signed before numbering, ``v1:{last_seq}:{last_hash}``, still verify.)
- The newest checkpoint is also witnessed outside the database (:mod:`.audit_witness`): each
  gateway node keeps the newest head it signed on its own disk (and in Redis when configured),
  so deleting the end of the chain, checkpoints included, no longer goes unnoticed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import json.encoder as json_encoder
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select, text

from tinhso.core.db import make_sessionmaker, utcnow
from tinhso.exchange.models import AuditCheckpoint, AuditRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

    from tinhso.core.config import Settings

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
CHECKPOINT_PREFIX = "tinhso-audit-checkpoint/v2"
_LEGACY_CHECKPOINT_PREFIX = "tinhso-audit-checkpoint/v1"
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
    # The request path exactly as received (percent-encoding kept, at most PATH_MAX characters),
    # beside the template it matched. None in records made before it was kept: such a record's
    # hash leaves it out, so older chains still verify.
    path: str | None = None

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
    "path_template", "path", "status", "outcome", "latency_us", "bytes_in", "bytes_out",
    "request_sha256", "response_sha256", "prev_hash", "record_hash",
)  # fmt: skip
HASHED_FIELDS = _COLUMNS[:-1]
_PATH_AT = HASHED_FIELDS.index("path")
PATH_MAX = 2000  # characters of the received path an audit record keeps
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
    values: list[Any] = [row.get(name) for name in HASHED_FIELDS]
    values[1] = timestamp(values[1])
    if values[_PATH_AT] is None:  # a record from before the received path was kept
        del values[_PATH_AT]
    return _digest(values)


def checkpoint_message(last_seq: int, last_hash: str, number: int | None = None) -> bytes:
    """What a checkpoint signs; without ``number``, the form of checkpoints signed before they
    were numbered."""
    if number is None:
        return f"{_LEGACY_CHECKPOINT_PREFIX}:{last_seq}:{last_hash}".encode()
    return f"{CHECKPOINT_PREFIX}:{number}:{last_seq}:{last_hash}".encode()


@dataclass(frozen=True, slots=True)
class CheckpointHead:
    """A signed checkpoint as it is witnessed outside the database (and exported)."""

    number: int
    last_seq: int
    last_hash: str
    signed_at: str  # ISO 8601, UTC (:func:`timestamp`)
    kid: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckpointHead:
        return cls(
            number=int(data["number"]),
            last_seq=int(data["last_seq"]),
            last_hash=str(data["last_hash"]),
            signed_at=str(data["signed_at"]),
            kid=str(data["kid"]),
            signature=str(data["signature"]),
        )

    def signature_valid(self, jwk: dict[str, Any]) -> bool:
        return checkpoint_signature_valid(
            self.last_seq, self.last_hash, self.signature, jwk, number=self.number
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_b64url_decode(str(jwk["x"])))


def checkpoint_signature_valid(
    last_seq: int, last_hash: str, signature: str, jwk: dict[str, Any], number: int | None = None
) -> bool:
    """Whether ``signature`` signs this checkpoint; with ``number``, a numbered (v2) one."""
    try:
        public_key_from_jwk(jwk).verify(
            _b64url_decode(signature), checkpoint_message(last_seq, last_hash, number)
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
        entry.method, entry.path_template, entry.path, entry.status, entry.outcome,
        entry.latency_us, entry.bytes_in, entry.bytes_out, entry.request_sha256,
        entry.response_sha256,
    ]  # fmt: skip
    # The hashed text leaves out a missing path, as record_hash does (seq is not in values).
    hashed = values if entry.path is not None else values[:8] + values[9:]
    text = _dumps(hashed) if _encode_list is None else "".join(_encode_list(hashed, 0))
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
    witness: Callable[[CheckpointHead], None] | None = None,
) -> int:
    """Chain and insert ``entries`` in one transaction; returns the new head ``seq``.

    With ``signer`` and ``checkpoint_every``, also signs a checkpoint of the new head when the
    last one is older than that (inside the same lock, so nodes do not duplicate it), and
    hands it to ``witness`` once committed.
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
    signed: CheckpointHead | None = None
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
            signed = _maybe_checkpoint(cursor, dialect, mark, signer, checkpoint_every, seq, prev)
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
    if signed is not None and witness is not None:
        try:
            witness(signed)
        except Exception:
            log.exception("audit: could not witness checkpoint %d", signed.number)
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
) -> CheckpointHead | None:
    signed_at = _CHECKPOINTS.c.signed_at.type.dialect_impl(dialect)
    cursor.execute(_LAST_CHECKPOINT_SQL)
    last = cursor.fetchone()
    now = utcnow()
    if last is not None:
        read = signed_at.result_processor(dialect, None)
        when = cast("datetime", read(last[0]) if read is not None else last[0])
        if int(last[1]) >= seq or now - when < every:
            return None
    number = int(last[2]) + 1 if last is not None else 1
    kid, private_key = signer
    signature = _b64url(private_key.sign(checkpoint_message(seq, head, number)))
    write = signed_at.bind_processor(dialect)
    cursor.execute(
        f"INSERT INTO {_CHECKPOINTS.name}"  # noqa: S608
        " (number, last_seq, last_hash, signed_at, kid, signature)"
        f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark})",
        (number, seq, head, write(now) if write is not None else now, kid, signature),
    )
    return CheckpointHead(number, seq, head, timestamp(now), kid, signature)


# The newest checkpoint: when, up to which record, and its number (read under the chain lock).
_LAST_CHECKPOINT_SQL = (
    f"SELECT signed_at, last_seq, number FROM {_CHECKPOINTS.name}"  # noqa: S608
    " ORDER BY number DESC LIMIT 1"
)


# SQLite: rows per INSERT statement, one statement (one driver call) per 64 records of a batch.
_ROWS_PER_INSERT = 64
_INSERT_SQL: dict[int, str] = {}
_COPY_PG = f"COPY {_RECORDS.name} ({', '.join(_COLUMNS)}) FROM STDIN"
# The COPY's value types, in _COLUMNS order (fixed dumpers: no per-value type lookup); the time
# goes as ISO text, which the server reads as timestamptz.
_COPY_TYPES = (
    "int8", "text", "text", "text", "text", "text", "int4", "text", "text", "text", "int4", "text",
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


def _insert_checkpoint(
    connection: Connection, signer: Signer, seq: int, head: str
) -> CheckpointHead:
    last = connection.scalar(select(func.max(_CHECKPOINTS.c.number)))
    number = int(last or 0) + 1
    kid, private_key = signer
    now = utcnow()
    signature = _b64url(private_key.sign(checkpoint_message(seq, head, number)))
    connection.execute(
        insert(_CHECKPOINTS).values(
            number=number,
            last_seq=seq,
            last_hash=head,
            signed_at=now,
            kid=kid,
            signature=signature,
        )
    )
    return CheckpointHead(number, seq, head, timestamp(now), kid, signature)


def write_checkpoint(
    engine: Engine,
    settings: Settings,
    witness: Callable[[CheckpointHead], None] | None = None,
) -> CheckpointHead | None:
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
        signed = _insert_checkpoint(connection, signer, seq, head)
        connection.commit()
    if witness is not None:
        witness(signed)
    return signed


def load_signer(engine: Engine, settings: Settings) -> Signer | None:
    """The active signing key, or None if the platform has none yet (no checkpoints then)."""
    from tinhso.exchange.keys import signing_key_service  # noqa: PLC0415 - avoids an import cycle

    with make_sessionmaker(engine)() as session:
        key = signing_key_service.active(session)
        return None if key is None else (key.kid, signing_key_service.private_key(key, settings))
