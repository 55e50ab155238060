"""Indicator computation in SQL: aggregation up the unit tree, indicators, rankings, the index.

Everything here builds plain SQL text that runs unchanged on SQLite, PostgreSQL and
DuckDB, and runs it through a `Runner` (a function SQL -> rows). Nothing loops over
stored values in Python. The SQL reads three tables with the platform's names and
columns, so an analytics copy in DuckDB only needs the same shapes:

- ``data_value(data_element_id, unit_id, period, value)``
- ``administrative_unit(id, unit_set, level, parent_id)``
- ``unit_succession(legacy_unit_id, current_unit_id, is_default)``

Element metadata (aggregation, weight element) is inlined as a VALUES list, so the
``data_element`` table is not needed. Only integers, validated period codes and enum
values are ever inlined: nothing user-typed reaches the SQL text.

Rules
-----
Aggregation up the tree, per element, unit and period: a value recorded for a unit
wins; otherwise the unit's value is the element's aggregation (sum, average, weighted
average by another element, min, max) over its children's values (recorded or
themselves aggregated). ``none`` never aggregates. Missing children are simply absent:
a sum over the communes that reported.

An indicator for period P reads each element at P, or at the period of the element's
own (coarser) type that contains P (a yearly population with a quarterly count). An
element of a shorter period type (monthly dossiers for a yearly rate) is rolled up into
P first, per unit, by its ``period_aggregation`` (sum, average, or the last period
reported); with ``none`` it gives nothing for P. Time first, then the unit tree.

Boundary change (``tree="current"``): values recorded under the current units come
first. Where a current unit has none, values recorded under legacy units are
re-aggregated onto it: a legacy commune's value goes to its default successor commune
(a split commune's whole value goes to the ``is_default`` successor); a legacy
province's value (recorded, or aggregated from its districts and communes) goes to the
current province its communes went to, so Bắc Giang's districts add up into the current
Bắc Ninh province. Legacy district values reach current units only through their
province. ``basis`` says per row: 0 recorded, 1 aggregated, 2 re-aggregated from legacy.
"""

# This module builds SQL text by design; only integers, parsed period codes, enum values
# and compiled formulas are interpolated (see the module docstring).
# ruff: noqa: S608

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from tinhso.monitoring import formula as formulas
from tinhso.monitoring.models import (
    Aggregation,
    Direction,
    PeriodAggregation,
    PeriodType,
)
from tinhso.monitoring.periods import parse_period
from tinhso.registry.models import UnitLevel, UnitSet

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Row = Sequence[Any]
Runner = Callable[[str], list[Row]]

LEVELS: dict[UnitSet, tuple[UnitLevel, ...]] = {
    UnitSet.LEGACY: (UnitLevel.COMMUNE, UnitLevel.DISTRICT, UnitLevel.PROVINCE),
    UnitSet.CURRENT: (UnitLevel.COMMUNE, UnitLevel.PROVINCE),
}


class Tree(enum.StrEnum):
    LEGACY = "legacy"  # values as recorded under the pre-01/07/2025 units
    CURRENT = "current"  # the current units, legacy values re-aggregated onto them


class Basis(enum.IntEnum):
    RECORDED = 0
    AGGREGATED = 1
    REAGGREGATED = 2  # from values recorded under legacy units


@dataclass(frozen=True)
class ElementSpec:
    id: int
    code: str
    aggregation: Aggregation
    period_type: PeriodType
    weight_element_id: int | None = None
    period_aggregation: PeriodAggregation = PeriodAggregation.NONE


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
            conditions.append(f"{alias}.id IN ({_ints(self.unit_ids) or 'NULL'})")
        if self.level is not None:
            conditions.append(f"{alias}.level = '{UnitLevel(self.level).value}'")
        if self.parent_id is not None:
            conditions.append(f"{alias}.parent_id = {int(self.parent_id)}")
        return " AND ".join(conditions)


@dataclass
class _Query:
    ctes: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, body: str) -> None:
        self.ctes.append((name, body))

    def render(self, select: str) -> str:
        if not self.ctes:
            return select
        parts = ",\n".join(f"{name} AS (\n{body}\n)" for name, body in self.ctes)
        return f"WITH RECURSIVE {parts}\n{select}"


def _ints(values: Iterable[int]) -> str:
    return ", ".join(str(int(value)) for value in sorted(set(values)))


