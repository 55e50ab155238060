"""The computation SQL gives the same answers on a DuckDB analytics copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.monitoring.support import VIET_YEN_COMMUNES, element, indicator, values
from tinhso.monitoring import repository
from tinhso.monitoring.computation import indicators as computation
from tinhso.monitoring.computation.analytics import copy_to_duckdb
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.computation.indicators import UnitFilter
from tinhso.monitoring.computation.specs import element_specs, indicator_spec
from tinhso.registry.models import UnitLevel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _rows(found: list[computation.IndicatorValue]) -> list[tuple[int, int, float | None, int]]:
    return sorted(
        (v.indicator_id, v.unit_id, None if v.value is None else round(v.value, 9), v.basis)
        for v in found
    )


def test_same_results_on_duckdb(session: Session) -> None:
    element(session, "population", value_type="integer")
    element(session, "devices", value_type="integer")
    element(
        session,
        "fibre_pct",
        value_type="percentage",
        aggregation="weighted_average",
        weight_element_code="population",
    )
    element(
        session, "received", value_type="integer", period_type="month", period_aggregation="sum"
    )
    element(
        session, "stations", value_type="integer", period_type="month", period_aggregation="last"
    )
    indicator(session, "iot", "devices / population * 100")
    indicator(session, "received_per_1000", "received / population * 1000 + stations")
    indicator(session, "fibre", "fibre_pct")
    rows: list[tuple[str, str, str, str, object]] = []
    for n, commune in enumerate(VIET_YEN_COMMUNES):
        rows += [
            ("population", "legacy", commune, "2024", 1000 * (n + 1)),
            ("devices", "legacy", commune, "2024", 100 + n),
            ("fibre_pct", "legacy", commune, "2024", 50 + 10 * n),
            ("received", "legacy", commune, "2024-03", 10 * n),
            ("received", "legacy", commune, "2024-09", 7),
            ("stations", "legacy", commune, "2024-0" + str(n + 1), n),
        ]
    rows += [("devices", "legacy", "213", "2024", 900), ("population", "legacy", "213", "2024", 0)]
    values(session, rows)
    session.flush()
    specs = [
        indicator_spec(repository.indicator_by_code(session, code))  # type: ignore[arg-type]
        for code in ("iot", "fibre", "received_per_1000")
    ]
    catalogue = element_specs(session)
    duck = duckdb.connect()
    copied = copy_to_duckdb(session.connection(), duck)
    assert copied["data_value"] == len(rows)
    for tree, level in (
        (Tree.LEGACY, UnitLevel.DISTRICT),
        (Tree.LEGACY, UnitLevel.PROVINCE),
        (Tree.CURRENT, UnitLevel.PROVINCE),
        (Tree.CURRENT, UnitLevel.COMMUNE),
    ):
        units = UnitFilter(level=level)
        on_db = computation.indicator_values(
            computation.sqlalchemy_runner(session), specs, catalogue, ["2024"], tree, units
        )
        on_duck = computation.indicator_values(
            computation.duckdb_runner(duck), specs, catalogue, ["2024"], tree, units
        )
        assert on_db, (tree, level)
        assert _rows(on_db) == _rows(on_duck), (tree, level)
        if (tree, level) == (Tree.LEGACY, UnitLevel.DISTRICT):
            # months summed (received) or the latest taken (stations), then up the tree
            rolled = [v.value for v in on_duck if v.indicator_id == specs[2].id and v.value]
            assert rolled == [pytest.approx(51 / 6000 * 1000 + 3)]
    ranked = computation.ranking(
        computation.duckdb_runner(duck),
        specs[0],
        catalogue,
        "2024",
        Tree.LEGACY,
        UnitFilter(level=UnitLevel.DISTRICT),
    )
    assert [r.rank for r in ranked] == [1]  # 213 has a zero population: no value
    duck.close()
