"""The restructured computation SQL against a plain Python evaluation of the same rules.

A small legacy tree (Việt Yên's communes and two Bắc Giang city wards, their districts and
the province) with monthly, quarterly and yearly elements summed, averaged, weighted or
taken as the latest value; gaps, zeros and a district's own value. Every indicator for
every unit and period is computed by `computation.indicator_values` (on SQLite or
PostgreSQL) and by `analytics.materialise_indicator_values` (on a DuckDB copy), and both
must give exactly the numbers of a direct Python evaluation of the rules and formulas
(`formula.evaluate`), including NULL for missing data and zero denominators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.monitoring.support import (
    BAC_GIANG_CITY_WARDS,
    VIET_YEN_COMMUNES,
    element,
    indicator,
    values,
)
from tinhso.monitoring import repository
from tinhso.monitoring.computation import analytics
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation import indicators as computation
from tinhso.monitoring.computation.aggregation import ElementSpec
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.computation.indicators import IndicatorSpec, UnitFilter
from tinhso.monitoring.computation.specs import element_specs, indicator_spec
from tinhso.monitoring.models import Aggregation, PeriodAggregation
from tinhso.monitoring.periods import Period, parse_period
from tinhso.registry.models import UnitLevel, UnitSet

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

A, B, C = VIET_YEN_COMMUNES
W1, W2 = BAC_GIANG_CITY_WARDS
PERIODS = ["2024-01", "2024-02", "2024-03", "2024-05", "2024-Q1", "2024-Q2", "2024-Q3", "2024"]
Key = tuple[int, int, str]  # indicator id, unit id, period


def _catalogue(session: Session) -> None:
    element(session, "population", value_type="integer")  # yearly, summed
    element(
        session, "received", value_type="integer", period_type="month", period_aggregation="sum"
    )
    element(session, "online", value_type="integer", period_type="month", period_aggregation="sum")
    element(session, "stations", period_type="month", period_aggregation="last")
    element(
        session,
        "waiting_days",
        period_type="month",
        aggregation="average",
        period_aggregation="average",
    )
    element(session, "sites", period_type="quarter", aggregation="max", period_aggregation="sum")
    element(
        session,
        "fibre_pct",
        value_type="percentage",
        aggregation="weighted_average",
        weight_element_code="population",
    )
    element(session, "radius_km", aggregation="none")
    indicator(session, "online_rate", "online / received * 100")
    indicator(session, "received_per_1000", "received / population * 1000")
    indicator(session, "stations_plus", "coalesce(stations, 0) + min(sites, 50)")
    indicator(session, "waiting", "waiting_days")
    indicator(session, "fibre", "fibre_pct - abs(radius_km)")
    indicator(session, "per_site", "max(received, online) / (sites - sites)")  # always / 0
    session.flush()


ROWS: list[tuple[str, str, str, str, float]] = [
    ("population", "legacy", A, "2024", 1000),
    ("population", "legacy", B, "2024", 0),  # zero denominator
    ("population", "legacy", W1, "2024", 4000),
    # C has no population: missing, not zero
    ("received", "legacy", A, "2024-01", 100),
    ("received", "legacy", A, "2024-02", 0),
    ("received", "legacy", A, "2024-05", 40),
    ("received", "legacy", B, "2024-01", 50),
    ("received", "legacy", C, "2024-03", 30),
    ("received", "legacy", W1, "2024-02", 70),
    ("online", "legacy", A, "2024-01", 60),
    ("online", "legacy", A, "2024-02", 5),  # online but nothing received: / 0
    ("online", "legacy", B, "2024-01", 20),
    ("online", "legacy", W2, "2024-03", 9),  # no received at all in W2
    ("stations", "legacy", A, "2024-01", 3),
    ("stations", "legacy", A, "2024-03", 4),
    ("stations", "legacy", B, "2024-05", 6),
    ("waiting_days", "legacy", A, "2024-01", 4),
    ("waiting_days", "legacy", A, "2024-02", 8),
    ("waiting_days", "legacy", C, "2024-02", 3),
    ("sites", "legacy", A, "2024-Q1", 10),
    ("sites", "legacy", A, "2024-Q2", 60),
    ("sites", "legacy", W1, "2024-Q1", 7),
    ("fibre_pct", "legacy", A, "2024", 90),
    ("fibre_pct", "legacy", B, "2024", 50),  # weight 0
    ("fibre_pct", "legacy", W1, "2024", 70),
    ("radius_km", "legacy", A, "2024", -0.5),
    # Việt Yên district's own value wins over its communes' sum (time first: its months)
    ("received", "legacy", "222", "2024-02", 500),
]


class Reference:
    """The rules of `computation`'s docstring, evaluated directly in Python."""

    def __init__(
        self,
        elements: list[ElementSpec],
        recorded: dict[tuple[int, int, str], float],
        parents: dict[int, int | None],
        levels: dict[int, UnitLevel],
    ) -> None:
        self.elements = {e.id: e for e in elements}
        self.recorded = recorded
        self.children: dict[int, list[int]] = {}
        for unit, parent in parents.items():
            if parent is not None:
                self.children.setdefault(parent, []).append(unit)
        self.levels = levels

    def own(self, element: ElementSpec, unit: int, period: Period) -> float | None:
        if period.type is element.period_type:
            return self.recorded.get((element.id, unit, period.code))
        how = PeriodAggregation(element.period_aggregation)
        parts = [
            (part.code, self.recorded[(element.id, unit, part.code)])
            for part in period.parts(element.period_type)
            if (element.id, unit, part.code) in self.recorded
        ]
        if how is PeriodAggregation.NONE or not parts:
            return None
        found = [v for _, v in parts]
        if how is PeriodAggregation.SUM:
            return sum(found)
        if how is PeriodAggregation.AVERAGE:
            return sum(found) / len(found)
        return max(parts)[1]  # the latest period's

    def effective(
        self, element: ElementSpec, unit: int, period: Period
    ) -> tuple[float | None, int]:
        """(value, basis: 0 recorded, 1 aggregated)."""
        own = self.own(element, unit, period)
        if own is not None or self.levels[unit] is UnitLevel.COMMUNE:
            return own, 0
        children = self.children.get(unit, [])
        found = [self.effective(element, child, period)[0] for child in children]
        present = [v for v in found if v is not None]
        how = Aggregation(element.aggregation)
        if how is Aggregation.WEIGHTED_AVERAGE:
            weight = self.elements[element.weight_element_id or 0]
            pairs = [
                (value, self.effective(weight, child, period)[0])
                for child, value in zip(children, found, strict=True)
                if value is not None
            ]
            weighted = [(v, w) for v, w in pairs if w is not None]
            total = sum(w for _, w in weighted)
            return (sum(v * w for v, w in weighted) / total if total else None), 1
        if not present or how is Aggregation.NONE:
            return None, 1
        if how is Aggregation.SUM:
            return sum(present), 1
        if how is Aggregation.AVERAGE:
            return sum(present) / len(present), 1
        return (min(present) if how is Aggregation.MIN else max(present)), 1

    def indicator(
        self, spec: IndicatorSpec, by_code: dict[str, ElementSpec], unit: int, period: Period
    ) -> tuple[bool, float | None, int]:
        """(any input data, value, basis)."""
        inputs: dict[str, float | None] = {}
        bases = []
        for code in spec.formula.elements:
            element = by_code[code]
            source = period.within(element.period_type)
            if source is None and element.period_aggregation is not PeriodAggregation.NONE:
                source = period
            value, basis = (None, 0) if source is None else self.effective(element, unit, source)
            inputs[code] = value
            if value is not None:
                bases.append(basis)
        value = formulas.evaluate(spec.formula, inputs)
        return bool(bases), value, max(bases, default=0)