def _periods(values: Iterable[str]) -> str:
    # Period codes are re-rendered from their parsed form: nothing else reaches the SQL.
    return ", ".join(f"'{parse_period(value).code}'" for value in sorted(set(values)))


def _aggregate(value: str) -> str:
    """The element's aggregation of child values (grouped by element, parent, period)."""
    return (
        "CASE m_el.aggregation"
        f" WHEN 'sum' THEN SUM({value})"
        f" WHEN 'average' THEN AVG({value})"
        f" WHEN 'min' THEN MIN({value})"
        f" WHEN 'max' THEN MAX({value})"
        " END"
    )


def with_weights(
    elements: Sequence[ElementSpec], catalogue: Sequence[ElementSpec]
) -> list[ElementSpec]:
    """The elements plus the weight elements their weighted averages need (transitively)."""
    by_id = {element.id: element for element in catalogue}
    found = {element.id: element for element in elements}
    stack = list(elements)
    while stack:
        element = stack.pop()
        weight = element.weight_element_id
        if weight is not None and weight not in found and weight in by_id:
            found[weight] = by_id[weight]
            stack.append(by_id[weight])
    return sorted(found.values(), key=lambda element: element.id)


def _elements_cte(query: _Query, elements: Sequence[ElementSpec]) -> None:
    rows = ", ".join(
        f"({element.id}, '{Aggregation(element.aggregation).value}', "
        f"CAST({element.weight_element_id if element.weight_element_id is not None else 'NULL'}"
        f" AS INTEGER), '{PeriodAggregation(element.period_aggregation).value}')"
        for element in elements
    )
    query.add("m_el(element_id, aggregation, weight_id, period_aggregation)", f"VALUES {rows}")


def _roll(
    query: _Query,
    name: str,
    source: str,
    join: str,
    parent: str,
    basis: str,
    passthrough: str | None = None,
) -> None:
    """Aggregate ``source`` rows (alias ``c``) onto ``parent`` units (the join gives them).

    No self-joins: a weighted average first puts each child's value and weight side by
    side with a GROUP BY, so every engine runs this as hash aggregations and equi-joins.
    ``passthrough`` is the value given to elements that do not aggregate (``none``).
    """
    weighted = "m_el.aggregation = 'weighted_average'"
    query.add(
        f"{name}_w",
        "SELECT g.element_id, g.unit_id, g.period, MAX(g.value) AS value,"
        " MAX(g.weight) AS weight, MAX(g.basis) AS basis\n"
        "FROM (\n"
        "  SELECT m_el.element_id, c.unit_id, c.period, c.value, CAST(NULL AS DOUBLE PRECISION)"
        " AS weight, c.basis\n"
        f"  FROM {source} c JOIN m_el ON m_el.element_id = c.element_id WHERE {weighted}\n"
        "  UNION ALL\n"
        "  SELECT m_el.element_id, c.unit_id, c.period, CAST(NULL AS DOUBLE PRECISION), c.value,"
        " c.basis\n"
        f"  FROM {source} c JOIN m_el ON m_el.weight_id = c.element_id WHERE {weighted}\n"
        ") g\n"
        "GROUP BY g.element_id, g.unit_id, g.period",
    )
    none = f" WHEN 'none' THEN {passthrough}" if passthrough else ""
    skipped = "'weighted_average'" if passthrough else "'weighted_average', 'none'"
    query.add(
        name,
        "SELECT r.element_id, r.unit_id, r.period, r.value, r.basis FROM (\n"
        f"  SELECT c.element_id, {parent} AS unit_id, c.period,\n"
        f"    {_aggregate('c.value').replace(' END', none + ' END')} AS value, {basis} AS basis\n"
        f"  FROM {source} c {join}\n"
        "  JOIN m_el ON m_el.element_id = c.element_id\n"
        f"  WHERE m_el.aggregation NOT IN ({skipped})\n"
        f"  GROUP BY c.element_id, {parent}, c.period, m_el.aggregation\n"
        "  UNION ALL\n"
        f"  SELECT c.element_id, {parent} AS unit_id, c.period,\n"
        "    SUM(c.value * c.weight) / NULLIF(SUM(CASE WHEN c.value IS NOT NULL"
        f" THEN c.weight END), 0) AS value, {basis} AS basis\n"
        f"  FROM {name}_w c {join}\n"
        f"  GROUP BY c.element_id, {parent}, c.period\n"
        ") r WHERE r.value IS NOT NULL",
    )


