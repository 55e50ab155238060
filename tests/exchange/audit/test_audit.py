"""The audit chain: tamper evidence, signed checkpoints, export, the spool, concurrent writers."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import delete, select, update

from tests.conftest import TEST_SECRET
from tinhso.core.db import build_engine, make_sessionmaker, utcnow
from tinhso.exchange.audit import chain as audit
from tinhso.exchange.audit import proof as audit_proof
from tinhso.exchange.audit.chain import AuditEntry, CheckpointHead
from tinhso.exchange.audit.log import AuditLog
from tinhso.exchange.audit.witness import NodeWitness, node_witness_path, read_head, redis_head
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import AuditCheckpoint, AuditRecord

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine

    from tests.support.services import RedisServer
    from tinhso.core.config import Settings


def _entries(count: int, start: int = 0) -> list[AuditEntry]:
    return [
        AuditEntry(
            recorded_at=utcnow(),
            request_id=f"req-{start + i}",
            method="GET",
            status=200,
            outcome="ok",
            latency_us=1000 + i,
            bytes_out=10,
            consumer="ubnd-viet-yen/mot-cua",
            service="so-yte/his/echo/v1",
            grant_id=1,
            path_template="/citizens/",
            node="test",
        )
        for i in range(count)
    ]


def _signer(engine: Engine, settings: Settings) -> audit.Signer:
    with make_sessionmaker(engine).begin() as session:
        return signing_key_service.active_signer(session, settings)


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "TINHSO_DATABASE_URL": settings.effective_database_url,
        "TINHSO_SECRET_KEY": TEST_SECRET,
        "TINHSO_ENVIRONMENT": "test",
        "TINHSO_DATA_DIR": str(settings.data_dir),
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "400",  # no wrapped messages
        # The source under test, when it is not the installed one (a worktree).
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    }
    return subprocess.run(
        [sys.executable, "-m", "tinhso.cli", "audit", *args],
        env=env,
        cwd=settings.data_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_chain_verifies_and_cli_agrees(engine: Engine, settings: Settings) -> None:
    audit.append_entries(engine, _entries(3))
    audit.append_entries(engine, _entries(2, 3))
    result = audit_proof.verify(engine)
    assert result.ok
    assert (result.records, result.head_seq) == (5, 5)
    done = _cli(settings, "verify")
    assert done.returncode == 0, done.stderr
    assert "5" in done.stderr


@pytest.mark.parametrize("tamper", ["alter", "delete", "reorder"])
def test_tampering_names_the_first_broken_record(
    engine: Engine, settings: Settings, tamper: str
) -> None:
    audit.append_entries(engine, _entries(6))
    with engine.begin() as connection:
        if tamper == "alter":
            connection.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(status=403))
        elif tamper == "delete":
            connection.execute(delete(AuditRecord).where(AuditRecord.seq == 4))
        else:  # swap the contents of records 2 and 5 (each keeps the other's seq)
            rows = {
                row.seq: dict(row._mapping)
                for row in connection.execute(
                    select(AuditRecord.__table__).where(AuditRecord.seq.in_([2, 5]))
                )
            }
            for seq, other in ((2, 5), (5, 2)):
                values = {k: v for k, v in rows[other].items() if k != "seq"}
                connection.execute(
                    update(AuditRecord).where(AuditRecord.seq == seq).values(**values)
                )
    result = audit_proof.verify(engine)
    assert not result.ok
    assert result.first_broken_seq == {"alter": 3, "delete": 4, "reorder": 2}[tamper]
    done = _cli(settings, "verify")
    assert done.returncode == 1
    assert f"seq={result.first_broken_seq}" in done.stderr


def test_checkpoint_signature_verifies_with_jwks(
    engine: Engine, settings: Settings, client: TestClient
) -> None:
    signer = _signer(engine, settings)
    audit.append_entries(engine, _entries(4), signer, timedelta(0))
    done = _cli(settings, "checkpoint")
    assert done.returncode == 0, done.stderr
    with make_sessionmaker(engine)() as session:
        checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
    assert [c.last_seq for c in checkpoints] == [4, 4]
    jwks = {key["kid"]: key for key in client.get("/.well-known/jwks.json").json()["keys"]}
    for checkpoint in checkpoints:
        jwk = jwks[checkpoint.kid]
        assert audit.checkpoint_signature_valid(
            checkpoint.last_seq, checkpoint.last_hash, checkpoint.signature, jwk, checkpoint.number
        )
        # Any change to what was signed fails: the head, or the checkpoint's number.
        assert not audit.checkpoint_signature_valid(
            checkpoint.last_seq - 1, checkpoint.last_hash, checkpoint.signature, jwk, 1
        )
        assert not audit.checkpoint_signature_valid(
            checkpoint.last_seq, checkpoint.last_hash, checkpoint.signature, jwk, 3
        )
    assert audit_proof.verify(engine).checkpoints == 2
    # An altered checkpoint makes verify fail and name it.
    with engine.begin() as connection:
        connection.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.id == checkpoints[0].id)
            .values(last_hash="0" * 64)
        )
    result = audit_proof.verify(engine)
    assert not result.ok
    assert result.bad_checkpoint_id == checkpoints[0].id


def test_export_carries_its_proof(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    signer = _signer(engine, settings)
    audit.append_entries(engine, _entries(3))
    middle = utcnow()
    audit.append_entries(engine, _entries(3, 3), signer, timedelta(0))
    out = tmp_path / "export.json"
    start = middle.isoformat()
    end = (utcnow() + timedelta(seconds=1)).isoformat()
    done = _cli(settings, "export", "--from", start, "--to", end, "--out", str(out))
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert [r["seq"] for r in document["records"]] == [4, 5, 6]
    assert document["proof"]["anchor_seq"] == 3
    result = audit_proof.verify_export(document)
    assert result.ok and result.checkpoints == 1
    document["records"][1]["status"] = 500
    assert audit_proof.verify_export(document).first_broken_seq == 5


def test_group_commit_and_spool_replay(engine: Engine, tmp_path: Path) -> None:
    """Concurrent records share writes; with the database away they are spooled, then replayed."""

    async def scenario() -> tuple[int, int, int]:
        log = AuditLog(engine, tmp_path, node="n1", retry_seconds=0)
        log.start()
        await asyncio.gather(*(log.record(e) for e in _entries(50)))
        batches = log.stats.batches
        # The database "goes away": an engine on an unreachable URL stands in for it.
        real = log.engine
        log.engine = build_engine("postgresql://nobody@127.0.0.1:1/none")
        await asyncio.gather(*(log.record(e) for e in _entries(20, 50)))
        assert log.spool.pending()
        spooled = log.stats.spooled
        log.engine = real
        await log.record(_entries(1, 70)[0])  # replays the spool first, then writes this one
        await log.close()
        return batches, spooled, log.stats.replayed

    batches, spooled, replayed = asyncio.run(scenario())
    assert batches < 50  # grouped
    assert (spooled, replayed) == (20, 20)
    rows = audit_proof.verify(engine)
    assert rows.ok and rows.records == 71
    with engine.connect() as connection:
        ids = list(connection.scalars(select(AuditRecord.request_id).order_by(AuditRecord.seq)))
    assert ids == [f"req-{i}" for i in range(71)]  # the node's order is kept


def test_a_light_load_is_committed_without_the_linger(engine: Engine, tmp_path: Path) -> None:
    """Records one after another (a consumer calling in sequence) are committed at once; the
    linger holds a commit back only after a batch big enough to show load."""

    async def scenario() -> tuple[float, float, int]:
        log = AuditLog(engine, tmp_path, node="n1", linger=1.0)
        log.start()
        started = time.perf_counter()
        for entry in _entries(4):
            await log.record(entry)
        sequential = time.perf_counter() - started
        await asyncio.gather(*(log.record(e) for e in _entries(8, 4)))  # one batch of 8
        started = time.perf_counter()
        await log.record(_entries(1, 12)[0])  # after a batch of 8: held back by the linger
        held = time.perf_counter() - started
        await log.close()
        return sequential, held, log.stats.batches

    sequential, held, batches = asyncio.run(scenario())
    assert sequential < 1.0  # waiting out the linger would take 3 s for the last three
    assert held > 0.5
    assert batches == 6
    assert audit_proof.verify(engine).records == 13


def test_spool_of_a_dead_process_is_adopted(engine: Engine, tmp_path: Path) -> None:
    """Records spooled by a process that died are replayed by the next one on the node."""

    async def crashed() -> None:
        log = AuditLog(build_engine("postgresql://nobody@127.0.0.1:1/none"), tmp_path, node="old")
        log.start()
        await asyncio.gather(*(log.record(e) for e in _entries(5)))
        assert log.stats.spooled == 5
        await log.close()  # the spool stays (and its lock) ...
        assert log.spool._owner is not None
        os.close(log.spool._owner)  # ... until the process is gone

    async def successor() -> int:
        log = AuditLog(engine, tmp_path, node="new")
        log.start()
        await log.record(_entries(1, 5)[0])
        await log.close()
        return log.stats.replayed

    asyncio.run(crashed())
    assert asyncio.run(successor()) == 5
    result = audit_proof.verify(engine)
    assert result.ok and result.records == 6
    assert not list((tmp_path / "audit-spool").glob("*.jsonl"))


_WRITER = """
import asyncio, sys
from tinhso.core.db import build_engine, utcnow
from tinhso.exchange.audit.chain import AuditEntry
from tinhso.exchange.audit.log import AuditLog
from pathlib import Path

