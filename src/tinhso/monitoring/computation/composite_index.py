"""The composite index (DTI-style) in SQL: each component scores its indicator (ratio x
max points, or threshold bands), groups and pillars add their children's points by
weight, and the total is normalised as the methodology says. Built on the indicator
query of `computation/indicators.py`, so it runs on SQLite, PostgreSQL and DuckDB alike.
"""

# Builds SQL text from numbers and ids only (see `computation/indicators.py`).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation.aggregation import ElementSpec
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.computation.indicators import (
    IndicatorSpec,
    Runner,
    UnitFilter,
    indicator_query,
)
from tinhso.monitoring.models import Direction, Normalisation, Scoring
from tinhso.registry.models import UnitLevel

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class ComponentSpec:
    id: int
    parent_id: int | None
    code: str
    max_points: float
    weight: float
    scoring: Scoring
    indicator_id: int | None = None
    reference_value: float | None = None
    thresholds: tuple[tuple[str, float, float], ...] = ()  # ("min"|"max", bound, points)


@dataclass(frozen=True)
class MethodologySpec:
    id: int
    max_points: float
    normalisation: Normalisation
    unit_level: UnitLevel
    components: tuple[ComponentSpec, ...]


@dataclass(frozen=True)
class IndexScore:
    unit_id: int
    total: float
    normalised: float | None
    rank: int
    pillars: dict[int, float]  # top-level component id -> points
    components_with_data: int


def _score_sql(component: ComponentSpec, x: str, direction: Direction) -> str:
    points = formulas.sql_number(component.max_points)
    if component.scoring is Scoring.RATIO:
        reference = formulas.sql_number(component.reference_value or 100.0)
        if direction is Direction.LOWER_BETTER:
            share = (
                f"CASE WHEN {x} IS NULL OR {x} < 0 THEN 0.0 WHEN {x} <= {reference} THEN 1.0 "
                f"ELSE {reference} / {x} END"
            )
        else:
            share = (
                f"CASE WHEN {x} IS NULL OR {x} <= 0 THEN 0.0 WHEN {x} >= {reference} THEN 1.0 "
                f"ELSE {x} / {reference} END"
            )
        return f"({points} * ({share}))"
    bands = []
    lows = sorted((b for b in component.thresholds if b[0] == "min"), key=lambda b: -b[1])
    highs = sorted((b for b in component.thresholds if b[0] == "max"), key=lambda b: b[1])
    for _, bound, band_points in lows:
        capped = min(band_points, component.max_points)
        bands.append(f"WHEN {x} >= {formulas.sql_number(bound)} THEN {formulas.sql_number(capped)}")
    for _, bound, band_points in highs:
        capped = min(band_points, component.max_points)
        bands.append(f"WHEN {x} <= {formulas.sql_number(bound)} THEN {formulas.sql_number(capped)}")
    if not bands:
        return "0.0"
    return f"(CASE WHEN {x} IS NULL THEN 0.0 {' '.join(bands)} ELSE 0.0 END)"


