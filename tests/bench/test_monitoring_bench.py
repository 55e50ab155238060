"""The monitoring benchmark must not rot: its set-up through the product, its loader, the
product's recompute and one pass of concurrent HTTP requests, on a tiny set (no timings
are asserted: only that every step ran and every request was answered)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from bench.monitoring_served import SETS, measure_database

from bench import monitoring

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.services import PostgresServer


@pytest.fixture
def empty_database(db_dialect: str, postgres_server: PostgresServer | None, tmp_path: Path) -> str:
    """A database of its own (the benchmark makes the schema, as ``tinhso db upgrade``)."""
    if postgres_server is None:
        return f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    dsn = postgres_server.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS bench_tiny")
        connection.execute("CREATE DATABASE bench_tiny")
    return postgres_server.url.rsplit("/", 1)[0] + "/bench_tiny"


def test_the_benchmark_loads_recomputes_and_measures_over_http(empty_database: str) -> None:
    data = SETS["tiny"]
    found = measure_database(
        empty_database,
        data,
        monitoring.indicator_specs(),
        {"requests": 8, "clients": 4, "max_seconds": 60, "seed": 1},
    )
    elements = found["data"]["elements"]
    assert found["data"]["communes"] == data.communes_per_province
    assert found["load"]["values"] == elements * data.communes_per_province * data.months
    assert found["load"]["indexes_and_constraints_rebuilt"] >= 2  # the product's, back
    assert found["recompute"]["indicator_values_stored"] not in {None, "0"}
    assert found["recompute"]["recompute_computation_s"] is not None
    assert len(found["http"]) == 9
    for name, figures in found["http"].items():
        assert figures["errors"] == 0, (name, figures["first_errors"])
        assert figures["n"] == 8, name
    report = {
        "machine": monitoring.machine(),
        "scale": "tiny",
        "clients": 4,
        "requests_per_endpoint": 8,
        "postgresql_settings": monitoring.POSTGRES_SETTINGS,
        "served": {"db": {**found, "load_average_1min_after": 0.0}},
    }
    assert monitoring.summary(report).splitlines()[-1].startswith("recompute: ")
