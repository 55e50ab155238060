"""Indicator computation in SQL: indicators and rankings over units and periods.

Everything here builds plain SQL text that runs unchanged on SQLite, PostgreSQL and
DuckDB, and runs it through a `Runner` (a function SQL -> rows). Nothing loops over
stored values in Python. The SQL reads three tables with the platform's names and
columns, so an analytics copy in DuckDB only needs the same shapes:

- ``data_value(data_element_id, unit_id, period, value)``
- ``administrative_unit(id, unit_set, level, parent_id)``
- ``unit_succession(legacy_unit_id, current_unit_id, is_default)``

An indicator for period P reads each element at P, or at the period of the element's
own (coarser) type that contains P (a yearly population with a quarterly count). An
element of a shorter period type (monthly dossiers for a yearly rate) is rolled up into
P first, per unit, by its ``period_aggregation`` (sum, average, or the last period
reported); with ``none`` it gives nothing for P. The elements' values are the effective
values of `computation/effective_values.py` (aggregated up the tree, and onto the current units
after the boundary change), built from the blocks of `computation/aggregation.py`; the indicators'
formulas (`computation/formula.py`) are one projection over them.
"""

# This module builds SQL text by design; only integers, parsed period codes, enum values
# and compiled formulas are interpolated (see the module docstring).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation.aggregation import (
    CteQuery,
    ElementSpec,
    sql_ints,
    sql_periods,
    with_weights,
)
from tinhso.monitoring.computation.effective_values import Basis, Tree, effective_values
from tinhso.monitoring.models import Direction, PeriodAggregation
from tinhso.monitoring.periods import parse_period
from tinhso.registry.models import UnitLevel

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Row = Sequence[Any]
Runner = Callable[[str], list[Row]]


@dataclass(frozen=True)
class IndicatorSpec:
    id: int
    code: str
    formula: formulas.Formula
    direction: Direction = Direction.HIGHER_BETTER


@dataclass(frozen=True)
class UnitFilter:
    """Which units to report: ids, or a level (optionally the children of one parent)."""

    unit_ids: tuple[int, ...] | None = None
    level: UnitLevel | None = None
    parent_id: int | None = None

    def sql(self, alias: str) -> str:
        conditions = ["1 = 1"]
        if self.unit_ids is not None:
            conditions.append(f"{alias}.id IN ({sql_ints(self.unit_ids) or 'NULL'})")
        if self.level is not None:
            conditions.append(f"{alias}.level = '{UnitLevel(self.level).value}'")
        if self.parent_id is not None:
            conditions.append(f"{alias}.parent_id = {int(self.parent_id)}")
        return " AND ".join(conditions)


def element_periods(
    indicators: Sequence[IndicatorSpec],
    elements_by_code: dict[str, ElementSpec],
    periods: Iterable[str],
) -> list[tuple[str, int, str]]:
    """(indicator period, element id, period the element is read at) for every pair needed."""
    wanted: set[tuple[str, int, str]] = set()
    for period_code in periods:
        period = parse_period(period_code)
        for indicator in indicators:
            for code in indicator.formula.elements:
                element = elements_by_code.get(code)
                if element is None:
                    continue
                source = period.within(element.period_type)
                if source is not None:
                    wanted.add((period.code, element.id, source.code))
                elif element.period_aggregation is not PeriodAggregation.NONE:
                    # shorter periods rolled up into this one
                    wanted.add((period.code, element.id, period.code))
    return sorted(wanted)


def time_rollups(
    elements: Sequence[ElementSpec], periods: Iterable[str]
) -> list[tuple[int, str, str]]:
    """(element id, shorter period, period) for elements read over a longer period."""
    found: list[tuple[int, str, str]] = []
    for period_code in sorted(set(periods)):
        period = parse_period(period_code)
        for element in elements:
            if element.period_aggregation is PeriodAggregation.NONE:
                continue
            found.extend(
                (element.id, part.code, period.code) for part in period.parts(element.period_type)
            )
    return found


