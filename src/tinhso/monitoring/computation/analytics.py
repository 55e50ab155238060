"""An analytics copy in DuckDB of what the computation SQL reads.

Decision: computations run on the platform database (SQLite or PostgreSQL) by default;
for national-scale analytics the same SQL (`computation/indicators.py`) runs on DuckDB. DuckDB
extensions cannot be downloaded in our deployments, so DuckDB cannot attach SQLite or
PostgreSQL directly; instead the three tables the SQL reads are copied into a DuckDB
database: rows are streamed out of the platform database in chunks, written to CSV
files in a temporary directory and loaded with DuckDB's native ``COPY`` (no pandas or
Arrow needed). The copy is a snapshot: re-run it to refresh.

On the copy, `materialise_indicator_values` computes every indicator for every unit of
one level and every period in one query (the product's own SQL from `computation/indicators.py`,
nothing written for the purpose) and stores the values in a table, long format: the
national recompute that ``tinhso monitoring recompute`` and ``bench/monitoring.py`` run.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinhso.monitoring.computation import indicators as computation
from tinhso.monitoring.computation.aggregation import ElementSpec
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.computation.indicators import IndicatorSpec, UnitFilter
from tinhso.monitoring.models import PeriodType
from tinhso.monitoring.periods import parse_period
from tinhso.registry.models import UnitLevel

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.engine import Connection

# (table, DuckDB column definitions, SELECT on the platform database)
TABLES: tuple[tuple[str, str, str], ...] = (
    (
        "administrative_unit",
        (
            "id INTEGER PRIMARY KEY, unit_set VARCHAR, code VARCHAR, name VARCHAR, level VARCHAR, "
            "parent_id INTEGER"
        ),
        "SELECT id, unit_set, code, name, level, parent_id FROM administrative_unit",
    ),
    (
        "unit_succession",
        "legacy_unit_id INTEGER, current_unit_id INTEGER, is_default BOOLEAN",
        "SELECT legacy_unit_id, current_unit_id, is_default FROM unit_succession",
    ),
    (
        "data_value",
        "data_element_id INTEGER, unit_id INTEGER, period VARCHAR, value DOUBLE",
        "SELECT data_element_id, unit_id, period, value FROM data_value",
    ),
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def copy_to_duckdb(connection: Connection, duck: Any, chunk_size: int = 200_000) -> dict[str, int]:
    """Copy the tables into an open ``duckdb`` connection (replacing them); rows per table."""
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="tinhso-analytics-") as scratch:
        for table, columns, select in TABLES:
            duck.execute(f"DROP TABLE IF EXISTS {table}")
            duck.execute(f"CREATE TABLE {table} ({columns})")
            result = connection.execution_options(stream_results=True).exec_driver_sql(select)
            total = 0
            part = 0
            while True:
                rows = result.fetchmany(chunk_size)
                if not rows:
                    break
                path = Path(scratch) / f"{table}-{part}.csv"
                with path.open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle)
                    for row in rows:
                        # SQLite hands booleans back as 0/1
                        cells = [_cell(value) for value in row]
                        if table == "unit_succession":
                            cells[2] = "true" if row[2] else "false"
                        writer.writerow(cells)
                duck.execute(
                    f"COPY {table} FROM '{path.as_posix()}' (FORMAT csv, HEADER false, NULL '')"
                )
                path.unlink()
                total += len(rows)
                part += 1
            counts[table] = total
    return counts


def analysis_periods(duck: Any) -> list[str]:
    """Every period with values in the copy, and the quarters and years containing them."""
    found: set[str] = set()
    for (code,) in duck.execute("SELECT DISTINCT period FROM data_value").fetchall():
        period = parse_period(str(code))
        for period_type in (period.type, PeriodType.QUARTER, PeriodType.YEAR):
            containing = period.within(period_type)
            if containing is not None:
                found.add(containing.code)
    return sorted(found)


def materialise_indicator_values(
    duck: Any,
    indicators: Sequence[IndicatorSpec],
    catalogue: Sequence[ElementSpec],
    periods: Iterable[str],
    tree: Tree = Tree.CURRENT,
    level: UnitLevel = UnitLevel.PROVINCE,
    table: str = "indicator_value",
) -> int:
    """Store every indicator's value for every unit of ``level`` and every period in ``table``
    ``(indicator_id, unit_id, period, value, basis)`` of the DuckDB copy (replacing it);
    return its number of rows. Values that are missing (no data, a zero denominator) are
    not stored. The numbers are those of `computation.indicator_values` (same SQL), here in
    one statement: aggregated up the tree once per element and period, pivoted once, every
    formula computed in one pass over the pivot, unpivoted by DuckDB.
    """
    if not table.isidentifier():
        msg = f"not a table name: {table!r}"
        raise ValueError(msg)
    built = computation.indicator_query(
        indicators, catalogue, list(periods), tree, UnitFilter(level=level)
    )
    duck.execute(
        f"CREATE OR REPLACE TABLE {table} (indicator_id INTEGER, unit_id INTEGER,"
        " period VARCHAR, value DOUBLE, basis SMALLINT)"
    )
    if built is None:
        return 0
    query, result = built
    columns = ", ".join(f"i{indicator.id}" for indicator in indicators)
    # The statement runs through the product's DuckDB runner (its optimiser settings).
    computation.duckdb_runner(duck)(
        f"INSERT INTO {table} "
        + query.render(
            "SELECT CAST(SUBSTR(u.name, 2) AS INTEGER), u.unit_id, u.period, u.value, u.basis\n"
            f"FROM (UNPIVOT {result} ON {columns} INTO NAME name VALUE value) u"
        )
    )
    counted = duck.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
    return int(counted[0]) if counted else 0
