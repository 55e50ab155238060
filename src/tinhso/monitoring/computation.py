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


_AGGREGATES: dict[Aggregation, str] = {
    Aggregation.SUM: "SUM",
    Aggregation.AVERAGE: "AVG",
    Aggregation.MIN: "MIN",
    Aggregation.MAX: "MAX",
}


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
        f" AS INTEGER), '{PeriodAggregation(element.period_aggregation).value}',"
        f" '{PeriodType(element.period_type).value}')"
        for element in elements
    )
    query.add(
        "m_el(element_id, aggregation, weight_id, period_aggregation, period_type)",
        f"VALUES {rows}",
    )


def _ids_by_aggregation(elements: Sequence[ElementSpec]) -> dict[Aggregation, list[int]]:
    found: dict[Aggregation, list[int]] = {}
    for element in elements:
        found.setdefault(Aggregation(element.aggregation), []).append(element.id)
    return found


def _roll(
    query: _Query,
    name: str,
    source: str,
    join: str,
    parent: str,
    basis: str,
    elements: Sequence[ElementSpec],
    passthrough: tuple[str, str] | None = None,
    exact: bool = True,
) -> None:
    """Aggregate ``source`` rows (alias ``c``) onto ``parent`` units (the join gives them).

    One GROUP BY per aggregation the elements use (each over its elements only; no CASE
    over aggregates, which engines compute in full for every group), all hash
    aggregations and equi-joins. A weighted average first puts each child's value and
    weight side by side with a GROUP BY (no self-join). ``passthrough`` (expression, extra
    join) gives elements that do not aggregate (``none``) a value; without it they get none.
    ``exact``: ``source`` holds only these elements (else each branch names its elements).
    """
    groups = _ids_by_aggregation(elements)
    alone = len(groups) == 1 and exact

    def only(ids: list[int]) -> str:
        return "" if alone else f" WHERE c.element_id IN ({_ints(ids)})"

    parts = []
    for aggregation, function in _AGGREGATES.items():
        if aggregation in groups:
            parts.append(
                f"  SELECT c.element_id, {parent} AS unit_id, c.period,"
                f" {function}(c.value) AS value, {basis} AS basis\n"
                f"  FROM {source} c {join}{only(groups[aggregation])}\n"
                f"  GROUP BY c.element_id, {parent}, c.period"
            )
    if passthrough is not None and Aggregation.NONE in groups:
        value, extra = passthrough
        parts.append(
            f"  SELECT c.element_id, {parent} AS unit_id, c.period, {value} AS value,"
            f" {basis} AS basis\n"
            f"  FROM {source} c {join} {extra}{only(groups[Aggregation.NONE])}\n"
            f"  GROUP BY c.element_id, {parent}, c.period"
        )
    if Aggregation.WEIGHTED_AVERAGE in groups:
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
        parts.append(
            f"  SELECT c.element_id, {parent} AS unit_id, c.period,\n"
            "    SUM(c.value * c.weight) / NULLIF(SUM(CASE WHEN c.value IS NOT NULL"
            f" THEN c.weight END), 0) AS value, {basis} AS basis\n"
            f"  FROM {name}_w c {join}\n"
            f"  GROUP BY c.element_id, {parent}, c.period"
        )
    if not parts:  # nothing aggregates (only "none" elements): no rows
        parts.append(
            "  SELECT c.element_id, c.unit_id, c.period, c.value, 0 AS basis"
            f" FROM {source} c WHERE 1 = 0"
        )
    query.add(
        name,
        "SELECT r.element_id, r.unit_id, r.period, r.value, r.basis FROM (\n"
        + "\n  UNION ALL\n".join(parts)
        + "\n) r WHERE r.value IS NOT NULL",
    )