def indicator_query(
    indicators: Sequence[IndicatorSpec],
    catalogue: Sequence[ElementSpec],
    periods: Iterable[str],
    tree: Tree,
    units: UnitFilter,
    root_unit_id: int | None = None,
    *,
    basis_each: bool = False,
) -> tuple[CteQuery, str] | None:
    """CTEs ending in ``m_result(period, unit_id, i<id>..., basis)`` for the units chosen;
    with ``basis_each`` also ``b<id>...``: each indicator's own basis, NULL where none of its
    own elements has a value (the row is another indicator's).

    None when the indicators read no known element (nothing to compute).
    """
    by_code = {element.code: element for element in catalogue}
    wanted = element_periods(indicators, by_code, list(periods))
    if not wanted:
        return None
    used = [element for element in catalogue if element.id in {w[1] for w in wanted}]
    elements = with_weights(used, catalogue)
    query = CteQuery()
    source_periods = {w[2] for w in wanted}
    rollups = time_rollups(elements, source_periods)
    levels = frozenset({UnitLevel(units.level)}) if units.level is not None else None
    eff = effective_values(query, elements, source_periods, tree, root_unit_id, rollups, levels)
    columns = ",\n  ".join(
        f"MAX(CASE WHEN e.element_id = {element.id} THEN e.value END) AS e{element.id}"
        for element in used
    )
    if basis_each:
        columns += "".join(
            f",\n  MAX(CASE WHEN e.element_id IN ({own}) THEN e.basis END) AS b{indicator.id}"
            for indicator in indicators
            if (own := sql_ints(e.id for e in used if e.code in indicator.formula.elements))
        )
    chosen = f"JOIN administrative_unit u ON u.id = e.unit_id AND {units.sql('u')}"
    # The units are chosen before pivoting (only their rows are pivoted), the pivot is one
    # GROUP BY over them, and the formulas are then one projection over the pivot.
    if all(period == source for period, _, source in wanted):
        # Every element is read at the indicator's period itself (the usual case): no join
        # to the wanted pairs (which also keeps DuckDB from pushing a partial aggregate of
        # all the pivot's columns below that join, a pass per value and column).
        query.add(
            "m_pivot",
            f"SELECT e.period, e.unit_id,\n  {columns},\n  MAX(e.basis) AS basis\n"
            f"FROM {eff} e {chosen}\n"
            f"WHERE e.period IN ({sql_periods(w[0] for w in wanted)})"
            f" AND e.element_id IN ({sql_ints(w[1] for w in wanted)})\n"
            "GROUP BY e.period, e.unit_id",
        )
    else:
        rows = ", ".join(
            f"('{period}', {element_id}, '{source}')" for period, element_id, source in wanted
        )
        query.add("m_want(period, element_id, source_period)", f"VALUES {rows}")
        query.add(
            "m_pivot",
            f"SELECT w.period, e.unit_id,\n  {columns},\n  MAX(e.basis) AS basis\n"
            f"FROM {eff} e {chosen}\n"
            "JOIN m_want w ON w.element_id = e.element_id AND w.source_period = e.period\n"
            "GROUP BY w.period, e.unit_id",
        )
    used_codes = {element.code: element.id for element in used}

    def column(code: str) -> str:
        element_id = used_codes.get(code)
        return f"p.e{element_id}" if element_id is not None else "CAST(NULL AS DOUBLE PRECISION)"

    def own_basis(indicator: IndicatorSpec) -> str:
        reads = any(code in used_codes for code in indicator.formula.elements)
        return f"p.b{indicator.id}" if reads else "CAST(NULL AS INTEGER)"

    values = ",\n  ".join(
        f"{formulas.to_sql(indicator.formula, column)} AS i{indicator.id}"
        for indicator in indicators
    )
    if basis_each:
        values += "".join(
            f",\n  {own_basis(indicator)} AS b{indicator.id}" for indicator in indicators
        )
    query.add(
        "m_result",
        f"SELECT p.period, p.unit_id,\n  {values},\n  p.basis\nFROM m_pivot p",
    )
    return query, "m_result"