def _close(
    found: Mapping[Key, tuple[float | None, int]], expected: Mapping[Key, tuple[float | None, int]]
) -> None:
    assert found.keys() == expected.keys()
    for key, (value, basis) in expected.items():
        got, got_basis = found[key]
        assert got_basis == basis, key
        if value is None:
            assert got is None, key
        else:
            assert got == pytest.approx(value, rel=1e-12), key


def test_computation_matches_a_python_evaluation(session: Session) -> None:
    _catalogue(session)
    values(session, ROWS)
    session.flush()
    catalogue = element_specs(session)
    by_code = {e.code: e for e in catalogue}
    specs = [
        indicator_spec(i)
        for i in (
            repository.indicator_by_code(session, code)
            for code in (
                "online_rate",
                "received_per_1000",
                "stations_plus",
                "waiting",
                "fibre",
                "per_site",
            )
        )
        if i is not None
    ]
    ids = repository.unit_ids_by_ref(
        session, [(UnitSet.LEGACY, code) for code in (A, B, C, W1, W2, "222", "213", "24")]
    )
    rows = repository.unit_rows(session, ids.values())
    parents = {unit: parent for unit, (_, _, _, parent) in rows.items()}
    levels = repository.unit_levels(session, ids.values())
    recorded = {
        (by_code[code].id, ids[(UnitSet.LEGACY, unit)], period): float(value)
        for code, _, unit, period, value in ROWS
    }
    reference = Reference(catalogue, recorded, parents, levels)
    # A unit and period has a row (every indicator, None where it has no value) when any
    # element an indicator reads there has a value; its basis is the highest of them all.
    expected: dict[Key, tuple[float | None, int]] = {}
    for unit in ids.values():
        for code in PERIODS:
            results = [
                reference.indicator(spec, by_code, unit, parse_period(code)) for spec in specs
            ]
            if any(has_data for has_data, _, _ in results):
                basis = max(b for has_data, _, b in results if has_data)
                for spec, (_, value, _) in zip(specs, results, strict=True):
                    expected[(spec.id, unit, code)] = (value, basis)
    # the data set does exercise the edge cases
    assert any(v is None for v, _ in expected.values())  # zero denominators, gaps
    assert any(b == 0 for _, b in expected.values()) and any(b == 1 for _, b in expected.values())

    found_db = computation.indicator_values(
        computation.sqlalchemy_runner(session),
        specs,
        catalogue,
        PERIODS,
        Tree.LEGACY,
        UnitFilter(unit_ids=tuple(ids.values())),
    )
    _close({(v.indicator_id, v.unit_id, v.period): (v.value, v.basis) for v in found_db}, expected)

    # One level at a time (the levels below are computed but not carried to the pivot).
    for level in (UnitLevel.COMMUNE, UnitLevel.DISTRICT, UnitLevel.PROVINCE):
        found_level = computation.indicator_values(
            computation.sqlalchemy_runner(session),
            specs,
            catalogue,
            PERIODS,
            Tree.LEGACY,
            UnitFilter(level=level),
        )
        _close(
            {
                (v.indicator_id, v.unit_id, v.period): (v.value, v.basis)
                for v in found_level
                if v.unit_id in parents
            },
            {k: v for k, v in expected.items() if levels[k[1]] is level},
        )

    # The national-scale path: the same numbers materialised on a DuckDB copy.
    duck = duckdb.connect()
    analytics.copy_to_duckdb(session.connection(), duck)
    assert analytics.analysis_periods(duck) == [
        "2024",
        "2024-01",
        "2024-02",
        "2024-03",
        "2024-05",
        "2024-Q1",
        "2024-Q2",
    ]
    stored = analytics.materialise_indicator_values(
        duck, specs, catalogue, PERIODS, Tree.LEGACY, UnitLevel.DISTRICT
    )
    materialised = {
        (int(i), int(u), str(p)): (float(v), int(b))
        for i, u, p, v, b in duck.execute("SELECT * FROM indicator_value").fetchall()
    }
    duck.close()
    district = {
        k: v for k, v in expected.items() if levels[k[1]] is UnitLevel.DISTRICT and v[0] is not None
    }
    assert stored == len(materialised) == len(district) > 0
    _close(materialised, district)
