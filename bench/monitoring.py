"""Monitoring at national scale through the product, with DuckDB and pandas as reference rows.

**The headline figures** come from the product as a user meets it (`bench.monitoring_served`,
on `bench.serving`): for PostgreSQL (a private durable server) and SQLite, the product's
schema, units (``tinhso units import``), an official (``tinhso create-admin``), the catalogue,
a plan and a dashboard through the API, the element values loaded (``COPY`` on PostgreSQL),
the product's recompute (``tinhso monitoring snapshot`` + ``tinhso monitoring recompute``, which
compute on a DuckDB copy) timed as a user runs it, ``ANALYZE`` on PostgreSQL (what autovacuum
does within a minute of those writes), then ``tinhso serve`` under ``--clients``
(16) concurrent HTTP clients on the API endpoints and portal pages a dashboard uses: p50/p95/
p99 and requests/s. ``--scale national`` (default): 34 provinces, 3,321 communes, 200
indicators, 120 months (~80 M values) on PostgreSQL and the last 12 months (~8 M) on SQLite;
``--scale small``: one province's communes, 20 indicators, 24 months.

**Reference rows** (``--no-reference`` skips them), as before: the DuckDB tables below.

Generates a synthetic national data set on the real current administrative units
(34 provinces, 3,321 communes, from ``tinhso.registry.unit_catalogue``): 200 data elements
recorded monthly for every commune over 120 months (2016-01 .. 2025-12), about 80 M values,
inside DuckDB (SQL ``range()`` and ``hash()``, so the data are the same on every run) and in
DuckDB's own storage (a file in a temporary directory).

It then measures, on the same machine and in the same run:

* **load**: generating and storing the element values (plus units, elements, indicators,
  plan targets);
* **recompute**, the product's code path (``tinhso.monitoring.computation.analytics.
  materialise_indicator_values``, the SQL of ``tinhso.monitoring.computation.indicators`` on the product's
  table layout): all 200 indicators for every province and every month, quarter and year, then
  achievements, rankings and the index over those values (see `product_recompute`); checked
  against the special-purpose recompute below;
* **special-purpose recompute** (for comparison; SQL written for the benchmark's own tables,
  and the tables the page queries read): element values summed from communes
  to provinces and the nation for every month, quarter and year; the values of all 200
  indicators for every province, the nation and every period (each formula compiled to SQL by
  the product's ``tinhso.monitoring.computation.formula.to_sql``, the code path the platform uses);
  achievements of every province and the nation against its yearly plan target; the ranking of
  the provinces for every indicator and period; and a composite index (ratio scoring,
  ``min(value / target, 1) x points``, reciprocal when lower is better, as a percentage of the
  maximum points) with the provinces' ranking for every year. Commune-level indicator values
  are not materialised: the commune breakdown is computed on read from the element values
  (that query is one of the page queries); materialising all ~80 M commune-level values is
  measured separately, for information;
* **page queries**: p50/p95 of the queries behind the overview page (index ranking of the
  year, headline values and achievements of all indicators for the nation, target status
  counts) and the indicator page (one province's monthly series with its target, all
  provinces' values and ranks for a year, the commune breakdown of a province for a month),
  each page's queries run one after the other on one connection, with random parameters;
* **pandas reference**: the same recompute in plain pandas (groupby / pivot / merge / rank)
  on the same element values (fetched from DuckDB first; the fetch is not timed), its results
  checked against DuckDB's, and the ratio of the two times.

Writes ``bench/results/monitoring-<date>[-<name>].json`` and ``.txt`` (after each database,
so a later failure keeps what was measured); the last line printed is ``recompute: S s, page
p95: M ms``: S the product's recompute command on PostgreSQL (SQLite when only it ran), M the
worst p95 through HTTP of the dashboard's requests on any database. Run ``python -m
bench.monitoring --help``; ``--reference-scale 0.01`` keeps 1 % of the communes (at least one
per province) in the reference rows.
"""

# The benchmark builds its SQL from integers, generated codes and compiled formulas only.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from bench.machine import describe_machine
from tinhso.monitoring.computation.formula import Formula, parse, to_sql
from tinhso.registry.unit_catalogue import current_units

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
FIRST_YEAR, YEARS = 2016, 10
MONTHS = YEARS * 12
ELEMENTS = 200
INDICATORS = 200
PAIRS = ELEMENTS // 2
MONTHLY_MEAN = 549.5  # mean of a denominator element per commune and month (50 + U[0, 1000))
NUMERATOR_RATE = 0.75  # mean share of a numerator element in its denominator


# ---------------------------------------------------------------------------- the data set


@dataclass(frozen=True)
class IndicatorSpec:
    index: int
    code: str
    formula: Formula
    kind: str  # percent, total, per_thousand
    lower_better: bool
    points: float
    expected_commune_month: float  # expected value for one commune and month (for targets)


def element_code(element: int) -> str:
    return f"bm_{element + 1:03d}"


def indicator_specs() -> list[IndicatorSpec]:
    """200 indicators over 200 elements (100 pairs: a count and the population it is out of).

    100 percentages (pair k: ``num / den * 100``), 50 totals (``num + den`` of pairs 0-49) and
    50 rates per thousand across pairs (``num(k) / den(k + 1) * 1000`` of pairs 50-99).
    Every fifth indicator is lower-better.
    """
    specs = []
    for i in range(INDICATORS):
        if i < PAIRS:
            num, den = element_code(2 * i), element_code(2 * i + 1)
            text, kind, expected = f"{num} / {den} * 100", "percent", 100 * NUMERATOR_RATE
        elif i < PAIRS + PAIRS // 2:
            k = i - PAIRS
            num, den = element_code(2 * k), element_code(2 * k + 1)
            text, kind = f"{num} + {den}", "total"
            expected = MONTHLY_MEAN * (1 + NUMERATOR_RATE)
        else:
            k = i - PAIRS  # pairs 50-99
            num, den = element_code(2 * k), element_code((2 * (k + 1) + 1) % ELEMENTS)
            text, kind, expected = f"{num} / {den} * 1000", "per_thousand", 1000 * NUMERATOR_RATE
        specs.append(
            IndicatorSpec(
                index=i,
                code=f"ct_{i + 1:03d}",
                formula=parse(text),
                kind=kind,
                lower_better=i % 5 == 4,
                points=float(1 + i % 3),
                expected_commune_month=expected,
            )
        )
    return specs


@dataclass(frozen=True)
class Units:
    communes: list[tuple[int, str, str, int]]  # id, code, name, province id
    provinces: list[tuple[int, str, str]]  # id, code, name
    nation: int


def select_units(scale: float) -> Units:
    """Current units with dense ids: communes grouped by province (contiguous ids), then
    provinces, then the nation. ``scale`` keeps that share of each province's communes."""
    units = list(current_units())
    provinces = [u for u in units if u.level == "province"]
    by_province: dict[str, list[Any]] = {p.code: [] for p in provinces}
    for unit in units:
        if unit.level == "commune" and unit.parent_code is not None:
            by_province[unit.parent_code].append(unit)
    communes: list[tuple[int, str, str, int]] = []
    kept_by_province = []
    for province in provinces:
        members = by_province[province.code]
        keep = max(1, round(len(members) * scale)) if scale < 1 else len(members)
        kept_by_province.append(members[:keep])
    province_ids = {
        p.code: sum(len(k) for k in kept_by_province) + i for i, p in enumerate(provinces)
    }
    for province, kept in zip(provinces, kept_by_province, strict=True):
        base = len(communes)
        communes += [
            (base + j, c.code, c.name, province_ids[province.code]) for j, c in enumerate(kept)
        ]
    return Units(
        communes=communes,
        provinces=[(province_ids[p.code], p.code, p.name) for p in provinces],
        nation=len(communes) + len(provinces),
    )


