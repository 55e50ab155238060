"""Effective values in SQL: every element's value per unit and period, recorded or
aggregated up the tree, on the legacy or the current units.

A value recorded for a unit wins; otherwise the unit's value is aggregated from its
children's (see `computation/aggregation.py`). Time first, then the unit tree: values of shorter
periods are rolled up into the longer periods asked for before they go up the tree.

Boundary change (``tree="current"``): values recorded under the current units come
first. Where a current unit has none, values recorded under legacy units are
re-aggregated onto it: a legacy commune's value goes to its default successor commune
(a split commune's whole value goes to the ``is_default`` successor); a legacy
province's value (recorded, or aggregated from its districts and communes) goes to the
current province its communes went to, so Bắc Giang's districts add up into the current
Bắc Ninh province. Legacy district values reach current units only through their
province. ``basis`` says per row: 0 recorded, 1 aggregated, 2 re-aggregated from legacy,
3 recorded where legacy values for the same unit and period exist too (the recorded one
is shown; see `Basis`).

The SQL reads ``data_value(data_element_id, unit_id, period, value)``,
``administrative_unit(id, unit_set, level, parent_id)`` and
``unit_succession(legacy_unit_id, current_unit_id, is_default)``.
"""

# This module builds SQL text by design; only integers, parsed period codes and enum values
# are interpolated (see `computation/aggregation.py`).
# ruff: noqa: S608

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from tinhso.monitoring.computation.aggregation import (
    CteQuery,
    ElementSpec,
    elements_cte,
    prefer,
    roll_over_time,
    roll_up,
    sql_ints,
    sql_periods,
)
from tinhso.monitoring.models import Aggregation, PeriodAggregation, PeriodType
from tinhso.monitoring.periods import parse_period
from tinhso.registry.models import UnitLevel, UnitSet

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
    # Recorded under the current unit, where values recorded under the legacy units for
    # the same period re-aggregate onto it too: the recorded value is shown (it is the
    # unit's own figure, reported after the change), and the basis says the legacy
    # values exist and were not used, so the choice is never silent.
    RECORDED_OVER_LEGACY = 3


def _additive(element: ElementSpec) -> bool:
    """Summed up the tree and over time: the two sums can be taken in either order."""
    return (
        Aggregation(element.aggregation) is Aggregation.SUM
        and PeriodAggregation(element.period_aggregation) is PeriodAggregation.SUM
    )


