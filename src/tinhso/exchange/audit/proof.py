"""Proof of the audit chain: ``tinhso audit verify`` and ``tinhso audit export``.

:func:`verify` walks the whole chain and every signed checkpoint and names the first record
that was altered, deleted or reordered; :func:`export` writes a time range with what is needed
to check it on its own (the record before it, the checkpoints that cover it, the public keys),
and :func:`verify_export` checks such a document without the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select

from tinhso.exchange.audit.chain import (
    CHECKPOINT_PREFIX,
    GENESIS_HASH,
    HASHED_FIELDS,
    CheckpointHead,
    checkpoint_signature_valid,
    record_hash,
    timestamp,
)
from tinhso.exchange.models import AuditCheckpoint, AuditRecord, SigningKey

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

_RECORDS = cast("Table", AuditRecord.__table__)
_CHECKPOINTS = cast("Table", AuditCheckpoint.__table__)


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
    # The first checkpoint number missing from the database (deleted, or never there).
    missing_checkpoint: int | None = None
    # The witnessed head the database does not agree with, and where it was kept.
    witness: str | None = None
    witnessed_seq: int | None = None
    witnesses: int = 0  # witnessed heads the database agrees with


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


def verify(engine: Engine, witnessed: Sequence[tuple[str, CheckpointHead]] = ()) -> VerifyResult:
    """Prove the whole chain and every checkpoint; names the first broken record.

    Checkpoints must be numbered 1..N without gaps, each signed and matching its record.
    ``witnessed``: checkpoint heads kept outside the database (``(where, head)``, see
    :mod:`tinhso.exchange.audit.witness`); the database must hold each one: its chain must
    reach the head's ``last_seq`` with the same hash, and its checkpoints its number.
    """
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
        checkpoints = list(connection.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.number)))
        wanted = sorted({c.last_seq for c in checkpoints} | {h.last_seq for _, h in witnessed})
        for start in range(0, len(wanted), 500):
            for seq, digest in connection.execute(
                select(_RECORDS.c.seq, _RECORDS.c.record_hash).where(
                    _RECORDS.c.seq.in_(wanted[start : start + 500])
                )
            ):
                hashes[int(seq)] = str(digest)
    by_number = {}
    for expected, checkpoint in enumerate(checkpoints, start=1):
        if checkpoint.number != expected:
            result.ok = False
            result.missing_checkpoint = expected
            result.reason = "checkpoint_missing"
            return result
        jwk = keys.get(checkpoint.kid)
        if (
            hashes.get(checkpoint.last_seq) != checkpoint.last_hash
            or jwk is None
            or not checkpoint_signed(checkpoint, jwk)
        ):
            result.ok = False
            result.bad_checkpoint_id = checkpoint.id
            result.reason = "checkpoint"
            return result
        by_number[checkpoint.number] = checkpoint
        result.checkpoints += 1
    for where, head in witnessed:
        problem = _disagreement(head, keys, hashes, by_number, result.head_seq)
        if problem is not None:
            result.ok = False
            result.reason = problem
            result.witness = where
            result.witnessed_seq = head.last_seq
            if problem == "truncated":
                result.first_broken_seq = result.head_seq + 1
            elif problem == "checkpoint_missing":
                result.missing_checkpoint = len(checkpoints) + 1
            elif problem == "witness_mismatch":
                result.first_broken_seq = head.last_seq
            return result
        result.witnesses += 1
    return result


def checkpoint_signed(checkpoint: Any, jwk: dict[str, Any]) -> bool:
    """Signed as numbered (v2), or as it was before checkpoints had numbers (v1)."""
    return checkpoint_signature_valid(
        checkpoint.last_seq, checkpoint.last_hash, checkpoint.signature, jwk, checkpoint.number
    ) or checkpoint_signature_valid(
        checkpoint.last_seq, checkpoint.last_hash, checkpoint.signature, jwk
    )


def _disagreement(
    head: CheckpointHead,
    keys: dict[str, dict[str, Any]],
    hashes: dict[int, str],
    by_number: dict[int, Any],
    head_seq: int,
) -> str | None:
    """Why the database does not hold the witnessed ``head``; None if it does."""
    jwk = keys.get(head.kid)
    if jwk is None or not head.signature_valid(jwk):
        # Not signed by a platform key the database knows: the witness itself is false, or
        # the database's keys were changed. Either way nothing is proven.
        return "witness_unverifiable"
    if head.last_seq > head_seq:
        return "truncated"  # the database's chain ends before the witnessed head
    if hashes.get(head.last_seq) != head.last_hash:
        return "witness_mismatch"  # the record at the witnessed head was replaced
    checkpoint = by_number.get(head.number)
    if checkpoint is None:
        return "checkpoint_missing"
    if (checkpoint.last_seq, checkpoint.last_hash) != (head.last_seq, head.last_hash):
        return "witness_mismatch"
    return None


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
                    "number": row.number,
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
            "hash": "sha256(canonical JSON array of fields: " + ",".join(HASHED_FIELDS) + ")",
            "checkpoint_message": (
                f"{CHECKPOINT_PREFIX}:<number>:<last_seq>:<last_hash> (Ed25519; checkpoints"
                " signed before numbering: tinhso-audit-checkpoint/v1:<last_seq>:<last_hash>)"
            ),
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
            or not (
                checkpoint_signature_valid(
                    seq,
                    checkpoint["last_hash"],
                    checkpoint["signature"],
                    jwk,
                    checkpoint.get("number"),
                )
                or checkpoint_signature_valid(
                    seq, checkpoint["last_hash"], checkpoint["signature"], jwk
                )
            )
        ):
            result.ok = False
            result.reason = "checkpoint"
            return result
        result.checkpoints += 1
    return result