def composite_index(
    run: Runner,
    methodology: MethodologySpec,
    indicators: Sequence[IndicatorSpec],
    catalogue: Sequence[ElementSpec],
    period: str,
    tree: Tree,
    parent_id: int | None = None,
) -> list[IndexScore]:
    """The index per unit of the methodology's level, with pillar (top-level) points.

    Leaf components score their indicator (no data: 0 points); a group is the weighted
    sum of its children; the total is the weighted sum of the top-level components
    (pillars). Units with no data for any component are left out.
    """
    by_indicator = {indicator.id: indicator for indicator in indicators}
    leaves = [
        c
        for c in methodology.components
        if c.indicator_id is not None and c.indicator_id in by_indicator
    ]
    if not leaves:
        return []
    used = [by_indicator[i] for i in sorted({c.indicator_id for c in leaves if c.indicator_id})]
    units = UnitFilter(level=methodology.unit_level, parent_id=parent_id)
    built = indicator_query(used, catalogue, [period], tree, units)
    if built is None:
        return []
    query, result = built
    children: dict[int | None, list[ComponentSpec]] = {}
    for component in methodology.components:
        children.setdefault(component.parent_id, []).append(component)
    pillars = children.get(None, [])
    pillar_columns = _pillar_columns(methodology, children, by_indicator)
    has_data = " + ".join(f"(CASE WHEN r.i{i.id} IS NULL THEN 0 ELSE 1 END)" for i in used)
    query.add(
        "m_index_pillars",
        f"SELECT r.unit_id, {', '.join(pillar_columns) or '0.0 AS p0'}, {has_data} AS covered\n"
        f"FROM {result} r",
    )
    total = " + ".join(f"{formulas.sql_number(p.weight)} * x.p{p.id}" for p in pillars) or "0.0"
    query.add(
        "m_index",
        f"SELECT x.*, {total} AS total FROM m_index_pillars x WHERE x.covered > 0",
    )
    normalised = _normalised_sql(methodology)
    pillar_select = ", ".join(f"n.p{p.id}" for p in pillars) or "0.0"
    rows = run(
        query.render(
            f"SELECT n.unit_id, n.total, {normalised}, RANK() OVER (ORDER BY n.total DESC),"
            f" n.covered, {pillar_select}\nFROM m_index n ORDER BY 4, n.unit_id"
        )
    )
    return [
        IndexScore(
            unit_id=int(row[0]),
            total=float(row[1]),
            normalised=None if row[2] is None else float(row[2]),
            rank=int(row[3]),
            components_with_data=int(row[4]),
            pillars={p.id: float(row[5 + n]) for n, p in enumerate(pillars)},
        )
        for row in rows
    ]


def _pillar_columns(
    methodology: MethodologySpec,
    children: dict[int | None, list[ComponentSpec]],
    by_indicator: dict[int, IndicatorSpec],
) -> list[str]:
    """One ``<points> AS p<id>`` column per pillar: leaves score their indicator, groups
    are the weighted sums of their children; MODELLED scales a pillar to the points its
    modelled components can reach."""

    def node_sql(component: ComponentSpec) -> str:
        if component.indicator_id is not None and component.indicator_id in by_indicator:
            indicator = by_indicator[component.indicator_id]
            return _score_sql(component, f"r.i{indicator.id}", indicator.direction)
        parts = [
            f"{formulas.sql_number(child.weight)} * {node_sql(child)}"
            for child in children.get(component.id, [])
        ]
        return f"({' + '.join(parts)})" if parts else "0.0"

    def modelled_max(component: ComponentSpec) -> float:
        if component.indicator_id is not None:
            return component.max_points if component.indicator_id in by_indicator else 0.0
        return sum(child.weight * modelled_max(child) for child in children.get(component.id, []))

    pillar_columns = []
    for pillar in children.get(None, []):
        raw = node_sql(pillar)
        if methodology.normalisation is Normalisation.MODELLED:
            covered = modelled_max(pillar)
            raw = (
                f"({raw} / {formulas.sql_number(covered)} * {formulas.sql_number(pillar.max_points)})"
                if covered > 0
                else "0.0"
            )
        pillar_columns.append(f"{raw} AS p{pillar.id}")
    return pillar_columns


def _normalised_sql(methodology: MethodologySpec) -> str:
    """The normalised total of a row ``n`` of ``m_index``, as the methodology says."""
    if methodology.normalisation is Normalisation.PERCENT:
        return f"n.total / {formulas.sql_number(methodology.max_points)} * 100.0"
    if methodology.normalisation is Normalisation.MIN_MAX:
        return (
            "CASE WHEN MAX(n.total) OVER () = MIN(n.total) OVER () THEN 100.0 ELSE "
            "(n.total - MIN(n.total) OVER ()) / (MAX(n.total) OVER () - MIN(n.total) OVER ())"
            " * 100.0 END"
        )
    if methodology.normalisation is Normalisation.MODELLED:
        return f"n.total / {formulas.sql_number(methodology.max_points)} * 100.0"
    return "n.total"