def _prefer(query: _Query, name: str, first: str, second: str, scoped: bool = False) -> None:
    """Rows of ``first``, and rows of ``second`` for keys ``first`` lacks (an anti-join).

    Keys are unique in each: values are unique per (element, unit, period), a value is
    recorded only at its element's period type, and rolls are grouped by the key.
    ``scoped`` keeps ``second``'s rows to the units of ``m_scope``.
    """
    scope = " AND s.unit_id IN (SELECT id FROM m_scope)" if scoped else ""
    query.add(
        name,
        f"SELECT element_id, unit_id, period, value, basis FROM {first}\n"
        "UNION ALL\n"
        f"SELECT s.element_id, s.unit_id, s.period, s.value, s.basis FROM {second} s\n"
        f"LEFT JOIN {first} f ON f.element_id = s.element_id AND f.unit_id = s.unit_id"
        " AND f.period = s.period\n"
        f"WHERE f.element_id IS NULL{scope}",
    )


def _time_rollup(query: _Query, name: str, raw: str, present: frozenset[PeriodAggregation]) -> None:
    """``name``: the raw values, plus values of shorter periods rolled up into the
    longer periods asked for (``m_time``), per unit, by each element's period aggregation.
    Only the branches some element's period aggregation needs are written."""
    query.add(
        f"{name}_timed",
        "SELECT r.element_id, r.unit_id, t.target, r.period, r.value, r.level,"
        " m_el.period_aggregation\n"
        f"FROM {raw} r JOIN m_time t ON t.element_id = r.element_id AND t.period = r.period\n"
        "JOIN m_el ON m_el.element_id = r.element_id",
    )
    parts = [f"SELECT element_id, unit_id, period, value, level FROM {raw}"]
    if PeriodAggregation.LAST in present:
        parts.append(
            "SELECT element_id, unit_id, target, value, level FROM (\n"
            "  SELECT x.element_id, x.unit_id, x.target, x.value, x.level, ROW_NUMBER() OVER"
            " (PARTITION BY x.element_id, x.unit_id, x.target ORDER BY x.period DESC)"
            " AS position\n"
            f"  FROM {name}_timed x WHERE x.period_aggregation = 'last'\n"
            ") l WHERE l.position = 1"
        )
    rolled = present & {PeriodAggregation.SUM, PeriodAggregation.AVERAGE}
    if rolled:
        if len(rolled) == 1:
            value = "SUM(x.value)" if PeriodAggregation.SUM in rolled else "AVG(x.value)"
        else:
            value = "CASE x.period_aggregation WHEN 'sum' THEN SUM(x.value) ELSE AVG(x.value) END"
        kept = ", ".join(f"'{a.value}'" for a in sorted(rolled))
        parts.append(
            f"SELECT x.element_id, x.unit_id, x.target, {value}, x.level\n"
            f"FROM {name}_timed x WHERE x.period_aggregation IN ({kept})\n"
            "GROUP BY x.element_id, x.unit_id, x.target, x.level, x.period_aggregation"
        )
    query.add(name, "\nUNION ALL\n".join(parts))


def _additive(element: ElementSpec) -> bool:
    """Summed up the tree and over time: the two sums can be taken in either order."""
    return (
        Aggregation(element.aggregation) is Aggregation.SUM
        and PeriodAggregation(element.period_aggregation) is PeriodAggregation.SUM
    )