async def main():
    engine = build_engine(sys.argv[1])
    log = AuditLog(engine, Path(sys.argv[2]), node=sys.argv[3])
    log.start()
    for round in range(20):
        await asyncio.gather(*(log.record(AuditEntry(utcnow(), f"{sys.argv[3]}-{round}-{i}",
            "GET", 200, "ok")) for i in range(10)))
    await log.close()
    engine.dispose()

asyncio.run(main())
"""


def test_two_processes_keep_one_chain(engine: Engine, settings: Settings) -> None:
    url = settings.effective_database_url
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, str(settings.data_dir), f"node{n}"])
        for n in (1, 2)
    ]
    for process in processes:
        assert process.wait(120) == 0
    result = audit_proof.verify(engine)
    assert result.ok
    assert result.records == 400
    with engine.connect() as connection:
        nodes = set(connection.scalars(select(AuditRecord.node)))
    assert nodes == {"node1", "node2"}


def test_the_received_path_is_chained_and_records_without_it_still_verify(engine: Engine) -> None:
    before, after = _entries(1), _entries(1, 1)
    after[0].path = "/so-yte/his/echo/v1/citizens/..;/x"
    audit.append_entries(engine, before + after)
    with engine.connect() as connection:
        rows = [
            dict(row._mapping)
            for row in connection.execute(select(AuditRecord.__table__).order_by("seq"))
        ]
    assert [row["path"] for row in rows] == [None, after[0].path]
    # A record without a path hashes as records did before the column existed: older chains
    # still verify.
    values = [rows[0][name] for name in audit.HASHED_FIELDS if name != "path"]
    values[1] = audit.timestamp(values[1])
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == rows[0]["record_hash"]
    assert audit_proof.verify(engine).ok
    # The path is under the hash: changing it breaks the chain at that record.
    with engine.begin() as connection:
        connection.execute(
            update(AuditRecord)
            .where(AuditRecord.seq == rows[1]["seq"])
            .values(path="/so-yte/his/echo/v1/citizens/1")
        )
    result = audit_proof.verify(engine)
    assert (result.ok, result.first_broken_seq, result.reason) == (False, rows[1]["seq"], "altered")


# -- orphaned spools, constant-cost spooling, witnessed heads (issue 11, items 15-17) -----------
_NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def _spool_as_a_dead_process(data_dir: Path, node: str, count: int, start: int = 0) -> None:
    """Leave a spool of ``count`` records, as a process that died with the database away."""

    async def crashed() -> None:
        log = AuditLog(build_engine(_NOWHERE), data_dir, node=node)
        log.start()
        await asyncio.gather(*(log.record(e) for e in _entries(count, start)))
        assert log.stats.spooled == count
        await log.close()  # the spool stays (and its lock) ...
        assert log.spool._owner is not None
        os.close(log.spool._owner)  # ... until the process is gone

    asyncio.run(crashed())


def _record_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(list(connection.scalars(select(AuditRecord.seq))))


def test_orphaned_spools_are_replayed_without_traffic(engine: Engine, tmp_path: Path) -> None:
    """At start-up and on a timer, with no request at all: the spool left at start and one left
    by a process that dies later are both replayed."""
    _spool_as_a_dead_process(tmp_path, "died-before", 5)

    async def idle_successor() -> tuple[int, int]:
        # One record per batch: a spool longer than a pass takes several passes.
        log = AuditLog(engine, tmp_path, node="idle", orphan_seconds=0.2, max_batch=1)
        log.start()
        deadline = time.monotonic() + 10
        while _record_count(engine) < 5 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        at_start = _record_count(engine)
        # Another process of the node dies with records in its spool, while this one idles.
        await asyncio.to_thread(_spool_as_a_dead_process, tmp_path, "died-later", 3, 5)
        deadline = time.monotonic() + 10
        while _record_count(engine) < 8 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        later = _record_count(engine)
        await log.close()
        return at_start, later

    assert asyncio.run(idle_successor()) == (5, 8)
    result = audit_proof.verify(engine)
    assert result.ok and result.records == 8
    assert not list((tmp_path / "audit-spool").glob("*.jsonl"))


def test_verify_reports_records_still_spooled(engine: Engine, settings: Settings) -> None:
    audit.append_entries(engine, _entries(2))
    _spool_as_a_dead_process(settings.data_dir, "gone", 4, 2)
    done = _cli(settings, "verify")
    assert done.returncode == 2, done.stderr
    assert "4 answered exchanges are still spooled" in done.stderr
    assert "gone.jsonl: 4" in done.stderr


def test_spooling_costs_the_same_however_long_the_outage(engine: Engine, tmp_path: Path) -> None:
    """A record spooled behind 100,000 others costs what it costs behind one: nothing re-reads
    the spool per batch (and the database is tried once per ``retry_seconds``, not per batch)."""

    async def scenario() -> tuple[float, float]:
        log = AuditLog(build_engine(_NOWHERE), tmp_path, node="outage", retry_seconds=3600)
        log.start()
        await log.record(_entries(1)[0])  # the database is away: spooled
        assert log.stats.spool_pending

        async def twenty() -> float:
            started = time.perf_counter()
            for entry in _entries(20, 1):
                await log.record(entry)
            return time.perf_counter() - started

        short = await twenty()
        line = json.dumps(_entries(1, 99)[0].to_json()) + "\n"
        with log.spool.path.open("a", encoding="utf-8") as handle:
            handle.write(line * 100_000)  # a long outage's worth of records
        long = await twenty()
        await log.close()
        return short, long

    short, long = asyncio.run(scenario())
    assert long < 3 * short + 0.1, (short, long)


def test_a_long_spool_is_replayed_in_order_from_its_offset(engine: Engine, tmp_path: Path) -> None:
    async def scenario() -> None:
        log = AuditLog(engine, tmp_path, node="n1", retry_seconds=0, max_batch=7)
        real = log.engine
        log.engine = build_engine(_NOWHERE)
        log.start()
        for start in range(0, 40, 10):
            await asyncio.gather(*(log.record(e) for e in _entries(10, start)))
        assert log.stats.spooled == 40
        log.engine = real
        await log.record(_entries(1, 40)[0])
        await log.close()
        assert log.stats.replayed == 40

    asyncio.run(scenario())
    with engine.connect() as connection:
        ids = list(connection.scalars(select(AuditRecord.request_id).order_by(AuditRecord.seq)))
    assert ids == [f"req-{i}" for i in range(41)]
    assert not list((tmp_path / "audit-spool").glob("*.jsonl"))
    assert not list((tmp_path / "audit-spool").glob("*.offset"))


def test_checkpoints_are_numbered_and_frequent_across_restarts(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Two processes (one of them restarted) under steady traffic for 3 s with a checkpoint
    every 0.4 s: numbered 1..N without gaps, never more than 1.5 intervals (and some slack)
    apart."""
    signer = _signer(engine, settings)
    every = 0.4

    async def traffic(name: str, seconds: float) -> None:
        log = AuditLog(engine, tmp_path, node=name, signer=signer, checkpoint_seconds=every)
        log.start()
        deadline = time.monotonic() + seconds
        count = 0
        while time.monotonic() < deadline:
            await asyncio.gather(*(log.record(e) for e in _entries(5, count)))
            count += 5
            await asyncio.sleep(0.01)
        await log.close()

    async def restarting() -> None:
        await traffic("b", 1.5)
        await traffic("b-again", 1.5)

    async def scenario() -> None:
        await asyncio.gather(traffic("a", 3.0), restarting())

    asyncio.run(scenario())
    with make_sessionmaker(engine)() as session:
        checkpoints = list(
            session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.number))
        )
    assert [c.number for c in checkpoints] == list(range(1, len(checkpoints) + 1))
    assert len(checkpoints) >= 4
    gaps = [
        (later.signed_at - earlier.signed_at).total_seconds()
        for earlier, later in itertools.pairwise(checkpoints)
    ]
    assert max(gaps) < 1.5 * every + 0.6, gaps  # slack for a busy test machine
    result = audit_proof.verify(engine)
    assert result.ok and result.checkpoints == len(checkpoints)