def _prefer(query: _Query, name: str, first: str, second: str, where: str = "") -> None:
    """Rows of ``first``, and rows of ``second`` for keys ``first`` lacks (one GROUP BY)."""
    query.add(
        name,
        "SELECT element_id, unit_id, period,\n"
        "  CASE WHEN MIN(pick) = 0 THEN MAX(CASE WHEN pick = 0 THEN value END)"
        " ELSE MAX(value) END AS value,\n"
        "  CASE WHEN MIN(pick) = 0 THEN MAX(CASE WHEN pick = 0 THEN basis END)"
        " ELSE MAX(basis) END AS basis\n"
        "FROM (\n"
        f"  SELECT element_id, unit_id, period, value, basis, 0 AS pick FROM {first}\n"
        "  UNION ALL\n"
        f"  SELECT element_id, unit_id, period, value, basis, 1 AS pick FROM {second}{where}\n"
        ") p GROUP BY element_id, unit_id, period",
    )


def _time_rollup(query: _Query, prefix: str, raw: str) -> None:
    """``{prefix}rec``: the raw values, plus values of shorter periods rolled up into the
    longer periods asked for (``m_time``), per unit, by each element's period aggregation."""
    query.add(
        f"{prefix}timed",
        "SELECT r.element_id, r.unit_id, t.target, r.period, r.value, r.level,"
        " m_el.period_aggregation\n"
        f"FROM {raw} r JOIN m_time t ON t.element_id = r.element_id AND t.period = r.period\n"
        "JOIN m_el ON m_el.element_id = r.element_id",
    )
    query.add(
        f"{prefix}rec",
        f"SELECT element_id, unit_id, period, value, level FROM {raw}\n"
        "UNION ALL\n"
        "SELECT element_id, unit_id, target, value, level FROM (\n"
        "  SELECT x.element_id, x.unit_id, x.target, x.value, x.level, ROW_NUMBER() OVER"
        " (PARTITION BY x.element_id, x.unit_id, x.target ORDER BY x.period DESC) AS position\n"
        f"  FROM {prefix}timed x WHERE x.period_aggregation = 'last'\n"
        ") l WHERE l.position = 1\n"
        "UNION ALL\n"
        "SELECT x.element_id, x.unit_id, x.target,"
        " CASE x.period_aggregation WHEN 'sum' THEN SUM(x.value) ELSE AVG(x.value) END, x.level\n"
        f"FROM {prefix}timed x WHERE x.period_aggregation IN ('sum', 'average')\n"
        "GROUP BY x.element_id, x.unit_id, x.target, x.level, x.period_aggregation",
    )


def _chain(
    query: _Query,
    prefix: str,
    unit_set: UnitSet,
    element_ids: str,
    periods: str,
    scoped: bool,
    timed: bool = False,
) -> dict[UnitLevel, str]:
    """CTEs with the effective values per level of one unit set; returns level -> CTE name."""
    scope = " AND v.unit_id IN (SELECT id FROM m_scope)" if scoped else ""
    raw = f"{prefix}raw" if timed else f"{prefix}rec"
    query.add(
        raw,
        "SELECT v.data_element_id AS element_id, v.unit_id, v.period, v.value, u.level\n"
        "FROM data_value v JOIN administrative_unit u ON u.id = v.unit_id\n"
        f"WHERE u.unit_set = '{unit_set.value}' AND v.data_element_id IN ({element_ids})"
        f" AND v.period IN ({periods}){scope}",
    )
    if timed:
        _time_rollup(query, prefix, raw)
    names: dict[UnitLevel, str] = {}
    previous: str | None = None
    for level in LEVELS[unit_set]:
        name = f"{prefix}eff_{level.value}"
        recorded = (
            f"SELECT element_id, unit_id, period, value, {Basis.RECORDED.value} AS basis\n"
            f"FROM {prefix}rec WHERE level = '{level.value}'"
        )
        if previous is None:
            query.add(name, recorded)
        else:
            query.add(f"{prefix}rec_{level.value}", recorded)
            roll = f"{prefix}roll_{level.value}"
            _roll(
                query,
                roll,
                previous,
                "JOIN administrative_unit u ON u.id = c.unit_id AND u.parent_id IS NOT NULL",
                "u.parent_id",
                f"MAX(CASE WHEN c.basis = {Basis.REAGGREGATED.value} THEN "
                f"{Basis.REAGGREGATED.value} ELSE {Basis.AGGREGATED.value} END)",
            )
            _prefer(query, name, f"{prefix}rec_{level.value}", roll)
        names[level] = name
        previous = name
    return names