def _chain(
    query: _Query,
    prefix: str,
    unit_set: UnitSet,
    element_ids: str,
    periods: str,
    scoped: bool,
    elements: Sequence[ElementSpec],
    timed: bool = False,
    lowest: bool = True,
) -> dict[UnitLevel, str]:
    """CTEs with the effective values per level of one unit set; returns level -> CTE name.

    Each level reads its own recorded values (one scan per level, filtered by the unit
    table). Rows of a chain are never re-aggregated from legacy units, so a roll's basis
    is simply "aggregated". ``lowest``: whether the lowest level's own effective values
    are wanted (otherwise they are only aggregated from, and may be left out).

    Time before the tree, without a pass over every commune value per longer period: for
    an element summed both up the tree and over time (the usual count), the lowest level's
    values of the shorter periods are first summed onto their parents, and those sums are
    summed over time: the same numbers (a sum of sums), on a small fraction of the rows.
    Other elements are rolled up in time per lowest-level unit first, as the rule says.
    """
    scope = " AND v.unit_id IN (SELECT id FROM m_scope)" if scoped else ""
    period_aggregations = frozenset(PeriodAggregation(e.period_aggregation) for e in elements)
    additive = [e for e in elements if _additive(e)] if timed else []
    others = [e for e in elements if not (timed and _additive(e))]
    names: dict[UnitLevel, str] = {}
    previous: str | None = None
    parent_join = "JOIN administrative_unit u ON u.id = c.unit_id AND u.parent_id IS NOT NULL"
    first_raw = ""
    for position, level in enumerate(LEVELS[unit_set]):
        rec = f"{prefix}rec_{level.value}"
        raw = f"{prefix}raw_{level.value}" if timed else rec
        query.add(
            raw,
            "SELECT v.data_element_id AS element_id, v.unit_id, v.period, v.value, u.level\n"
            "FROM data_value v JOIN administrative_unit u ON u.id = v.unit_id\n"
            f"WHERE u.unit_set = '{unit_set.value}' AND u.level = '{level.value}'"
            f" AND v.data_element_id IN ({element_ids}) AND v.period IN ({periods}){scope}",
        )
        name = f"{prefix}eff_{level.value}"
        skip = position == 0 and not lowest and not others
        if timed and not skip:
            _time_rollup(query, rec, raw, period_aggregations)
        recorded = (
            f"SELECT element_id, unit_id, period, value, {Basis.RECORDED.value} AS basis FROM {rec}"
        )
        if position == 0:
            first_raw = raw
            if not skip:
                query.add(name, recorded)
                names[level] = name
            previous = name
            continue
        query.add(f"{prefix}own_{level.value}", recorded)
        roll = f"{prefix}roll_{level.value}"
        aggregated = str(Basis.AGGREGATED.value)
        if position == 1 and additive:
            parts = []
            if others:
                _roll(
                    query,
                    f"{roll}_o",
                    str(previous),
                    parent_join,
                    "u.parent_id",
                    aggregated,
                    others,
                    exact=False,
                )
                parts.append(f"SELECT element_id, unit_id, period, value, basis FROM {roll}_o")
            only = f" AND c.element_id IN ({_ints(e.id for e in additive)})" if others else ""
            query.add(
                f"{roll}_p",
                f"SELECT c.element_id, u.parent_id AS unit_id, c.period, SUM(c.value) AS value\n"
                f"FROM {first_raw} c {parent_join}{only}\n"
                "GROUP BY c.element_id, u.parent_id, c.period",
            )
            parts.append(
                f"SELECT element_id, unit_id, period, value, {aggregated} AS basis FROM {roll}_p"
                " WHERE value IS NOT NULL"
            )
            parts.append(
                f"SELECT r.element_id, r.unit_id, t.target, SUM(r.value), {aggregated}\n"
                f"FROM {roll}_p r JOIN m_time t ON t.element_id = r.element_id"
                " AND t.period = r.period\n"
                "WHERE r.value IS NOT NULL\n"
                "GROUP BY r.element_id, r.unit_id, t.target"
            )
            query.add(roll, "\nUNION ALL\n".join(parts))
        else:
            _roll(query, roll, str(previous), parent_join, "u.parent_id", aggregated, elements)
        _prefer(query, name, f"{prefix}own_{level.value}", roll)
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
    levels: frozenset[UnitLevel] | None = None,
) -> str:
    """Add CTEs ending in ``m_eff(element_id, unit_id, period, value, basis)``; return its name.

    ``rollups`` are (element id, shorter period, longer period): the element's values of the
    shorter periods make up its value for the longer one (see `time_rollups`). ``levels``
    (None: all) are the levels whose rows ``m_eff`` must hold: lower levels are still
    computed to aggregate from, but never carried further (at national scale the communes'
    rows are most of the data).
    """
    _elements_cte(query, elements)
    element_ids = _ints(element.id for element in elements)
    period_list = _periods([*periods, *(part for _, part, _ in rollups)])
    timed = bool(rollups)
    if timed:
        # (element, shorter period, longer period) is the same for every element of one period
        # type: listed once per type and joined to the elements (a list per element would
        # be ~50,000 rows of SQL text for 200 monthly elements over ten years).
        by_id = {element.id: element for element in elements}
        rows = ", ".join(
            f"('{PeriodType(period_type).value}', '{parse_period(part).code}',"
            f" '{parse_period(target).code}')"
            for period_type, part, target in sorted(
                {(by_id[e].period_type, part, target) for e, part, target in rollups}
            )
        )
        query.add("m_parts(period_type, period, target)", f"VALUES {rows}")
        query.add(
            "m_time(element_id, period, target)",
            "SELECT m_el.element_id, p.period, p.target FROM m_parts p\n"
            "JOIN m_el ON m_el.period_type = p.period_type\n"
            f"WHERE m_el.period_aggregation <> '{PeriodAggregation.NONE.value}'",
        )
    scoped = root_unit_id is not None
    if scoped:
        query.add(
            "m_scope(id)",
            f"SELECT id FROM administrative_unit WHERE id = {int(root_unit_id or 0)}\n"
            "UNION ALL\n"
            "SELECT u.id FROM administrative_unit u JOIN m_scope s ON u.parent_id = s.id",
        )
    if tree is Tree.LEGACY:
        lowest = levels is None or UnitLevel.COMMUNE in levels
        names = _chain(
            query, "l_", UnitSet.LEGACY, element_ids, period_list, scoped, elements, timed, lowest
        )
        query.add("m_eff", _union_of(names, levels))
        return "m_eff"
    lowest = levels is None or UnitLevel.COMMUNE in levels
    current = _chain(
        query, "c_", UnitSet.CURRENT, element_ids, period_list, scoped, elements, timed, lowest
    )
    legacy = _chain(
        query,
        "l_",
        UnitSet.LEGACY,
        element_ids,
        period_list,
        scoped=False,
        elements=elements,
        timed=timed,
        lowest=lowest,
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
    # A "none" element passes through only where exactly one legacy unit became the unit
    # (counted once per current commune here, not in a correlated subquery).
    query.add(
        "m_commune_sources(current_id, sources)",
        "SELECT s.current_unit_id, COUNT(*) FROM unit_succession s\n"
        "JOIN administrative_unit lc ON lc.id = s.legacy_unit_id\n"
        f"WHERE s.is_default = TRUE AND {commune}\n"
        "GROUP BY s.current_unit_id",
    )
    sources = {
        UnitLevel.COMMUNE: (
            "CASE WHEN MAX(cs.sources) = 1 THEN MAX(c.value) END",
            "LEFT JOIN m_commune_sources cs ON cs.current_id = mp.current_unit_id",
        ),
        UnitLevel.PROVINCE: ("CASE WHEN MAX(mp.sources) = 1 THEN MAX(c.value) END", ""),
    }
    reaggregated = str(Basis.REAGGREGATED.value)
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
    finals: dict[UnitLevel, str] = {}
    for level, (join, parent) in mappings.items():
        if levels is not None and level not in levels:
            continue
        mapped = f"m_mapped_{level.value}"
        _roll(query, mapped, legacy[level], join, parent, reaggregated, elements, sources[level])
        _prefer(query, f"m_final_{level.value}", current[level], mapped, scoped)
        finals[level] = f"m_final_{level.value}"
    query.add("m_eff", _union_of(finals, levels))
    return "m_eff"


def _union_of(names: dict[UnitLevel, str], levels: frozenset[UnitLevel] | None) -> str:
    """The rows of the levels' CTEs (those wanted), or no rows if none is wanted."""
    parts = [
        f"SELECT element_id, unit_id, period, value, basis FROM {name}"
        for level, name in names.items()
        if levels is None or level in levels
    ]
    if not parts:
        first = next(iter(names.values()))
        parts.append(f"SELECT element_id, unit_id, period, value, basis FROM {first} WHERE 1 = 0")
    return "\nUNION ALL\n".join(parts)


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
    levels = frozenset({UnitLevel(units.level)}) if units.level is not None else None
    eff = effective_values(query, elements, source_periods, tree, root_unit_id, rollups, levels)
    columns = ",\n  ".join(
        f"MAX(CASE WHEN e.element_id = {element.id} THEN e.value END) AS e{element.id}"
        for element in used
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
            f"WHERE e.period IN ({_periods(w[0] for w in wanted)})"
            f" AND e.element_id IN ({_ints(w[1] for w in wanted)})\n"
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

    values = ",\n  ".join(
        f"{formulas.to_sql(indicator.formula, column)} AS i{indicator.id}"
        for indicator in indicators
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