def periods() -> list[tuple[int, str, str, int]]:
    """Months 0-119, quarters 120-159, years 160-169: (id, code, type, year)."""
    rows = [
        (m, f"{FIRST_YEAR + m // 12}-{m % 12 + 1:02d}", "month", FIRST_YEAR + m // 12)
        for m in range(MONTHS)
    ]
    rows += [
        (MONTHS + q, f"{FIRST_YEAR + q // 4}-Q{q % 4 + 1}", "quarter", FIRST_YEAR + q // 4)
        for q in range(YEARS * 4)
    ]
    rows += [
        (MONTHS + YEARS * 4 + y, str(FIRST_YEAR + y), "year", FIRST_YEAR + y) for y in range(YEARS)
    ]
    return rows


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[list[Any]]) -> None:
    """Append rows through a DataFrame (executemany costs about 1 ms a row in DuckDB)."""
    columns = [str(c[0]) for c in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    frame = pd.DataFrame(rows, columns=columns)
    con.register("incoming", frame)
    con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
    con.unregister("incoming")


def load(con: duckdb.DuckDBPyConnection, units: Units, specs: list[IndicatorSpec]) -> int:
    """Create and fill every table; return the number of element values."""
    con.execute(
        "CREATE TABLE unit (unit_id SMALLINT PRIMARY KEY, code VARCHAR, name VARCHAR,"
        " level VARCHAR, province_id SMALLINT)"
    )
    insert(
        con,
        "unit",
        [[cid, code, name, "commune", pid] for cid, code, name, pid in units.communes]
        + [[pid, code, name, "province", pid] for pid, code, name in units.provinces]
        + [[units.nation, "VN", "Toàn quốc", "nation", None]],
    )
    con.execute(
        "CREATE TABLE period (period_id SMALLINT PRIMARY KEY, code VARCHAR, type VARCHAR,"
        " year SMALLINT)"
    )
    insert(con, "period", [list(p) for p in periods()])
    con.execute(
        f"""CREATE TABLE month_period AS SELECT range::SMALLINT AS month_id,
            ({MONTHS} + range // 3)::SMALLINT AS quarter_id,
            ({MONTHS + YEARS * 4} + range // 12)::SMALLINT AS year_id FROM range({MONTHS})"""
    )
    con.execute("CREATE TABLE element (element_id SMALLINT PRIMARY KEY, code VARCHAR)")
    con.executemany(
        "INSERT INTO element VALUES (?, ?)", [[e, element_code(e)] for e in range(ELEMENTS)]
    )
    con.execute(
        "CREATE TABLE indicator (indicator_id SMALLINT PRIMARY KEY, code VARCHAR,"
        " formula VARCHAR, kind VARCHAR, lower_better BOOLEAN, points DOUBLE)"
    )
    insert(
        con,
        "indicator",
        [[s.index, s.code, s.formula.text, s.kind, s.lower_better, s.points] for s in specs],
    )
    # Yearly plan targets for every province and the nation: the expected value of the
    # synthetic process times 0.95-1.05, so that about half of them are met.
    con.execute(
        "CREATE TABLE expected (indicator_id SMALLINT, per_commune_year BOOLEAN, value DOUBLE)"
    )
    insert(
        con,
        "expected",
        [[s.index, s.kind == "total", s.expected_commune_month] for s in specs],
    )
    con.execute(
        f"""CREATE TABLE target AS
        WITH size AS (
            SELECT province_id AS unit_id, count(*) AS communes FROM unit
            WHERE level = 'commune' GROUP BY ALL
            UNION ALL SELECT {units.nation}, count(*) FROM unit WHERE level = 'commune')
        SELECT e.indicator_id, s.unit_id::SMALLINT AS unit_id, y.year::SMALLINT AS year,
            round(e.value * CASE WHEN e.per_commune_year THEN 12 * s.communes ELSE 1 END
                * (0.95 + 0.1 * (hash(e.indicator_id, s.unit_id, y.year) % 1000) / 1000.0), 2)
                AS target
        FROM expected e, size s,
            (SELECT {FIRST_YEAR} + range AS year FROM range({YEARS})) y"""
    )
    con.execute("DROP TABLE expected")
    # Element values, one row per element x commune x month, in (element, commune, month)
    # order so that DuckDB's zone maps prune a query for a few elements and one province.
    # Pair k: the denominator is 50 + U[0, 1000) counted per commune and month, the numerator
    # a commune-specific share (50-100 %) of it.
    communes, months = len(units.communes), MONTHS
    con.execute(
        f"""
        CREATE TABLE element_value AS
        WITH cell AS (
            SELECT (i // {communes * months})::SMALLINT AS element_id,
                   ((i // {months}) % {communes})::SMALLINT AS unit_id,
                   (i % {months})::SMALLINT AS period_id
            FROM range({ELEMENTS * communes * months}) r(i)
        )
        SELECT element_id, unit_id, period_id,
            CASE WHEN element_id % 2 = 1
                THEN 50 + hash(element_id // 2, unit_id, period_id) % 1000
                ELSE floor((50 + hash(element_id // 2, unit_id, period_id) % 1000)
                           * (0.5 + (hash(element_id // 2, unit_id) % 500) / 1000.0))
            END::DOUBLE AS value
        FROM cell
        """
    )
    product_tables(con)
    con.execute("CHECKPOINT")
    count = con.execute("SELECT count(*) FROM element_value").fetchone()
    return int(count[0]) if count else 0


def product_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The three tables the product's computation reads, as ``tinhso monitoring snapshot``
    (`tinhso.monitoring.computation.analytics.copy_to_duckdb`) lays them out: the same values, with the
    platform's column names and period codes (``2025-12``) instead of the benchmark's ids."""
    con.execute(
        """CREATE OR REPLACE TABLE administrative_unit AS
        SELECT unit_id::INTEGER AS id, 'current' AS unit_set, code, name, level,
            CASE WHEN level = 'commune' THEN province_id::INTEGER END AS parent_id
        FROM unit WHERE level <> 'nation'"""
    )
    con.execute(
        "CREATE OR REPLACE TABLE unit_succession"
        " (legacy_unit_id INTEGER, current_unit_id INTEGER, is_default BOOLEAN)"
    )
    con.execute(
        """CREATE OR REPLACE TABLE data_value AS
        SELECT v.element_id::INTEGER AS data_element_id, v.unit_id::INTEGER AS unit_id,
            p.code AS period, v.value
        FROM element_value v JOIN period p ON p.period_id = v.period_id"""
    )


def product_catalogue(specs: list[IndicatorSpec]) -> tuple[list[Any], list[Any]]:
    """The benchmark's elements and indicators as the product's computation specs: monthly
    counts, summed up the tree and over time (so quarters and years are computed too)."""
    from tinhso.monitoring.computation import aggregation  # noqa: PLC0415
    from tinhso.monitoring.computation import indicators as computation  # noqa: PLC0415
    from tinhso.monitoring.models import (  # noqa: PLC0415
        Aggregation,
        Direction,
        PeriodAggregation,
        PeriodType,
    )

    catalogue = [
        aggregation.ElementSpec(
            e, element_code(e), Aggregation.SUM, PeriodType.MONTH, None, PeriodAggregation.SUM
        )
        for e in range(ELEMENTS)
    ]
    indicators = [
        computation.IndicatorSpec(
            s.index,
            s.code,
            s.formula,
            Direction.LOWER_BETTER if s.lower_better else Direction.HIGHER_BETTER,
        )
        for s in specs
    ]
    return catalogue, indicators


# ---------------------------------------------------------------------------- product recompute


def product_recompute(
    con: duckdb.DuckDBPyConnection, units: Units, specs: list[IndicatorSpec]
) -> dict[str, float]:
    """The recompute through the product's code: every indicator for every province and every
    month, quarter and year by ``tinhso.monitoring.computation.analytics.materialise_indicator_values``
    (the SQL of ``tinhso.monitoring.computation.indicators``: communes summed onto provinces, over time,
    pivoted, the 200 formulas), then achievements, rankings and the index over its values
    (the same SQL as the special-purpose recompute's last steps). Provinces only: the
    product's unit tree has no nation level (the nation's rows come from the special-purpose
    recompute). Tables ``product_*``; returns the seconds of each step."""
    from tinhso.monitoring.computation import analytics  # noqa: PLC0415

    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        steps[name] = time.perf_counter() - started

    catalogue, indicators = product_catalogue(specs)
    with step("indicator values (analytics.materialise_indicator_values, provinces)"):
        periods_wanted = analytics.analysis_periods(con)
        analytics.materialise_indicator_values(
            con, indicators, catalogue, periods_wanted, table="product_indicator_value"
        )
        con.execute(
            """CREATE OR REPLACE TABLE product_value AS
            SELECT v.indicator_id::SMALLINT AS indicator_id, v.unit_id::SMALLINT AS unit_id,
                p.period_id, v.value
            FROM product_indicator_value v JOIN period p ON p.code = v.period"""
        )
    with step("achievements against yearly targets"):
        con.execute(
            """CREATE OR REPLACE TABLE product_achievement AS
            SELECT v.indicator_id, v.unit_id, p.year, v.value, t.target,
                CASE WHEN i.lower_better THEN t.target / NULLIF(v.value, 0)
                     ELSE v.value / NULLIF(t.target, 0) END AS ratio,
                CASE WHEN i.lower_better THEN v.value <= t.target
                     ELSE v.value >= t.target END AS achieved
            FROM product_value v
            JOIN period p ON p.period_id = v.period_id AND p.type = 'year'
            JOIN target t ON t.indicator_id = v.indicator_id AND t.unit_id = v.unit_id
                AND t.year = p.year
            JOIN indicator i ON i.indicator_id = v.indicator_id"""
        )
    with step("rankings of provinces (every indicator and period)"):
        con.execute(
            """CREATE OR REPLACE TABLE product_ranking AS
            SELECT v.indicator_id, v.period_id, v.unit_id, v.value,
                rank() OVER (PARTITION BY v.indicator_id, v.period_id ORDER BY
                    CASE WHEN i.lower_better THEN v.value ELSE -v.value END) AS rank
            FROM product_value v JOIN indicator i ON i.indicator_id = v.indicator_id
            WHERE v.value IS NOT NULL"""
        )
    with step("composite index and its ranking (every year)"):
        con.execute(
            """CREATE OR REPLACE TABLE product_composite_index AS
            SELECT unit_id, year, score,
                rank() OVER (PARTITION BY year ORDER BY score DESC) AS rank
            FROM (
                SELECT a.unit_id, a.year,
                    100 * sum(i.points * least(coalesce(a.ratio, 0), 1)) / sum(i.points) AS score
                FROM product_achievement a JOIN indicator i ON i.indicator_id = a.indicator_id
                GROUP BY ALL)"""
        )
    return steps


def compare_product(con: duckdb.DuckDBPyConnection, units: Units) -> dict[str, Any]:
    """The product recompute's numbers against the special-purpose recompute's (provinces)."""
    values = con.execute(
        f"""SELECT count(*), max(abs(p.value - s.value) / greatest(abs(s.value), 1e-9)),
            (SELECT count(*) FROM indicator_value WHERE unit_id <> {units.nation}
                AND value IS NOT NULL)
        FROM product_value p JOIN indicator_value s USING (indicator_id, unit_id, period_id)"""
    ).fetchone()
    index = con.execute(
        """SELECT count(*), max(abs(p.score - s.score)), count(*) FILTER (WHERE p.rank <> s.rank)
        FROM product_composite_index p JOIN composite_index s USING (unit_id, year)"""
    ).fetchone()
    assert values is not None and index is not None  # noqa: S101 - aggregates give a row
    return {
        "indicator_values_compared": int(values[0]),
        "special_purpose_province_values": int(values[2]),
        "indicator_values_max_rel_diff": float(values[1] or 0.0),
        "index_rows_compared": int(index[0]),
        "index_max_abs_diff": float(index[1] or 0.0),
        "index_rank_differences": int(index[2]),
    }


# ---------------------------------------------------------------------------- DuckDB path


def recompute(
    con: duckdb.DuckDBPyConnection, units: Units, specs: list[IndicatorSpec]
) -> dict[str, float]:
    """Materialise every derived table; return the seconds of each step."""
    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        steps[name] = time.perf_counter() - started

    with step("aggregate elements to provinces and nation (months)"):
        con.execute(
            """CREATE OR REPLACE TEMP TABLE agg_month AS
            SELECT v.element_id, u.province_id AS unit_id, v.period_id, sum(v.value) AS value
            FROM element_value v JOIN unit u ON u.unit_id = v.unit_id
            GROUP BY ALL"""
        )
        con.execute(
            f"""INSERT INTO agg_month SELECT element_id, {units.nation}, period_id, sum(value)
            FROM agg_month GROUP BY ALL"""
        )
    with step("aggregate months to quarters and years"):
        con.execute(
            """CREATE OR REPLACE TABLE aggregate_value AS
            SELECT * FROM agg_month
            UNION ALL SELECT a.element_id, a.unit_id, m.quarter_id, sum(a.value)
                FROM agg_month a JOIN month_period m ON m.month_id = a.period_id GROUP BY ALL
            UNION ALL SELECT a.element_id, a.unit_id, m.year_id, sum(a.value)
                FROM agg_month a JOIN month_period m ON m.month_id = a.period_id GROUP BY ALL"""
        )
    with step("indicator values (200 formulas via formula.to_sql)"):
        pivot = ", ".join(
            f'max(CASE WHEN element_id = {e} THEN value END) AS "{element_code(e)}"'
            for e in range(ELEMENTS)
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE aggregate_wide AS
            SELECT unit_id, period_id, {pivot} FROM aggregate_value GROUP BY ALL"""
        )
        con.execute(
            f"""CREATE OR REPLACE TABLE indicator_value AS
            SELECT indicator_id::SMALLINT AS indicator_id, unit_id, period_id, value FROM (
                UNPIVOT (SELECT unit_id, period_id, {indicator_columns(specs)} FROM aggregate_wide)
                ON COLUMNS(* EXCLUDE (unit_id, period_id))
                INTO NAME indicator_id VALUE value)
            ORDER BY indicator_id, unit_id, period_id"""
        )
    with step("achievements against yearly targets"):
        con.execute(
            """CREATE OR REPLACE TABLE achievement AS
            SELECT v.indicator_id, v.unit_id, p.year, v.value, t.target,
                CASE WHEN i.lower_better THEN t.target / NULLIF(v.value, 0)
                     ELSE v.value / NULLIF(t.target, 0) END AS ratio,
                CASE WHEN i.lower_better THEN v.value <= t.target
                     ELSE v.value >= t.target END AS achieved
            FROM indicator_value v
            JOIN period p ON p.period_id = v.period_id AND p.type = 'year'
            JOIN target t ON t.indicator_id = v.indicator_id AND t.unit_id = v.unit_id
                AND t.year = p.year
            JOIN indicator i ON i.indicator_id = v.indicator_id"""
        )
    with step("rankings of provinces (every indicator and period)"):
        con.execute(
            f"""CREATE OR REPLACE TABLE ranking AS
            SELECT v.indicator_id, v.period_id, v.unit_id, v.value,
                rank() OVER (PARTITION BY v.indicator_id, v.period_id ORDER BY
                    CASE WHEN i.lower_better THEN v.value ELSE -v.value END) AS rank
            FROM indicator_value v JOIN indicator i ON i.indicator_id = v.indicator_id
            WHERE v.unit_id <> {units.nation} AND v.value IS NOT NULL"""
        )
    with step("composite index and its ranking (every year)"):
        con.execute(
            f"""CREATE OR REPLACE TABLE composite_index AS
            SELECT unit_id, year, score,
                rank() OVER (PARTITION BY year ORDER BY score DESC) AS rank
            FROM (
                SELECT a.unit_id, a.year,
                    100 * sum(i.points * least(coalesce(a.ratio, 0), 1)) / sum(i.points) AS score
                FROM achievement a JOIN indicator i ON i.indicator_id = a.indicator_id
                WHERE a.unit_id <> {units.nation}
                GROUP BY ALL)"""
        )
    return steps


def indicator_columns(specs: list[IndicatorSpec]) -> str:
    return ", ".join(
        f'{to_sql(s.formula, lambda code: f"{chr(34)}{code}{chr(34)}")} AS "{s.index}"'
        for s in specs
    )


def materialise_communes(con: duckdb.DuckDBPyConnection, specs: list[IndicatorSpec]) -> float:
    """For information: every commune's value of every indicator for every month (~80 M)."""
    started = time.perf_counter()
    con.execute(
        """CREATE OR REPLACE TEMP TABLE commune_wide AS
        SELECT unit_id, period_id, list(value ORDER BY element_id) AS v
        FROM element_value GROUP BY ALL"""
    )
    columns = indicator_columns(specs)
    for e in range(ELEMENTS):
        columns = columns.replace(f'"{element_code(e)}"', f"v[{e + 1}]")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE commune_indicator_value AS
        SELECT indicator_id::SMALLINT AS indicator_id, unit_id, period_id, value FROM (
            UNPIVOT (SELECT unit_id, period_id, {columns} FROM commune_wide)
            ON COLUMNS(* EXCLUDE (unit_id, period_id)) INTO NAME indicator_id VALUE value)"""
    )
    elapsed = time.perf_counter() - started
    con.execute("DROP TABLE commune_wide")
    con.execute("DROP TABLE commune_indicator_value")
    return elapsed


# ---------------------------------------------------------------------------- product path


def product_path(
    con: duckdb.DuckDBPyConnection, units: Units, specs: list[IndicatorSpec], months: int
) -> dict[str, Any]:
    """The platform's own computation (``tinhso.monitoring.computation.indicators``) on the same data.

    It computes on read from the three tables it expects (``data_value``,
    ``administrative_unit``, ``unit_succession``; made at load, see `product_tables`),
    with the general rules (recorded values win over aggregates, legacy values re-aggregated
    onto current units). Timed: all 200 indicators for every province for the latest
    ``months`` months, and the ranking of the provinces on one indicator for one month (the
    query behind an indicator page); its values are checked against the recompute's.
    """
    from tinhso.monitoring.computation import effective_values  # noqa: PLC0415
    from tinhso.monitoring.computation import indicators as computation  # noqa: PLC0415
    from tinhso.registry.models import UnitLevel  # noqa: PLC0415

    catalogue, indicators = product_catalogue(specs)

    month_codes = [code for _, code, kind, _ in periods() if kind == "month"][-months:]
    run = computation.duckdb_runner(con)
    provinces = computation.UnitFilter(level=UnitLevel.PROVINCE)
    started = time.perf_counter()
    found = computation.indicator_values(
        run, indicators, catalogue, month_codes, effective_values.Tree.CURRENT, provinces
    )
    all_indicators_s = time.perf_counter() - started
    ours = {
        (int(i), int(u), str(p)): float(v)
        for i, u, p, v in con.execute(
            """SELECT v.indicator_id, v.unit_id, p.code, v.value FROM indicator_value v
            JOIN period p ON p.period_id = v.period_id
            WHERE p.code IN (SELECT unnest($1)) AND v.value IS NOT NULL""",
            [month_codes],
        ).fetchall()
    }
    differences = [
        abs(row.value - ours[(row.indicator_id, row.unit_id, row.period)])
        / max(abs(ours[(row.indicator_id, row.unit_id, row.period)]), 1e-9)
        for row in found
        if row.value is not None
    ]
    rng = random.Random(11)
    ranking_ms = []
    for _ in range(6):
        spec = indicators[rng.randrange(INDICATORS)]
        started = time.perf_counter()
        ranked = computation.ranking(
            run, spec, catalogue, month_codes[-1], effective_values.Tree.CURRENT, provinces
        )
        ranking_ms.append((time.perf_counter() - started) * 1000)
        if len(ranked) != len(units.provinces):
            msg = f"ranking returned {len(ranked)} provinces"
            raise RuntimeError(msg)
    return {
        "months": month_codes,
        "all_indicators_provinces_s": round(all_indicators_s, 2),
        "values": len(found),
        "max_rel_diff_vs_recompute": max(differences) if differences else None,
        "ranking_one_indicator_ms": {
            **percentiles(ranking_ms[1:]),
            "first_ms": round(ranking_ms[0], 1),
        },
    }


# ---------------------------------------------------------------------------- page queries


@dataclass(frozen=True)
class Query:
    page: str
    name: str
    # Draws random parameters and returns the SQL to run with them.
    draw: Callable[[random.Random], tuple[str, list[Any]]]


def fixed(
    sql: str, params: Callable[[random.Random], list[Any]]
) -> Callable[[random.Random], tuple[str, list[Any]]]:
    return lambda rng: (sql, params(rng))


def element_ids(spec: IndicatorSpec) -> list[int]:
    return sorted(int(code[3:]) - 1 for code in spec.formula.elements)


def page_queries(units: Units, specs: list[IndicatorSpec]) -> list[Query]:
    last_year = FIRST_YEAR + YEARS - 1
    province_ids = [pid for pid, _, _ in units.provinces]
    span = {
        pid: (
            min(c[0] for c in units.communes if c[3] == pid),
            max(c[0] for c in units.communes if c[3] == pid),
        )
        for pid in province_ids
    }
    # The commune breakdown evaluates the indicator's formula on read (as the product does for
    # units below the materialised level): the SQL is built per indicator by formula.to_sql.
    breakdown_sql = {}
    for s in specs:
        pivot = ", ".join(
            f'max(CASE WHEN element_id = {e} THEN value END) AS "{element_code(e)}"'
            for e in element_ids(s)
        )
        breakdown_sql[s.index] = f"""SELECT u.code, u.name,
                {to_sql(s.formula, lambda code: f'"{code}"')} AS value
            FROM (SELECT unit_id, {pivot} FROM element_value
                WHERE element_id BETWEEN $1 AND $2 AND unit_id BETWEEN $3 AND $4
                    AND period_id = $5
                GROUP BY unit_id) w
            JOIN unit u ON u.unit_id = w.unit_id ORDER BY value DESC NULLS LAST"""

    def commune_breakdown(rng: random.Random) -> tuple[str, list[Any]]:
        spec = specs[rng.randrange(INDICATORS)]
        low, high = span[rng.choice(province_ids)]
        elements = element_ids(spec)
        return breakdown_sql[spec.index], [
            elements[0],
            elements[-1],
            low,
            high,
            rng.randrange(MONTHS),
        ]

    def some_year(rng: random.Random) -> int:
        return rng.randint(FIRST_YEAR, last_year)

    return [
        Query(
            "overview",
            "index ranking of the year",
            fixed(
                """SELECT u.code, u.name, c.score, c.rank FROM composite_index c
                JOIN unit u ON u.unit_id = c.unit_id WHERE c.year = $1 ORDER BY c.rank""",
                lambda rng: [some_year(rng)],
            ),
        ),
        Query(
            "overview",
            "national headline values and achievements (all indicators)",
            fixed(
                """SELECT i.code, a.value, a.target, a.ratio, a.achieved, m.provinces_met
                FROM achievement a JOIN indicator i ON i.indicator_id = a.indicator_id
                JOIN (SELECT indicator_id, count(*) FILTER (WHERE achieved) AS provinces_met
                      FROM achievement WHERE year = $2 AND unit_id <> $1 GROUP BY indicator_id) m
                    ON m.indicator_id = a.indicator_id
                WHERE a.unit_id = $1 AND a.year = $2 ORDER BY i.code""",
                lambda rng: [units.nation, some_year(rng)],
            ),
        ),
        Query(
            "overview",
            "target status counts by province",
            fixed(
                """SELECT unit_id, count(*) FILTER (WHERE achieved) AS met,
                    count(*) FILTER (WHERE NOT achieved) AS not_met
                FROM achievement WHERE year = $1 AND unit_id <> $2 GROUP BY unit_id""",
                lambda rng: [some_year(rng), units.nation],
            ),
        ),
        Query(
            "indicator",
            "monthly series of a province with its target",
            fixed(
                """SELECT p.code, v.value, t.target FROM indicator_value v
                JOIN period p ON p.period_id = v.period_id
                LEFT JOIN target t ON t.indicator_id = v.indicator_id
                    AND t.unit_id = v.unit_id AND t.year = p.year
                WHERE v.indicator_id = $1 AND v.unit_id = $2 AND p.type = 'month'
                ORDER BY p.period_id""",
                lambda rng: [rng.randrange(INDICATORS), rng.choice(province_ids)],
            ),
        ),
        Query(
            "indicator",
            "all provinces' values and ranks for a year",
            fixed(
                """SELECT u.code, u.name, r.value, r.rank FROM ranking r
                JOIN unit u ON u.unit_id = r.unit_id
                WHERE r.indicator_id = $1 AND r.period_id = $2 ORDER BY r.rank""",
                lambda rng: [rng.randrange(INDICATORS), MONTHS + YEARS * 4 + rng.randrange(YEARS)],
            ),
        ),
        Query(
            "indicator", "commune breakdown of a province for a month (on read)", commune_breakdown
        ),
    ]


def run_pages(
    con: duckdb.DuckDBPyConnection, queries: list[Query], iterations: int, seed: int = 7
) -> dict[str, Any]:
    rng = random.Random(seed)
    per_query: dict[str, list[float]] = {q.name: [] for q in queries}
    per_page: dict[str, list[float]] = {}
    warm_up = 5  # the first rounds warm the caches and are not counted
    for iteration in range(iterations + warm_up):
        page_times: dict[str, float] = {}
        for query in queries:
            sql, params = query.draw(rng)
            started = time.perf_counter()
            rows = con.execute(sql, params).fetchall()
            elapsed = (time.perf_counter() - started) * 1000
            if not rows:
                msg = f"{query.name}: no rows for {params}"
                raise RuntimeError(msg)
            if iteration >= warm_up:
                per_query[query.name].append(elapsed)
                page_times[query.page] = page_times.get(query.page, 0.0) + elapsed
        for page, elapsed in page_times.items():
            per_page.setdefault(page, []).append(elapsed)
    return {
        "queries": [
            {"page": q.page, "query": q.name, **percentiles(per_query[q.name])} for q in queries
        ],
        "pages": {page: percentiles(times) for page, times in per_page.items()},
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "max_ms": round(ordered[-1], 2),
        "n": len(ordered),
    }


# ---------------------------------------------------------------------------- pandas path


def pandas_recompute(
    values: pd.DataFrame,
    units: Units,
    specs: list[IndicatorSpec],
    tables: dict[str, pd.DataFrame],
) -> dict[str, pd.DataFrame]:
    """The same recompute in plain pandas."""
    unit_province = np.zeros(units.nation + 1, dtype=np.int16)
    for cid, _, _, pid in units.communes:
        unit_province[cid] = pid
    frame = values.assign(unit_id=unit_province[values["unit_id"].to_numpy()])
    month = frame.groupby(["element_id", "unit_id", "period_id"], as_index=False, sort=False)[
        "value"
    ].sum()
    nation = month.groupby(["element_id", "period_id"], as_index=False, sort=False)["value"].sum()
    nation["unit_id"] = np.int16(units.nation)
    month = pd.concat([month, nation], ignore_index=True)
    month_period = tables["month_period"]
    withp = month.merge(month_period, left_on="period_id", right_on="month_id")
    quarter = withp.groupby(["element_id", "unit_id", "quarter_id"], as_index=False)["value"].sum()
    year = withp.groupby(["element_id", "unit_id", "year_id"], as_index=False)["value"].sum()
    aggregate = pd.concat(
        [
            month,
            quarter.rename(columns={"quarter_id": "period_id"}),
            year.rename(columns={"year_id": "period_id"}),
        ],
        ignore_index=True,
    )
    wide = aggregate.pivot_table(
        index=["unit_id", "period_id"], columns="element_id", values="value", aggfunc="first"
    )
    wide.columns = [element_code(int(e)) for e in wide.columns]
    computed = {}
    for spec in specs:
        computed[spec.index] = wide.eval(spec.formula.text)
    indicator = pd.DataFrame(computed, index=wide.index)
    indicator = indicator.replace([np.inf, -np.inf], np.nan)
    stacked = indicator.rename_axis(columns="indicator_id").stack().dropna()
    assert isinstance(stacked, pd.Series)  # noqa: S101 - one column level: stack gives a Series
    long = stacked.rename("value").reset_index()
    period = tables["period"]
    ind = tables["indicator"]
    target = tables["target"]
    yearly = long.merge(period[period["type"] == "year"][["period_id", "year"]], on="period_id")
    ach = yearly.merge(target, on=["indicator_id", "unit_id", "year"]).merge(
        ind[["indicator_id", "lower_better", "points"]], on="indicator_id"
    )
    lower = ach["lower_better"].to_numpy()
    ach["ratio"] = np.where(lower, ach["target"] / ach["value"], ach["value"] / ach["target"])
    ach["achieved"] = np.where(lower, ach["value"] <= ach["target"], ach["value"] >= ach["target"])
    provinces = long[long["unit_id"] != units.nation].merge(
        ind[["indicator_id", "lower_better"]], on="indicator_id"
    )
    provinces["key"] = np.where(provinces["lower_better"], provinces["value"], -provinces["value"])
    provinces["rank"] = provinces.groupby(["indicator_id", "period_id"])["key"].rank(method="min")
    scored = ach[ach["unit_id"] != units.nation].copy()
    scored["points_won"] = scored["points"] * scored["ratio"].fillna(0).clip(upper=1)
    index = scored.groupby(["unit_id", "year"], as_index=False)[["points_won", "points"]].sum()
    index["score"] = 100 * index["points_won"] / index["points"]
    index["rank"] = index.groupby("year")["score"].rank(method="min", ascending=False)
    return {"indicator_value": long, "composite_index": index, "ranking": provinces}


# ---------------------------------------------------------------------------- the run


def machine() -> dict[str, Any]:
    return {
        **describe_machine(),
        "duckdb": importlib.metadata.version("duckdb"),
        "pandas": importlib.metadata.version("pandas"),
        "numpy": importlib.metadata.version("numpy"),
    }


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


SCALES = ("national", "small", "tiny")
# PostgreSQL's settings for this workload (a deployment's tuning, noted in the results): the
# shared buffers and the bulk load's maintenance memory and WAL room.
POSTGRES_SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "8GB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scale",
        choices=SCALES,
        default="national",
        help="national: 34 provinces, 3,321 communes, 200 indicators, 120 months (~80 M values;"
        " SQLite: the last 12 months); small: 1 province, its communes, 20 indicators,"
        " 24 months; tiny: 6 communes, 4 indicators, 3 months (the test's)",
    )
    parser.add_argument(
        "--databases", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--serve-workers",
        type=int,
        default=1,
        help="worker processes of tinhso serve (its --workers; default 1)",
    )
    parser.add_argument("--requests", type=int, default=160, help="requests per endpoint")
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="at most this long per endpoint"
    )
    parser.add_argument(
        "--warm-up", type=int, default=None, help="unmeasured requests first (default: --clients)"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=120.0, help="seconds before a request is an error"
    )
    parser.add_argument("--seed", type=int, default=20251205)
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the DuckDB and pandas reference rows"
    )
    parser.add_argument(
        "--reference-scale",
        type=float,
        default=None,
        help="share of communes of the DuckDB/pandas reference (default: 1 at national"
        " scale, 0.01 otherwise)",
    )
    parser.add_argument("--iterations", type=int, default=200, help="page-query rounds")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--pandas-elements",
        type=int,
        default=ELEMENTS,
        help="run pandas on this many elements' values only and scale its time linearly",
    )
    parser.add_argument(
        "--commune-materialise",
        action="store_true",
        help="also time materialising every commune-level indicator value (~3 min at full scale)",
    )
    parser.add_argument(
        "--product-months",
        type=int,
        default=1,
        help="months (the latest) the product's computation.indicator_values is timed on",
    )
    parser.add_argument(
        "--attach",
        default="",
        help="HTTP only, on the database at this URL that a run of this benchmark loaded"
        " with the same --scale (while that run recomputes, say)",
    )
    parser.add_argument("--name", default="", help="suffix of the result files")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")
    args = parser.parse_args(argv)
    if args.reference_scale is None:
        args.reference_scale = 1.0 if args.scale == "national" else 0.01
    return args


def served_sets(args: argparse.Namespace) -> dict[str, Any]:
    """The data set each database gets (SQLite: 12 months beside the national set)."""
    from bench.monitoring_served import SETS  # noqa: PLC0415

    return {
        name: SETS["national-sqlite"]
        if name == "sqlite" and args.scale == "national"
        else SETS[args.scale]
        for name in args.databases.split(",")
        if name
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from bench.monitoring_served import measure_database  # noqa: PLC0415
    from bench.serving import database  # noqa: PLC0415

    args = arguments(argv)
    report: dict[str, Any] = {
        "machine": machine(),
        "scale": args.scale,
        "clients": args.clients,
        "serve_workers": args.serve_workers,
        "requests_per_endpoint": args.requests,
        "max_seconds": args.max_seconds,
        "postgresql_settings": POSTGRES_SETTINGS,
        "served": {},
    }
    specs = indicator_specs()
    options = {
        "requests": args.requests,
        "clients": args.clients,
        "max_seconds": args.max_seconds,
        "seed": args.seed,
        "warm_up": args.clients if args.warm_up is None else args.warm_up,
        "request_timeout": args.request_timeout,
        "serve_workers": args.serve_workers,
    }
    report["warm_up_requests"] = options["warm_up"]
    report["request_timeout_s"] = args.request_timeout
    if args.attach:
        from bench.monitoring_served import SETS, measure_attached  # noqa: PLC0415

        report["attached"] = measure_attached(args.attach, SETS[args.scale], specs, options)
        report["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
        text = write(report, args)
        print(text)
        return report
    for name, data in served_sets(args).items():
        print(f"{name}: data set {data}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"tinhso-bench-{name}-") as tmp:
            with database(name, Path(tmp), POSTGRES_SETTINGS) as url:
                report["served"][name] = measure_database(url, data, specs, options)
            report["served"][name]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
        write(report, args)  # what is measured so far survives a later failure
    if not args.no_reference:
        report["reference"] = reference(args)
    report["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    report["peak_rss_mib"] = peak_rss_mib()
    text = write(report, args)
    print(text)
    return report


def _processes(count: int) -> str:
    return "one uvicorn process" if count == 1 else f"{count} uvicorn worker processes"


def write(report: dict[str, Any], args: argparse.Namespace) -> str:
    text = summary(report)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        day = dt.datetime.now(dt.UTC).date().isoformat()
        stem = RESULTS / f"monitoring-{day}{'-' + args.name if args.name else ''}"
        Path(f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        Path(f"{stem}.txt").write_text(text + "\n")
    return text


def reference(args: argparse.Namespace) -> dict[str, Any]:
    """The DuckDB and pandas reference rows: SQL on the benchmark's own DuckDB tables."""
    report: dict[str, Any] = {"scale": args.reference_scale}
    units = select_units(args.reference_scale)
    specs = indicator_specs()
    report["data"] = {
        "provinces": len(units.provinces),
        "communes": len(units.communes),
        "elements": ELEMENTS,
        "indicators": INDICATORS,
        "months": MONTHS,
    }
    with tempfile.TemporaryDirectory(prefix="tinhso-bench-monitoring-") as workdir:
        database = Path(workdir) / "monitoring.duckdb"
        con = duckdb.connect(str(database))
        con.execute(f"SET threads = {args.threads}")
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
        con.execute(f"SET temp_directory = '{workdir}/spill'")
        started = time.perf_counter()
        count = load(con, units, specs)
        report["load_s"] = round(time.perf_counter() - started, 2)
        report["data"]["element_values"] = count
        report["data"]["duckdb_file_mib"] = round(database.stat().st_size / 1024**2, 1)
        print(f"loaded {count:,} element values in {report['load_s']} s", flush=True)

        started = time.perf_counter()
        steps = recompute(con, units, specs)
        report["special_purpose_recompute_s"] = round(time.perf_counter() - started, 2)
        report["special_purpose_recompute_steps_s"] = {k: round(v, 3) for k, v in steps.items()}
        sizes = {
            table: int((con.execute(f"SELECT count(*) FROM {table}").fetchone() or [0])[0])
            for table in (
                "aggregate_value",
                "indicator_value",
                "achievement",
                "ranking",
                "composite_index",
            )
        }
        report["special_purpose_materialised_rows"] = sizes
        print(f"special-purpose recompute {report['special_purpose_recompute_s']} s", flush=True)

        gc.collect()
        started = time.perf_counter()
        steps = product_recompute(con, units, specs)
        report["recompute_s"] = round(time.perf_counter() - started, 2)
        report["recompute_steps_s"] = {k: round(v, 3) for k, v in steps.items()}
        report["materialised_rows"] = {
            table: int((con.execute(f"SELECT count(*) FROM {table}").fetchone() or [0])[0])
            for table in (
                "product_indicator_value",
                "product_achievement",
                "product_ranking",
                "product_composite_index",
            )
        }
        report["recompute_check"] = compare_product(con, units)
        print(
            f"product recompute {report['recompute_s']} s {report['materialised_rows']}"
            f" {report['recompute_check']}",
            flush=True,
        )
        if args.commune_materialise:
            report["commune_indicator_values_s"] = round(materialise_communes(con, specs), 2)
            print(
                f"all commune indicator values {report['commune_indicator_values_s']} s", flush=True
            )

        report["product_path"] = product_path(con, units, specs, args.product_months)
        print(f"product path {report['product_path']}", flush=True)

        queries = page_queries(units, specs)
        report["page_queries"] = run_pages(con, queries, args.iterations)
        report["page_p95_ms"] = max(p["p95_ms"] for p in report["page_queries"]["pages"].values())
        print(f"pages {report['page_queries']['pages']}", flush=True)

        report["pandas"] = compare_with_pandas(
            con, units, specs, args.pandas_elements, report["recompute_s"]
        )
        report["load_average_1min_after"] = round(os.getloadavg()[0], 2)
        con.close()
    return report


def compare_with_pandas(
    con: duckdb.DuckDBPyConnection,
    units: Units,
    specs: list[IndicatorSpec],
    elements: int,
    duckdb_s: float,
) -> dict[str, Any]:
    tables = {
        name: pd.DataFrame(con.execute(f"SELECT * FROM {name}").fetchnumpy())
        for name in ("month_period", "period", "indicator", "target")
    }
    subset = [s for s in specs if all(int(c[3:]) - 1 < elements for c in s.formula.elements)]
    fetched = con.execute(
        "SELECT element_id, unit_id, period_id, value FROM element_value WHERE element_id < ?",
        [elements],
    ).fetchnumpy()
    values = pd.DataFrame({k: np.asarray(v) for k, v in fetched.items()})
    del fetched
    gc.collect()
    started = time.perf_counter()
    result = pandas_recompute(values, units, subset, tables)
    pandas_s = time.perf_counter() - started
    del values
    gc.collect()
    scale = ELEMENTS / elements
    # Check: pandas and DuckDB agree on the composite index and on every indicator value.
    index = con.execute("SELECT unit_id, year, score FROM composite_index").fetchnumpy()
    duck_index = pd.DataFrame({k: np.asarray(v) for k, v in index.items()})
    check: dict[str, Any] = {}
    if elements == ELEMENTS:
        joined = duck_index.merge(result["composite_index"], on=["unit_id", "year"])
        check["index_max_abs_diff"] = float((joined["score_x"] - joined["score_y"]).abs().max())
        check["index_rows_compared"] = len(joined)
    duck_values = pd.DataFrame(
        {
            k: np.asarray(v)
            for k, v in con.execute(
                "SELECT indicator_id, unit_id, period_id, value FROM indicator_value"
                " WHERE value IS NOT NULL"
            )
            .fetchnumpy()
            .items()
        }
    )
    pandas_values = result["indicator_value"].astype(
        {"indicator_id": "int16", "unit_id": "int16", "period_id": "int16"}
    )
    joined_values = duck_values.merge(pandas_values, on=["indicator_id", "unit_id", "period_id"])
    relative = (joined_values["value_x"] - joined_values["value_y"]).abs() / joined_values[
        "value_x"
    ].abs().clip(lower=1e-9)
    check["indicator_values_compared"] = len(joined_values)
    check["indicator_values_max_rel_diff"] = float(relative.max())
    estimated = pandas_s * scale
    return {
        "elements_used": elements,
        "indicators_used": len(subset),
        "seconds": round(pandas_s, 2),
        "estimated_full_seconds": round(estimated, 2),
        "scaled": elements != ELEMENTS,
        "ratio_pandas_over_duckdb": round(estimated / duckdb_s, 2) if duckdb_s else None,
        "check": check,
    }


def reference_lines(report: dict[str, Any]) -> list[str]:
    """The DuckDB and pandas reference rows of the summary."""
    d, p = report["data"], report["pandas"]
    lines = [
        (
            "reference rows (not the product: SQL on the benchmark's own DuckDB tables, one"
            " process, no HTTP):"
        ),
        (
            f"data (share of communes {report['scale']}): {d['provinces']} provinces, {d['communes']:,} communes,"
            f" {d['elements']} elements, {d['indicators']} indicators, {d['months']} months:"
            f" {d['element_values']:,} element values ({d['duckdb_file_mib']} MiB DuckDB file)"
        ),
        (
            f"reference load: {report['load_s']} s (generated in DuckDB with range()/hash(), DuckDB storage;"
            " includes the product's analytics tables data_value/administrative_unit)"
        ),
        (
            f"reference recompute: {report['recompute_s']} s (the product's computation SQL: all 200 indicators for"
            " every province and every month, quarter and year by"
            " tinhso.monitoring.computation.analytics.materialise_indicator_values, i.e. the SQL of"
            " tinhso.monitoring.computation.indicators; then achievements, rankings and the index)"
        ),
    ]
    lines += [f"  {name}: {seconds} s" for name, seconds in report["recompute_steps_s"].items()]
    lines.append(f"  materialised rows: {report['materialised_rows']}")
    lines.append(
        f"  check against the special-purpose recompute (provinces): {report['recompute_check']}"
    )
    lines.append(
        f"special-purpose recompute, for comparison: {report['special_purpose_recompute_s']} s"
        " (SQL written for the benchmark's own tables: provinces + nation, months/quarters/years;"
        " formulas compiled by tinhso.monitoring.computation.formula.to_sql; its tables, which include the"
        " nation, are the ones the page queries read)"
    )
    lines += [
        f"  {name}: {seconds} s"
        for name, seconds in report["special_purpose_recompute_steps_s"].items()
    ]
    lines.append(f"  materialised rows: {report['special_purpose_materialised_rows']}")
    if "commune_indicator_values_s" in report:
        lines.append(
            f"all ~{d['element_values'] // 1_000_000} M commune-level indicator values (not part"
            f" of recompute; computed on read by the pages): {report['commune_indicator_values_s']} s"
        )
    pp = report["product_path"]
    lines.append(
        f"product path (tinhso.monitoring.computation.indicators on DuckDB, computed on read from commune"
        f" values): 200 indicators x {len(pp['months'])} month(s) for every"
        f" province: {pp['all_indicators_provinces_s']} s ({pp['values']:,} values, max"
        f" relative difference from the recompute {pp['max_rel_diff_vs_recompute']});"
        f" ranking of the provinces on one indicator for {pp['months'][-1]}:"
        f" p50 {pp['ranking_one_indicator_ms']['p50_ms']} ms,"
        f" p95 {pp['ranking_one_indicator_ms']['p95_ms']} ms"
    )
    lines.append("page queries (ms, one connection, random parameters):")
    for q in report["page_queries"]["queries"]:
        lines.append(f"  [{q['page']}] {q['query']}: p50 {q['p50_ms']} p95 {q['p95_ms']}")
    for page, figures in report["page_queries"]["pages"].items():
        lines.append(
            f"  {page} page (all its queries): p50 {figures['p50_ms']} p95 {figures['p95_ms']}"
        )
    scaled = (
        f" on {p['elements_used']} of {ELEMENTS} elements ({p['indicators_used']} indicators),"
        f" scaled linearly to {p['estimated_full_seconds']} s"
        if p["scaled"]
        else ""
    )
    lines.append(
        f"pandas reference (same recompute, data already in memory): {p['seconds']} s{scaled};"
        f" pandas/DuckDB time ratio {p['ratio_pandas_over_duckdb']}; check {p['check']}"
    )
    lines.append(
        f"reference page queries, worst page p95: {report['page_p95_ms']} ms (DuckDB, one"
        f" connection); 1-min load average after the reference: {report['load_average_1min_after']}"
    )
    return lines


TARGETS = {"recompute_s": 10.0, "dashboard_p95_ms": 100.0, "all_communes_ms": 200.0}


def summary(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"monitoring benchmark {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        (
            f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, kernel {m['kernel']},"
            f" python {m['python']}, duckdb {m['duckdb']}, pandas {m['pandas']}; shared with"
            f" other work: 1-min load average {m['load_average_1min_at_start']} at start"
        ),
        f"PostgreSQL settings: {report['postgresql_settings']} (fsync, full_page_writes on)",
        (
            f"through the product (scale {report['scale']}): tinhso serve"
            f" ({_processes(report.get('serve_workers', 1))})"
            f" on loopback, {report['clients']} concurrent keep-alive clients (aiohttp, same"
            f" machine), {report['requests_per_endpoint']} requests per endpoint (at most"
            f" {report.get('max_seconds', '-')} s) after {report.get('warm_up_requests', report['clients'])}"
            f" warm-up requests; a request unanswered after"
            f" {report.get('request_timeout_s', 120.0)} s is an error"
        ),
    ]
    for name, found in report["served"].items():
        d, load, rc = found["data"], found["load"], found["recompute"]
        lines += [
            (
                f"{name} ({found['database']}), set {found['data_set']}: {d['provinces']}"
                f" provinces, {d['communes']:,} communes, {d['elements']} elements,"
                f" {d['indicators']} indicators, {d['months']} months"
                f" ({d['first_month']}..{d['last_month']}): {load['values']:,} values"
            ),
            (
                f"  set-up (tinhso db upgrade, units import, create-admin, synthetic boundaries):"
                f" {found['setup_s']} s; catalogue through the API: {found['catalogue']}"
            ),
            f"  load: {load['seconds']} s {load['steps_s']}",
            (
                f"  recompute (tinhso monitoring recompute on the DuckDB copy: every indicator,"
                f" every province, every month/quarter/year): {rc['recompute_s']} s wall"
                f" ({rc['recompute_computation_s']} s inside the command),"
                f" {rc['indicator_values_stored']} values stored;"
                f" the copy first (tinhso monitoring snapshot): {rc['snapshot_s']} s,"
                f" {rc['copy_mib']} MiB"
            ),
            "  HTTP (ms; requests/s):",
        ]
        lines += _http_lines(found)
        lines.append(f"  1-min load average after: {found['load_average_1min_after']}")
    if "attached" in report:
        found = report["attached"]
        lines.append(
            f"HTTP only, attached to a loaded database ({found['database']}, set"
            f" {found['data_set']}, {found['values_in_database']:,} values), measured at"
            f" {found['measured_at']} (ms; requests/s):"
        )
        lines += _http_lines(found)
    if "reference" in report:
        lines += reference_lines(report["reference"])
    headline = _headline(report)
    lines.append(
        f"targets: recompute < {TARGETS['recompute_s']:g} s on PostgreSQL:"
        f" {_met(headline['recompute_s'], TARGETS['recompute_s'])}; every dashboard request"
        f" p95 < {TARGETS['dashboard_p95_ms']:g} ms with {report['clients']} clients:"
        f" {_met(headline['page_p95_ms'], TARGETS['dashboard_p95_ms'])}; every commune's"
        f" values < {TARGETS['all_communes_ms']:g} ms (p95):"
        f" {_met(headline['all_communes_p95_ms'], TARGETS['all_communes_ms'])};"
        f" requests answered with an error: {headline['errors']}"
        + (" (so no target of the pages is met)" if headline["errors"] else "")
    )
    lines.append(
        f"machine load (1-min load average) at start {m['load_average_1min_at_start']}, at end"
        f" {report.get('load_average_1min_at_end', '-')} on {m['cores']} cores, shared with"
        " other workers: compare figures only between runs on a similar load"
    )
    lines.append(f"recompute: {headline['recompute_s']} s, page p95: {headline['page_p95_ms']} ms")
    return "\n".join(lines)


