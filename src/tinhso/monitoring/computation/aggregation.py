"""Aggregation in SQL: the building blocks that roll data-element values up the unit tree
and over time, as common table expressions (CTEs).

Per element, unit and period, a unit's value is the element's aggregation (sum, average,
weighted average by another element, min, max) over its children's values (recorded or
themselves aggregated). ``none`` never aggregates. Missing children are simply absent:
a sum over the communes that reported. Over time, an element of a shorter period type
(monthly dossiers for a yearly rate) is rolled up into the longer period per unit by its
``period_aggregation`` (sum, average, or the last period reported).

Element metadata (aggregation, weight element) is inlined as a VALUES list, so the
``data_element`` table is not needed. Only integers, validated period codes and enum
values are ever inlined: nothing user-typed reaches the SQL text.
`computation/effective_values.py` chains these blocks into the effective values of every level.
"""

# This module builds SQL text by design; only integers, parsed period codes and enum values
# are interpolated (see the module docstring).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tinhso.monitoring.models import Aggregation, PeriodAggregation, PeriodType
from tinhso.monitoring.periods import parse_period


@dataclass(frozen=True)
class ElementSpec:
    id: int
    code: str
    aggregation: Aggregation
    period_type: PeriodType
    weight_element_id: int | None = None
    period_aggregation: PeriodAggregation = PeriodAggregation.NONE


@dataclass
class CteQuery:
    """CTEs (name, body) and the SELECT that ends them (`render`)."""

    ctes: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, body: str) -> None:
        self.ctes.append((name, body))

    def render(self, select: str) -> str:
        if not self.ctes:
            return select
        parts = ",\n".join(f"{name} AS (\n{body}\n)" for name, body in self.ctes)
        return f"WITH RECURSIVE {parts}\n{select}"


def sql_ints(values: Iterable[int]) -> str:
    return ", ".join(str(int(value)) for value in sorted(set(values)))


def sql_periods(values: Iterable[str]) -> str:
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


def elements_cte(query: CteQuery, elements: Sequence[ElementSpec]) -> None:
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


def roll_up(
    query: CteQuery,
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
        return "" if alone else f" WHERE c.element_id IN ({sql_ints(ids)})"

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


def prefer(
    query: CteQuery,
    name: str,
    first: str,
    second: str,
    scoped: bool = False,
    shadowing: tuple[int, int] | None = None,
) -> None:
    """Rows of ``first``, and rows of ``second`` for keys ``first`` lacks (an anti-join).

    Keys are unique in each: values are unique per (element, unit, period), a value is
    recorded only at its element's period type, and rolls are grouped by the key.
    ``scoped`` keeps ``second``'s rows to the units of ``m_scope``. ``shadowing`` is
    (basis, marked basis): a row of ``first`` of that basis for which ``second`` has a row
    too is given the marked basis, so the choice between the two is never silent.
    """
    scope = " AND s.unit_id IN (SELECT id FROM m_scope)" if scoped else ""
    if shadowing is None:
        firsts = f"SELECT element_id, unit_id, period, value, basis FROM {first}"
    else:
        basis, marked = shadowing
        firsts = (
            "SELECT f.element_id, f.unit_id, f.period, f.value,"
            f" CASE WHEN f.basis = {int(basis)} AND s.element_id IS NOT NULL"
            f" THEN {int(marked)} ELSE f.basis END AS basis\n"
            f"FROM {first} f LEFT JOIN {second} s ON s.element_id = f.element_id"
            " AND s.unit_id = f.unit_id AND s.period = f.period"
        )
    query.add(
        name,
        f"{firsts}\n"
        "UNION ALL\n"
        f"SELECT s.element_id, s.unit_id, s.period, s.value, s.basis FROM {second} s\n"
        f"LEFT JOIN {first} f ON f.element_id = s.element_id AND f.unit_id = s.unit_id"
        " AND f.period = s.period\n"
        f"WHERE f.element_id IS NULL{scope}",
    )


def roll_over_time(
    query: CteQuery, name: str, raw: str, present: frozenset[PeriodAggregation]
) -> None:
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