def _chain(
    query: CteQuery,
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
    first_raw = ""
    for position, level in enumerate(LEVELS[unit_set]):
        rec = f"{prefix}rec_{level.value}"
        raw = f"{prefix}raw_{level.value}" if timed else rec
        query.add(raw, _recorded_scan(unit_set, level, element_ids, periods, scope))
        name = f"{prefix}eff_{level.value}"
        skip = position == 0 and not lowest and not others
        if timed and not skip:
            roll_over_time(query, rec, raw, period_aggregations)
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
        if position == 1 and additive:
            _roll_additive_first(query, roll, str(previous), first_raw, additive, others)
        else:
            roll_up(
                query,
                roll,
                str(previous),
                _PARENT_JOIN,
                "u.parent_id",
                str(Basis.AGGREGATED.value),
                elements,
            )
        prefer(query, name, f"{prefix}own_{level.value}", roll)
        names[level] = name
        previous = name
    return names


_PARENT_JOIN = "JOIN administrative_unit u ON u.id = c.unit_id AND u.parent_id IS NOT NULL"


def _recorded_scan(
    unit_set: UnitSet, level: UnitLevel, element_ids: str, periods: str, scope: str
) -> str:
    """The values recorded for the units of one level of a unit set."""
    return (
        "SELECT v.data_element_id AS element_id, v.unit_id, v.period, v.value, u.level\n"
        "FROM data_value v JOIN administrative_unit u ON u.id = v.unit_id\n"
        f"WHERE u.unit_set = '{unit_set.value}' AND u.level = '{level.value}'"
        f" AND v.data_element_id IN ({element_ids}) AND v.period IN ({periods}){scope}"
    )


def _roll_additive_first(
    query: CteQuery,
    roll: str,
    previous: str,
    first_raw: str,
    additive: Sequence[ElementSpec],
    others: Sequence[ElementSpec],
) -> None:
    """The second level's roll when some elements are summed both up the tree and over
    time: their lowest-level values of the shorter periods are summed onto the parents
    first, then over time; the ``others`` roll up from the lowest level's effective values."""
    aggregated = str(Basis.AGGREGATED.value)
    parts = []
    if others:
        roll_up(
            query,
            f"{roll}_o",
            previous,
            _PARENT_JOIN,
            "u.parent_id",
            aggregated,
            others,
            exact=False,
        )
        parts.append(f"SELECT element_id, unit_id, period, value, basis FROM {roll}_o")
    only = f" AND c.element_id IN ({sql_ints(e.id for e in additive)})" if others else ""
    query.add(
        f"{roll}_p",
        f"SELECT c.element_id, u.parent_id AS unit_id, c.period, SUM(c.value) AS value\n"
        f"FROM {first_raw} c {_PARENT_JOIN}{only}\n"
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


def effective_values(
    query: CteQuery,
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
    elements_cte(query, elements)
    element_ids = sql_ints(element.id for element in elements)
    period_list = sql_periods([*periods, *(part for _, part, _ in rollups)])
    timed = bool(rollups)
    if timed:
        _time_parts(query, elements, rollups)
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
    _succession_maps(query)
    finals = _reaggregate_legacy(query, current, legacy, elements, levels, scoped)
    query.add("m_eff", _union_of(finals, levels))
    return "m_eff"


def _time_parts(
    query: CteQuery, elements: Sequence[ElementSpec], rollups: Sequence[tuple[int, str, str]]
) -> None:
    """``m_time(element_id, period, target)``: which shorter periods make up which longer.

    (element, shorter period, longer period) is the same for every element of one period
    type: listed once per type and joined to the elements (a list per element would be
    ~50,000 rows of SQL text for 200 monthly elements over ten years)."""
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


_COMMUNE = f"lc.level = '{UnitLevel.COMMUNE.value}'"


def _succession_maps(query: CteQuery) -> None:
    """Where legacy units went: ``m_province_map`` (legacy province -> the current province
    of its communes, with how many legacy provinces went there) and ``m_commune_sources``
    (how many legacy communes went to each current commune)."""
    query.add(
        "m_province_map(legacy_id, current_id, sources)",
        "SELECT g.legacy_id, g.current_id, COUNT(*) OVER (PARTITION BY g.current_id)\n"
        "FROM (SELECT lp.id AS legacy_id, MIN(cc.parent_id) AS current_id\n"
        "  FROM unit_succession s\n"
        "  JOIN administrative_unit lc ON lc.id = s.legacy_unit_id\n"
        "  JOIN administrative_unit ld ON ld.id = lc.parent_id\n"
        "  JOIN administrative_unit lp ON lp.id = ld.parent_id\n"
        "  JOIN administrative_unit cc ON cc.id = s.current_unit_id\n"
        f"  WHERE s.is_default = TRUE AND {_COMMUNE}\n"
        "  GROUP BY lp.id) g",
    )
    # A "none" element passes through only where exactly one legacy unit became the unit
    # (counted once per current commune here, not in a correlated subquery).
    query.add(
        "m_commune_sources(current_id, sources)",
        "SELECT s.current_unit_id, COUNT(*) FROM unit_succession s\n"
        "JOIN administrative_unit lc ON lc.id = s.legacy_unit_id\n"
        f"WHERE s.is_default = TRUE AND {_COMMUNE}\n"
        "GROUP BY s.current_unit_id",
    )


# Per level of the current units: how a "none" element's single source passes through.
_SOURCES = {
    UnitLevel.COMMUNE: (
        "CASE WHEN MAX(cs.sources) = 1 THEN MAX(c.value) END",
        "LEFT JOIN m_commune_sources cs ON cs.current_id = mp.current_unit_id",
    ),
    UnitLevel.PROVINCE: ("CASE WHEN MAX(mp.sources) = 1 THEN MAX(c.value) END", ""),
}
# Legacy communes go to their default successor (joined straight on unit_succession, so
# engines use its index); legacy provinces to the current province of their communes.
_MAPPINGS = {
    UnitLevel.COMMUNE: (
        "JOIN unit_succession mp ON mp.legacy_unit_id = c.unit_id AND mp.is_default = TRUE",
        "mp.current_unit_id",
    ),
    UnitLevel.PROVINCE: (
        "JOIN m_province_map mp ON mp.legacy_id = c.unit_id",
        "mp.current_id",
    ),
}


def _reaggregate_legacy(
    query: CteQuery,
    current: dict[UnitLevel, str],
    legacy: dict[UnitLevel, str],
    elements: Sequence[ElementSpec],
    levels: frozenset[UnitLevel] | None,
    scoped: bool,
) -> dict[UnitLevel, str]:
    """Per wanted level of the current units, the legacy values re-aggregated onto them,
    under the values recorded there; returns level -> CTE name."""
    reaggregated = str(Basis.REAGGREGATED.value)
    finals: dict[UnitLevel, str] = {}
    for level, (join, parent) in _MAPPINGS.items():
        if levels is not None and level not in levels:
            continue
        mapped = f"m_mapped_{level.value}"
        roll_up(query, mapped, legacy[level], join, parent, reaggregated, elements, _SOURCES[level])
        prefer(
            query,
            f"m_final_{level.value}",
            current[level],
            mapped,
            scoped,
            shadowing=(Basis.RECORDED.value, Basis.RECORDED_OVER_LEGACY.value),
        )
        finals[level] = f"m_final_{level.value}"
    return finals


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
