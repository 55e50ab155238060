"""The audit chain: tamper evidence, signed checkpoints, export, the spool, concurrent writers."""

from __future__ import annotations

import asyncio
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
from tinhso.exchange import audit, audit_proof
from tinhso.exchange.audit import AuditEntry
from tinhso.exchange.audit_log import AuditLog
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import AuditCheckpoint, AuditRecord

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine

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
from tinhso.exchange.audit import AuditEntry
from tinhso.exchange.audit_log import AuditLog
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