def effective_values(
    query: _Query,
    elements: Sequence[ElementSpec],
    periods: Iterable[str],
    tree: Tree,
    root_unit_id: int | None = None,
    rollups: Sequence[tuple[int, str, str]] = (),
) -> str:
    """Add CTEs ending in ``m_eff(element_id, unit_id, period, value, basis)``; return its name.

    ``rollups`` are (element id, shorter period, longer period): the element's values of the
    shorter periods make up its value for the longer one (see `time_rollups`).
    """
    _elements_cte(query, elements)
    element_ids = _ints(element.id for element in elements)
    period_list = _periods([*periods, *(part for _, part, _ in rollups)])
    timed = bool(rollups)
    if timed:
        rows = ", ".join(
            f"({int(element_id)}, '{parse_period(part).code}', '{parse_period(target).code}')"
            for element_id, part, target in sorted(set(rollups))
        )
        query.add("m_time(element_id, period, target)", f"VALUES {rows}")
    scoped = root_unit_id is not None
    if scoped:
        query.add(
            "m_scope(id)",
            f"SELECT id FROM administrative_unit WHERE id = {int(root_unit_id or 0)}\n"
            "UNION ALL\n"
            "SELECT u.id FROM administrative_unit u JOIN m_scope s ON u.parent_id = s.id",
        )
    if tree is Tree.LEGACY:
        names = _chain(query, "l_", UnitSet.LEGACY, element_ids, period_list, scoped, timed)
        query.add(
            "m_eff",
            "\nUNION ALL\n".join(
                f"SELECT element_id, unit_id, period, value, basis FROM {name}"
                for name in names.values()
            ),
        )
        return "m_eff"
    current = _chain(query, "c_", UnitSet.CURRENT, element_ids, period_list, scoped, timed)
    legacy = _chain(
        query, "l_", UnitSet.LEGACY, element_ids, period_list, scoped=False, timed=timed
    )
    commune = f"lc.level = '{UnitLevel.COMMUNE.value}'"
    query.add(
        "m_province_map(legacy_id, current_id, sources)",
        "SELECT g.legacy_id, g.current_id, COUNT(*) OVER (PARTITION BY g.current_id)\n"
        "FROM (SELECT lp.id AS legacy_id, MIN(cc.parent_id) AS current_id\n"
        "  FROM unit_succession s\n"
        "  JOIN administrative_unit lc ON lc.id = s.legacy_unit_id\n"
        "  JOIN administrative_unit ld ON ld.id = lc.parent_id\n"
        "  JOIN administrative_unit lp ON lp.id = ld.parent_id\n"
        "  JOIN administrative_unit cc ON cc.id = s.current_unit_id\n"
        f"  WHERE s.is_default = TRUE AND {commune}\n"
        "  GROUP BY lp.id) g",
    )
    # A "none" element passes through only where exactly one legacy unit became the unit.
    sources = {
        UnitLevel.COMMUNE: (
            "(SELECT COUNT(*) FROM unit_succession s2"
            " JOIN administrative_unit l2 ON l2.id = s2.legacy_unit_id"
            " WHERE s2.current_unit_id = mp.current_unit_id AND s2.is_default = TRUE"
            f" AND l2.level = '{UnitLevel.COMMUNE.value}')"
        ),
        UnitLevel.PROVINCE: "MAX(mp.sources)",
    }
    reaggregated = str(Basis.REAGGREGATED.value)
    in_scope = " WHERE unit_id IN (SELECT id FROM m_scope)" if scoped else ""
    parts = []
    # Legacy communes go to their default successor (joined straight on unit_succession, so
    # engines use its index); legacy provinces to the current province of their communes.
    mappings = {
        UnitLevel.COMMUNE: (
            "JOIN unit_succession mp ON mp.legacy_unit_id = c.unit_id AND mp.is_default = TRUE",
            "mp.current_unit_id",
        ),
        UnitLevel.PROVINCE: (
            "JOIN m_province_map mp ON mp.legacy_id = c.unit_id",
            "mp.current_id",
        ),
    }
    for level, (join, parent) in mappings.items():
        passthrough = f"CASE WHEN {sources[level]} = 1 THEN MAX(c.value) END"
        mapped = f"m_mapped_{level.value}"
        _roll(query, mapped, legacy[level], join, parent, reaggregated, passthrough)
        _prefer(query, f"m_final_{level.value}", current[level], mapped, in_scope)
        parts.append(f"SELECT element_id, unit_id, period, value, basis FROM m_final_{level.value}")
    query.add("m_eff", "\nUNION ALL\n".join(parts))
    return "m_eff"


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
) -> tuple[_Query, str] | None:
    """CTEs ending in ``m_result(period, unit_id, i<id>..., basis)`` for the units chosen.

    None when the indicators read no known element (nothing to compute).
    """
    by_code = {element.code: element for element in catalogue}
    wanted = element_periods(indicators, by_code, list(periods))
    if not wanted:
        return None
    used = [element for element in catalogue if element.id in {w[1] for w in wanted}]
    elements = with_weights(used, catalogue)
    query = _Query()
    source_periods = {w[2] for w in wanted}
    rollups = time_rollups(elements, source_periods)
    eff = effective_values(query, elements, source_periods, tree, root_unit_id, rollups)
    rows = ", ".join(
        f"('{period}', {element_id}, '{source}')" for period, element_id, source in wanted
    )
    query.add("m_want(period, element_id, source_period)", f"VALUES {rows}")
    columns = ",\n  ".join(
        f"MAX(CASE WHEN e.element_id = {element.id} THEN e.value END) AS e{element.id}"
        for element in used
    )
    query.add(
        "m_pivot",
        f"SELECT w.period, e.unit_id,\n  {columns},\n  MAX(e.basis) AS basis\n"
        f"FROM {eff} e JOIN m_want w ON w.element_id = e.element_id"
        " AND w.source_period = e.period\n"
        "GROUP BY w.period, e.unit_id",
    )
    used_codes = {element.code: element.id for element in used}

    def column(code: str) -> str:
        element_id = used_codes.get(code)
        return f"p.e{element_id}" if element_id is not None else "CAST(NULL AS DOUBLE PRECISION)"

    values = ",\n  ".join(
        f"{formulas.to_sql(indicator.formula, column)} AS i{indicator.id}"
        for indicator in indicators
    )
    query.add(
        "m_result",
        f"SELECT p.period, p.unit_id,\n  {values},\n  p.basis\nFROM m_pivot p\n"
        f"JOIN administrative_unit u ON u.id = p.unit_id\nWHERE {units.sql('u')}",
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
    if built is None:
        return []
    query, result = built
    columns = ", ".join(f"r.i{indicator.id}" for indicator in indicators)
    rows = run(query.render(f"SELECT r.period, r.unit_id, {columns}, r.basis FROM {result} r"))
    found: list[IndicatorValue] = []
    for row in rows:
        for position, indicator in enumerate(indicators):
            value = row[2 + position]
            found.append(
                IndicatorValue(
                    indicator_id=indicator.id,
                    unit_id=int(row[1]),
                    period=str(row[0]),
                    value=None if value is None else float(value),
                    basis=Basis(int(row[-1])),
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
    built = indicator_query([indicator], catalogue, [period], tree, units)
    if built is None:
        return []
    query, result = built
    order = "DESC" if indicator.direction is Direction.HIGHER_BETTER else "ASC"
    column = f"r.i{indicator.id}"
    rows = run(
        query.render(
            f"SELECT r.unit_id, {column}, RANK() OVER (ORDER BY {column} {order}), r.basis\n"
            f"FROM {result} r WHERE {column} IS NOT NULL\n"
            f"ORDER BY 3, r.unit_id"
        )
    )
    return [Ranked(int(r[0]), float(r[1]), int(r[2]), Basis(int(r[3]))) for r in rows]


# --- runners ---------------------------------------------------------------------------


def sqlalchemy_runner(connection: Session | Connection) -> Runner:
    """Run the SQL on the session's (or connection's) database, inside its transaction."""

    def run(sql: str) -> list[Row]:
        raw = connection.connection() if isinstance(connection, Session) else connection
        return [tuple(row) for row in raw.exec_driver_sql(sql).all()]

    return run


def duckdb_runner(connection: Any) -> Runner:
    """Run the SQL on a ``duckdb.DuckDBPyConnection`` holding the same three tables."""

    def run(sql: str) -> list[Row]:
        return [tuple(row) for row in connection.execute(sql).fetchall()]

    return run