@dataclass(frozen=True)
class IndicatorValue:
    indicator_id: int
    unit_id: int
    period: str
    value: float | None
    basis: Basis


def indicator_values(
    run: Runner,
    indicators: Sequence[IndicatorSpec],
    catalogue: Sequence[ElementSpec],
    periods: Iterable[str],
    tree: Tree,
    units: UnitFilter,
    root_unit_id: int | None = None,
) -> list[IndicatorValue]:
    """Every indicator's value for every unit and period that has any input data."""
    built = indicator_query(indicators, catalogue, periods, tree, units, root_unit_id)
    return _read_values(run, indicators, built, basis_each=False)


def indicator_values_each(
    run: Runner,
    indicators: Sequence[IndicatorSpec],
    catalogue: Sequence[ElementSpec],
    periods: Iterable[str],
    tree: Tree,
    units: UnitFilter,
    root_unit_id: int | None = None,
) -> list[IndicatorValue]:
    """`indicator_values` of several indicators in one statement, each indicator's rows as if
    it had been computed alone: only where one of its own elements has a value, with the
    basis of its own elements."""
    built = indicator_query(
        indicators, catalogue, periods, tree, units, root_unit_id, basis_each=True
    )
    return _read_values(run, indicators, built, basis_each=True)


def _read_values(
    run: Runner,
    indicators: Sequence[IndicatorSpec],
    built: tuple[CteQuery, str] | None,
    *,
    basis_each: bool,
) -> list[IndicatorValue]:
    """The built query's rows as values: one basis for the row, or (``basis_each``) one per
    indicator, a row without its own basis not being the indicator's."""
    if built is None:
        return []
    query, result = built
    if basis_each:
        columns = ", ".join(f"r.i{i.id}, r.b{i.id}" for i in indicators)
    else:
        columns = ", ".join(f"r.i{i.id}" for i in indicators) + ", r.basis"
    rows = run(query.render(f"SELECT r.period, r.unit_id, {columns} FROM {result} r"))
    step = 2 if basis_each else 1
    found: list[IndicatorValue] = []
    for row in rows:
        for position, indicator in enumerate(indicators):
            value = row[2 + step * position]
            basis = row[3 + 2 * position] if basis_each else row[-1]
            if basis is None:
                continue
            found.append(
                IndicatorValue(
                    indicator_id=indicator.id,
                    unit_id=int(row[1]),
                    period=str(row[0]),
                    value=None if value is None else float(value),
                    basis=Basis(int(basis)),
                )
            )
    return found


@dataclass(frozen=True)
class Ranked:
    unit_id: int
    value: float
    rank: int
    basis: Basis


def ranking(
    run: Runner,
    indicator: IndicatorSpec,
    catalogue: Sequence[ElementSpec],
    period: str,
    tree: Tree,
    units: UnitFilter,
) -> list[Ranked]:
    """Units ranked on one indicator (best first; ties share a rank: 1, 1, 3)."""
    code = parse_period(period).code
    return rankings_by_period(run, indicator, catalogue, [code], tree, units)[code]


