"""`tinhso serve` as an operator runs it, on the suite's database: ``--workers N`` (or
``TINHSO_SERVE_WORKERS``) runs N worker processes, and processes that each keep their own
figures show a value committed elsewhere at once (they check the data generations in the
database, not each other)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from bench.serving import stop, wait_until_ready

from tests.conftest import TEST_SECRET
from tests.portal.monitoring.support import (
    AS_OF,
    PLAN,
    load_test_plan,
    record_revised_payment_share,
)
from tests.support.services import free_port
from tinhso.core.config import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

TINHSO = str(Path(sys.executable).parent / "tinhso")


@contextlib.contextmanager
def serving(
    database_url: str, data_dir: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [TINHSO, "serve", "--host", "127.0.0.1", "--port", str(port), *options],
        env={
            **os.environ,
            "TINHSO_DATABASE_URL": database_url,
            "TINHSO_DATA_DIR": str(data_dir),
            "TINHSO_SECRET_KEY": TEST_SECRET,
            "TINHSO_LOG_LEVEL": "WARNING",
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, base, seconds=120)
        yield base, process
    finally:
        stop(process)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def test_the_workers_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).serve_workers == 1
    monkeypatch.setenv("TINHSO_SERVE_WORKERS", "3")
    assert Settings(_env_file=None).serve_workers == 3


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes in /proc")
@pytest.mark.usefixtures("sessions")  # the suite's database made (serve refuses one not upgraded)
def test_serve_with_workers_runs_that_many_processes_on_one_port(
    database_url: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path, env={"TINHSO_SERVE_WORKERS": "2"}) as (base, process):
        workers = [pid for pid in children(process.pid) if Path(f"/proc/{pid}/cmdline").exists()]
        assert len(workers) >= 2, workers  # the supervisor's worker processes
        for _ in range(6):
            assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200


def test_a_value_committed_shows_at_once_in_every_process_that_kept_the_figures(
    database_url: str,
    tmp_path: Path,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
) -> None:
    load_test_plan(sessions)
    official = make_official()
    path = f"/api/v1/monitoring/plans/{PLAN}/progress?as_of={AS_OF}"
    with (
        serving(database_url, tmp_path / "a") as (first, _a),
        serving(database_url, tmp_path / "b") as (second, _b),
    ):
        for base in (first, second, first, second):  # each process keeps the plan's progress
            answer = httpx.get(f"{base}{path}", headers=official.headers, timeout=30)
            assert answer.status_code == 200, answer.text
            assert "45.5" in answer.text and "47.25" not in answer.text
        record_revised_payment_share(sessions)  # written by neither process
        for base in (first, second):
            answer = httpx.get(f"{base}{path}", headers=official.headers, timeout=30)
            assert "47.25" in answer.text, base
