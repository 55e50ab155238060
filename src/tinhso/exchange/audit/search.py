"""Searching the audit log and proving one record (for the portal's audit pages).

A system's officials see the records where one of their organisations' systems is a party
(the consumer, or the provider of the service called); platform administrators see all.
:func:`record_proof` checks one record where it stands: its hash from its fields, its link
to the record before, the chain from it to the first signed checkpoint after it (read in
chunks, at most ``PROOF_SPAN`` records) and that checkpoint's Ed25519 signature.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import and_, func, or_, select

from tinhso.core.errors import InvalidInput, NotFound
from tinhso.core.text import fold
from tinhso.exchange.audit.chain import GENESIS_HASH, record_hash
from tinhso.exchange.audit.proof import check_chain, checkpoint_signed
from tinhso.exchange.models import AuditCheckpoint, AuditRecord, SigningKey

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.orm import Session

_RECORDS = cast("Table", AuditRecord.__table__)
PROOF_SPAN = 200_000
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


@dataclass(frozen=True)
class AuditQuery:
    start: datetime | None = None
    end: datetime | None = None
    counterpart: str = ""  # a system "org/system", or part of one
    service: str = ""  # a service "org/system/code/version", or part of one
    status: str = ""  # "", 2xx … 5xx, or one status code
    limit: int = 50
    offset: int = 0


def _status_condition(status: str) -> ColumnElement[bool] | None:
    if not status:
        return None
    if status in STATUS_CLASSES:
        low = int(status[0]) * 100
        return and_(AuditRecord.status >= low, AuditRecord.status < low + 100)
    if status.isdigit() and 100 <= int(status) <= 599:
        return AuditRecord.status == int(status)
    raise InvalidInput(
        "Trạng thái phải là 2xx, 3xx, 4xx, 5xx hoặc một mã từ 100 đến 599",
        "The status is 2xx, 3xx, 4xx, 5xx or one code from 100 to 599",
        field="status",
    )


def _visible(systems: list[str]) -> ColumnElement[bool]:
    """Records where one of ``systems`` ("org/system") called, or provided the service."""
    conditions: list[ColumnElement[bool]] = []
    for key in systems:
        conditions.append(AuditRecord.consumer == key)
        conditions.append(AuditRecord.service.startswith(key + "/", autoescape=True))
    return or_(*conditions) if conditions else AuditRecord.seq < 0


def search_records(
    session: Session, query: AuditQuery, systems: list[str] | None
) -> tuple[list[AuditRecord], int]:
    """A page of matching records, newest first, and how many match (two queries).
    ``systems``: the systems whose records the reader may see (None: every record)."""
    conditions: list[ColumnElement[bool]] = []
    if systems is not None:
        conditions.append(_visible(systems))
    if query.start is not None:
        conditions.append(AuditRecord.recorded_at >= query.start)
    if query.end is not None:
        conditions.append(AuditRecord.recorded_at < query.end)
    if query.counterpart.strip():
        text = fold(query.counterpart).replace(" ", "")
        conditions.append(
            or_(
                AuditRecord.consumer.contains(text, autoescape=True),
                AuditRecord.service.startswith(text, autoescape=True),
            )
        )
    if query.service.strip():
        conditions.append(
            AuditRecord.service.contains(fold(query.service).replace(" ", ""), autoescape=True)
        )
    status = _status_condition(query.status.strip())
    if status is not None:
        conditions.append(status)
    where = and_(*conditions) if conditions else None
    counting = select(func.count()).select_from(AuditRecord)
    listing = select(AuditRecord)
    if where is not None:
        counting = counting.where(where)
        listing = listing.where(where)
    total = session.scalar(counting) or 0
    rows = session.scalars(
        listing.order_by(AuditRecord.seq.desc()).limit(query.limit).offset(query.offset)
    )
    return list(rows), total


def visible_record(session: Session, seq: int, systems: list[str] | None) -> AuditRecord:
    record = session.get(AuditRecord, seq) if 0 < seq < 2**63 else None
    if record is None or (
        systems is not None
        and record.consumer not in systems
        and not any((record.service or "").startswith(key + "/") for key in systems)
    ):
        raise NotFound(
            f"Không tìm thấy bản ghi nhật ký số {seq}", f"Audit record {seq} not found", field="seq"
        )
    return record


@dataclass(frozen=True)
class RecordProof:
    hash_matches: bool  # the stored hash is the hash of the stored fields
    linked: bool  # prev_hash is the record before's hash (or the genesis hash for the first)
    checkpoint_number: int | None  # the first signed checkpoint at or after the record
    checkpoint_signed_at: datetime | None
    checkpoint_kid: str | None
    chain_to_checkpoint: bool  # every record from this one to the checkpoint is intact
    signature_valid: bool
    records_checked: int

    @property
    def proven(self) -> bool:
        return (
            self.hash_matches
            and self.linked
            and self.chain_to_checkpoint
            and self.signature_valid
            and self.checkpoint_number is not None
        )


def _row(record: AuditRecord) -> dict[str, Any]:
    return {column.name: getattr(record, column.key) for column in _RECORDS.columns}


def _chain_rows(session: Session, first: int, last: int) -> Iterator[dict[str, Any]]:
    """The records ``first``..``last`` in order, read a chunk at a time."""
    for start in range(first, last + 1, _CHUNK):
        chunk = session.execute(  # plain rows: no ORM objects kept for a long span
            select(_RECORDS)
            .where(_RECORDS.c.seq >= start, _RECORDS.c.seq <= min(last, start + _CHUNK - 1))
            .order_by(_RECORDS.c.seq)
        )
        for found in chunk:
            yield dict(found._mapping)


_CHUNK = 2_000


def record_proof(session: Session, record: AuditRecord) -> RecordProof:
    """Check the record, its link and the chain up to the checkpoint that signs it."""
    previous = session.get(AuditRecord, record.seq - 1) if record.seq > 1 else None
    expected_prev = previous.record_hash if previous is not None else GENESIS_HASH
    checkpoint = session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.last_seq >= record.seq)
        .order_by(AuditCheckpoint.last_seq)
        .limit(1)
    ).first()
    chain_ok, checked, signed = False, 0, False
    if checkpoint is not None and checkpoint.last_seq - record.seq < PROOF_SPAN:
        rows = _chain_rows(session, record.seq, checkpoint.last_seq)
        result = check_chain(rows, (record.seq - 1, record.prev_hash))
        checked = result.records
        chain_ok = result.ok and result.head_hash == checkpoint.last_hash
        key = session.scalars(select(SigningKey).where(SigningKey.kid == checkpoint.kid)).first()
        signed = key is not None and checkpoint_signed(checkpoint, dict(key.public_jwk))
    return RecordProof(
        hash_matches=record_hash(_row(record)) == record.record_hash,
        linked=record.prev_hash == expected_prev,
        checkpoint_number=checkpoint.number if checkpoint else None,
        checkpoint_signed_at=checkpoint.signed_at if checkpoint else None,
        checkpoint_kid=checkpoint.kid if checkpoint else None,
        chain_to_checkpoint=chain_ok,
        signature_valid=signed,
        records_checked=checked,
    )