def _witnessed_chain(engine: Engine, settings: Settings, batches: int = 4) -> None:
    """``batches`` batches of 3 records, each batch with its checkpoint witnessed on the disk
    of the node (``settings.data_dir``), as the gateway writes them."""
    signer = _signer(engine, settings)
    witness = NodeWitness(settings.data_dir)
    for batch in range(batches):
        audit.append_entries(engine, _entries(3, 3 * batch), signer, timedelta(0), witness=witness)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("tail_and_its_checkpoints", "truncated"),
        ("last_checkpoints", "checkpoint_missing"),
        ("a_checkpoint_in_the_middle", "checkpoint_missing"),
        ("tail_rewritten", "witness_mismatch"),
    ],
)
def test_deleting_the_end_of_the_chain_is_detected(
    engine: Engine, settings: Settings, tamper: str, reason: str
) -> None:
    _witnessed_chain(engine, settings)  # records 1-12, checkpoints 1-4 at seq 3, 6, 9, 12
    witnessed = read_head(node_witness_path(settings.data_dir))
    assert witnessed is not None and (witnessed.number, witnessed.last_seq) == (4, 12)
    assert _cli(settings, "verify").returncode == 0
    with engine.begin() as connection:
        if tamper in {"tail_and_its_checkpoints", "tail_rewritten"}:
            connection.execute(delete(AuditRecord).where(AuditRecord.seq > 7))
            connection.execute(delete(AuditCheckpoint).where(AuditCheckpoint.last_seq > 7))
        elif tamper == "last_checkpoints":
            connection.execute(delete(AuditCheckpoint).where(AuditCheckpoint.number >= 3))
        else:
            connection.execute(delete(AuditCheckpoint).where(AuditCheckpoint.number == 2))
    if tamper == "tail_rewritten":  # the chain goes on after the cut, with other records
        audit.append_entries(engine, _entries(5, 100), _signer(engine, settings), timedelta(0))
    # What is left may look sound on its own; against the witnessed head it is not.
    result = audit_proof.verify(engine, [("disk", witnessed)])
    assert not result.ok
    assert result.reason == reason
    done = _cli(settings, "verify")
    assert done.returncode == 1, done.stderr
    if reason == "truncated":
        assert "cut short: it ends at seq=7, before the witnessed head at seq=12" in done.stderr
    elif reason == "checkpoint_missing":
        missing = 2 if tamper == "a_checkpoint_in_the_middle" else 3
        assert f"checkpoint number {missing} is missing" in done.stderr
    else:
        assert "the record at seq=12 differs from the witnessed head" in done.stderr