def rankings_by_period(
    run: Runner,
    indicator: IndicatorSpec,
    catalogue: Sequence[ElementSpec],
    periods: Sequence[str],
    tree: Tree,
    units: UnitFilter,
) -> dict[str, list[Ranked]]:
    """`ranking` of one indicator for each of several periods in one statement, by period
    code (every period asked is there, empty without values); each as if ranked alone."""
    codes = sorted({parse_period(period).code for period in periods})
    found: dict[str, list[Ranked]] = {code: [] for code in codes}
    built = indicator_query([indicator], catalogue, codes, tree, units)
    if built is None:
        return found
    query, result = built
    order = "DESC" if indicator.direction is Direction.HIGHER_BETTER else "ASC"
    column = f"r.i{indicator.id}"
    rows = run(
        query.render(
            f"SELECT r.period, r.unit_id, {column},"
            f" RANK() OVER (PARTITION BY r.period ORDER BY {column} {order}), r.basis\n"
            f"FROM {result} r WHERE {column} IS NOT NULL\n"
            f"ORDER BY 1, 4, r.unit_id"
        )
    )
    for row in rows:
        found[str(row[0])].append(
            Ranked(int(row[1]), float(row[2]), int(row[3]), Basis(int(row[4])))
        )
    return found


def rankings(
    run: Runner,
    asked: Sequence[tuple[IndicatorSpec, str]],
    catalogue: Sequence[ElementSpec],
    tree: Tree,
    units: UnitFilter,
) -> dict[tuple[int, str], list[Ranked]]:
    """`ranking` of several (indicator, period) pairs over the same units in one statement,
    by (indicator id, period); each as if ranked alone."""
    wanted = list(dict.fromkeys((spec, parse_period(period).code) for spec, period in asked))
    found: dict[tuple[int, str], list[Ranked]] = {(s.id, p): [] for s, p in wanted}
    indicators = list({spec.id: spec for spec, _ in wanted}.values())
    periods = sorted({period for _, period in wanted})
    built = indicator_query(indicators, catalogue, periods, tree, units, basis_each=True)
    if built is None:
        return found
    query, result = built
    parts = []
    for spec, period in wanted:
        order = "DESC" if spec.direction is Direction.HIGHER_BETTER else "ASC"
        column = f"r.i{spec.id}"
        parts.append(
            f"SELECT {int(spec.id)} AS indicator_id, r.period, r.unit_id, {column} AS value,"
            f" RANK() OVER (ORDER BY {column} {order}) AS position, r.b{spec.id} AS basis\n"
            f"FROM {result} r WHERE r.period = '{period}' AND {column} IS NOT NULL"
            f" AND r.b{spec.id} IS NOT NULL"
        )
    rows = run(query.render("\nUNION ALL\n".join(parts) + "\nORDER BY 1, 2, 5, 3"))
    for row in rows:
        found[(int(row[0]), str(row[1]))].append(
            Ranked(int(row[2]), float(row[3]), int(row[4]), Basis(int(row[5])))
        )
    return found


# --- runners ---------------------------------------------------------------------------


def sqlalchemy_runner(connection: Session | Connection) -> Runner:
    """Run the SQL on the session's (or connection's) database, inside its transaction."""

    def run(sql: str) -> list[Row]:
        raw = connection.connection() if isinstance(connection, Session) else connection
        return [tuple(row) for row in raw.exec_driver_sql(sql).all()]

    return run


DUCKDB_DISABLED_OPTIMIZERS = ("common_subplan",)


def duckdb_runner(connection: Any) -> Runner:
    """Run the SQL on a ``duckdb.DuckDBPyConnection`` holding the same three tables.

    DuckDB's ``common_subplan`` optimiser is switched off for these queries (and the
    connection's setting restored after): it finds the scan of ``data_value`` that every
    level of the tree starts from and materialises it, all ~80 M rows at national scale,
    which costs more than scanning the table once per level.
    """

    def run(sql: str) -> list[Row]:
        found = connection.execute("SELECT current_setting('disabled_optimizers')").fetchone()
        before = str(found[0]) if found and found[0] else ""
        names = [n.strip() for n in before.split(",") if n.strip()]
        wanted = ",".join(dict.fromkeys([*names, *DUCKDB_DISABLED_OPTIMIZERS]))
        connection.execute(f"SET disabled_optimizers = '{wanted}'")
        try:
            return [tuple(row) for row in connection.execute(sql).fetchall()]
        finally:
            connection.execute(f"SET disabled_optimizers = '{before}'")

    return run