def _http_lines(found: dict[str, Any]) -> list[str]:
    lines = [
        f"    {endpoint}: first {figures.get('first_ms', '-')}; p50 {figures['p50_ms']}"
        f" p95 {figures['p95_ms']}"
        f" p99 {figures['p99_ms']} max {figures['max_ms']}; {figures['requests_per_s']}"
        f" req/s; n {figures['n']}, {figures['mean_kib']} KiB, errors {figures['errors']}"
        for endpoint, figures in found["http"].items()
    ]
    if found.get("server_errors"):
        lines.append(f"  tinhso serve logged (warnings, errors): {found['server_errors']}")
    return lines


def _met(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return f"{value:g} {'met' if value < target else 'NOT met'}"


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    """The recompute on PostgreSQL (else SQLite), the worst dashboard p95 on any database."""
    served = dict(report["served"])
    if "attached" in report:
        served["attached"] = report["attached"]
    first = served.get("postgresql") or next(
        (found for found in served.values() if "recompute" in found), None
    )
    # a page none of whose requests was answered counts as its request timeout
    timeout = 1000 * float(report.get("request_timeout_s", 120.0))
    dashboard = [
        timeout if f["p95_ms"] is None else f["p95_ms"]
        for found in served.values()
        for f in found["http"].values()
        if f["dashboard"]
    ]
    communes = [
        timeout if f["p95_ms"] is None else f["p95_ms"]
        for found in served.values()
        for f in found["http"].values()
        if not f["dashboard"]
    ]
    errors = sum(
        f["errors"] + f.get("warm_up_errors", 0)
        for found in served.values()
        for f in found["http"].values()
    )
    return {
        "errors": errors,
        "recompute_s": first["recompute"]["recompute_s"] if first else None,
        "page_p95_ms": max(dashboard) if dashboard else None,
        "all_communes_p95_ms": max(communes) if communes else None,
    }


if __name__ == "__main__":
    main()