def test_a_third_party_keeps_the_head_and_verifies_against_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _witnessed_chain(engine, settings, batches=2)
    (settings.data_dir / "audit-witness" / "head.json").unlink()  # only the third party has it
    out = tmp_path / "kept-elsewhere.json"
    done = _cli(settings, "witness", "--out", str(out))
    assert done.returncode == 0, done.stderr
    kept = json.loads(out.read_text())
    assert kept["head"]["last_seq"] == 6 and kept["public_jwk"]["kty"] == "OKP"
    assert _cli(settings, "verify", "--witness", str(out)).returncode == 0
    with engine.begin() as connection:
        connection.execute(delete(AuditRecord).where(AuditRecord.seq > 4))
        connection.execute(delete(AuditCheckpoint).where(AuditCheckpoint.last_seq > 4))
    assert _cli(settings, "verify").returncode == 0  # nothing on this node's disk any more
    done = _cli(settings, "verify", "--witness", str(out))
    assert done.returncode == 1
    assert "before the witnessed head at seq=6" in done.stderr


def test_heads_are_published_in_redis_newest_first(
    engine: Engine, settings: Settings, redis_server: RedisServer
) -> None:
    signer = _signer(engine, settings)
    heads: list[CheckpointHead] = []
    for batch in range(3):
        audit.append_entries(
            engine, _entries(2, 2 * batch), signer, timedelta(0), witness=heads.append
        )
    witness = NodeWitness(settings.data_dir, redis_server.url)
    for head in (heads[0], heads[2], heads[1]):  # a slower node publishes an older head late
        witness(head)
    assert redis_head(redis_server.url) == heads[2]
    assert read_head(node_witness_path(settings.data_dir)) == heads[2]
    forged = dataclasses.replace(heads[2], last_seq=2)
    result = audit_proof.verify(engine, [("forged", forged)])
    assert not result.ok and result.reason == "witness_unverifiable"
