"""The product as a benchmark meets it: its database (SQLite, or a private PostgreSQL server),
its CLI, ``tinhso serve`` on loopback, and HTTP clients (one keep-alive client, or many at
once). Shared by ``bench/opendata.py`` and ``bench/monitoring.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tinhso.core.db import build_engine

READY_PATH = "/api/3/action/status_show"


def tinhso_command() -> str:
    """The ``tinhso`` command beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "tinhso"
    return str(beside) if beside.exists() else (shutil.which("tinhso") or "tinhso")


def product_env(url: str, data_dir: Path) -> dict[str, str]:
    """The environment a ``tinhso`` command or server of the benchmark runs with."""
    return {
        **os.environ,
        "TINHSO_DATABASE_URL": url,
        "TINHSO_DATA_DIR": str(data_dir),
        "TINHSO_LOG_LEVEL": "WARNING",
    }


def run_cli(env: dict[str, str], *arguments: str) -> tuple[float, str]:
    """Run ``tinhso <arguments>`` as a user does; the wall time and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [tinhso_command(), *arguments],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        msg = f"tinhso {' '.join(arguments)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        raise RuntimeError(msg)
    return seconds, done.stdout + done.stderr  # rich's console writes to stderr


@contextlib.contextmanager
def served(
    env: dict[str, str], port: int, log: Path | None = None, workers: int = 1
) -> Iterator[str]:
    """``tinhso serve`` (``--workers`` processes) on 127.0.0.1:port until the block ends;
    yields its base URL. Its output goes to ``log`` (nowhere without one: a pipe nobody reads
    would stall it)."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        process = subprocess.Popen(
            [tinhso_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            + (["--workers", str(workers)] if workers > 1 else []),
            env=env,
            stdout=output,
            stderr=output,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(process, base)
            yield base
        finally:
            stop(process)


def wait_until_ready(process: subprocess.Popen[bytes], base: str, seconds: float = 240) -> None:
    """Until ``tinhso serve`` at ``base`` answers; RuntimeError if it ends or never does (a
    shared machine under load, 1-min load 20 on 2 cores, takes minutes at times)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tinhso serve ended: exit {process.returncode}")
        try:
            if httpx.get(f"{base}{READY_PATH}", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("tinhso serve did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server, killed if it has not ended within 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port() -> int:
    from tests.support.services import free_port as pick  # noqa: PLC0415 - dev tooling

    return pick()


@contextlib.contextmanager
def database(name: str, workdir: Path, settings: dict[str, str] | None = None) -> Iterator[str]:
    """A new empty database: a SQLite file, or a private durable PostgreSQL cluster (fsync
    on) under ``workdir`` whose data directory is removed when the block ends."""
    if name == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.sqlite3'}"
        return
    from tests.support.services import PostgresServer  # noqa: PLC0415 - dev tooling

    server = PostgresServer(
        settings={
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            **(settings or {}),
        }
    )
    try:
        yield server.start(workdir / "postgres")
    finally:
        server.stop()
        shutil.rmtree(workdir / "postgres", ignore_errors=True)


def database_version(url: str) -> str:
    engine = build_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            version = "SQLite " + str(connection.execute(text("select sqlite_version()")).scalar())
        else:
            version = str(connection.execute(text("select version()")).scalar()).split(",")[0]
    engine.dispose()
    return version


def migrate(url: str) -> None:
    """The product's schema, as ``tinhso db upgrade`` makes it."""
    from alembic import command  # noqa: PLC0415

    from tinhso.core.migrations import alembic_config  # noqa: PLC0415

    engine = build_engine(url)
    command.upgrade(alembic_config(engine), "heads")
    engine.dispose()


# -- HTTP load --------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, Any]:
    """p50/p95/p99/max in milliseconds of durations in seconds (None without any)."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None, "n": 0}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
        "n": len(ordered),
    }


@dataclass
class LoadResult:
    times: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def report(self) -> dict[str, Any]:
        return {
            **percentiles(self.times),
            "requests_per_s": round(len(self.times) / self.seconds, 1) if self.seconds else 0.0,
            "mean_kib": round(self.bytes_read / max(len(self.times), 1) / 1024, 1),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
        }


def concurrent_load(
    base: str,
    paths: Sequence[str],
    *,
    clients: int,
    headers: dict[str, str] | None = None,
    max_seconds: float = 60.0,
    request_timeout: float = 120.0,
) -> LoadResult:
    """``clients`` keep-alive clients at once, each sending the next of ``paths`` (GETs)
    as soon as its previous answer is read, until every path was sent or ``max_seconds``
    passed; the time of each request to its whole answer, and the wall time. A request
    unanswered after ``request_timeout`` seconds is an error. A portal
    session goes in ``headers`` as a ``Cookie`` header (no cookie jar: answers set none)."""
    import aiohttp  # noqa: PLC0415 - only the load needs it

    result = LoadResult()
    queue = list(reversed(paths))

    async def client(session: aiohttp.ClientSession, deadline: float) -> None:
        while queue and time.monotonic() < deadline:
            path = queue.pop()
            started = time.perf_counter()
            try:
                async with session.get(path, allow_redirects=False) as answer:
                    body = await answer.read()
            except (TimeoutError, aiohttp.ClientError) as error:
                waited = time.perf_counter() - started
                result.errors.append(f"{path}: {type(error).__name__} after {waited:.1f} s")
                continue
            elapsed = time.perf_counter() - started
            if answer.status != 200:
                result.errors.append(
                    f"{path}: {answer.status} {body[:400].decode(errors='replace')}"
                )
                continue
            result.times.append(elapsed)
            result.bytes_read += len(body)

    async def run() -> None:
        connector = aiohttp.TCPConnector(limit=clients, force_close=False)
        timeout = aiohttp.ClientTimeout(total=request_timeout)
        async with aiohttp.ClientSession(
            base,
            connector=connector,
            headers=headers,
            timeout=timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
        ) as session:
            deadline = time.monotonic() + max_seconds
            started = time.perf_counter()
            await asyncio.gather(*(client(session, deadline) for _ in range(clients)))
            result.seconds = time.perf_counter() - started

    asyncio.run(run())
    return result
