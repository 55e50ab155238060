"""Indicator computation in SQL: formulas, aggregation up the tree, boundary change,
rankings, on SQLite and PostgreSQL (and the same SQL on DuckDB)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.monitoring.support import (
    BAC_GIANG_CITY_WARDS,
    VIET_YEN_COMMUNES,
    element,
    indicator,
    values,
)
from tinhso.monitoring import repository
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.progress.service import progress_service
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _value(
    session: Session, code: str, period: str, tree: Tree, unit_set: str, unit: str
) -> float | None:
    found = progress_service.indicator_values(
        session,
        repository.indicator_by_code(session, code),  # type: ignore[arg-type]
        [period],
        tree,
        units=[UnitRef(unit_set=UnitSet(unit_set), code=unit)],
    )
    assert len(found) <= 1
    return found[0].value if found else None


@pytest.fixture
def catalogue(session: Session) -> Session:
    element(session, "population", value_type="integer")
    element(session, "devices", value_type="integer")
    element(
        session,
        "fibre_pct",
        value_type="percentage",
        aggregation="weighted_average",
        weight_element_code="population",
    )
    element(session, "plain_avg", aggregation="average")
    element(session, "lowest", aggregation="min")
    element(session, "highest", aggregation="max")
    element(session, "radius_km", aggregation="none")
    element(session, "dossiers_online", value_type="integer", period_type="quarter")
    element(session, "dossiers", value_type="integer", period_type="quarter")
    indicator(session, "devices_per_100", "devices / population * 100")
    indicator(session, "fibre", "fibre_pct")
    indicator(session, "avg", "plain_avg")
    indicator(session, "low", "lowest")
    indicator(session, "high", "highest")
    indicator(session, "radius", "radius_km", direction="lower_better")
    indicator(session, "online_rate", "dossiers_online / dossiers * 100")
    indicator(session, "online_per_1000", "dossiers_online / population * 1000")
    indicator(session, "with_default", "coalesce(devices, 0) + min(population, 1000)")
    session.flush()
    return session


def test_formula_missing_data_and_zero_denominator(catalogue: Session) -> None:
    session = catalogue
    a, b, c = VIET_YEN_COMMUNES
    values(
        session,
        [
            ("devices", "legacy", a, "2024", 50),
            ("population", "legacy", a, "2024", 1000),
            ("devices", "legacy", b, "2024", 30),  # no population: NULL, not 0 and not infinite
            ("devices", "legacy", c, "2024", 10),
            ("population", "legacy", c, "2024", 0),
        ],
    )
    assert _value(session, "devices_per_100", "2024", Tree.LEGACY, "legacy", a) == pytest.approx(
        5.0
    )
    assert _value(session, "devices_per_100", "2024", Tree.LEGACY, "legacy", b) is None
    assert _value(session, "devices_per_100", "2024", Tree.LEGACY, "legacy", c) is None
    # coalesce gives a default, min() is NULL-strict
    assert _value(session, "with_default", "2024", Tree.LEGACY, "legacy", a) == pytest.approx(1050)
    assert _value(session, "with_default", "2024", Tree.LEGACY, "legacy", b) is None


def test_aggregation_up_the_tree(catalogue: Session) -> None:
    session = catalogue
    a, b, c = VIET_YEN_COMMUNES
    w1, w2 = BAC_GIANG_CITY_WARDS
    rows: list[tuple[str, str, str, str, object]] = []
    for unit, population, devices, fibre, avg, radius in (
        (a, 1000, 50, 90, 10, 0.5),
        (b, 3000, 30, 50, 20, 0.9),
        (c, 1000, 20, 70, 60, 0.3),
        (w1, 5000, 400, 100, 5, 0.1),
    ):
        rows += [
            ("population", "legacy", unit, "2024", population),
            ("devices", "legacy", unit, "2024", devices),
            ("fibre_pct", "legacy", unit, "2024", fibre),
            ("plain_avg", "legacy", unit, "2024", avg),
            ("lowest", "legacy", unit, "2024", avg),
            ("highest", "legacy", unit, "2024", avg),
            ("radius_km", "legacy", unit, "2024", radius),
        ]
    # A ward with devices but no population: counted in the sum of devices only.
    rows.append(("devices", "legacy", w2, "2024", 100))
    values(session, rows)

    def at(code: str, unit: str) -> float | None:
        return _value(session, code, "2024", Tree.LEGACY, "legacy", unit)

    # Việt Yên district (222) from its three communes
    assert at("devices_per_100", "222") == pytest.approx(100 / 5000 * 100)
    assert at("fibre", "222") == pytest.approx((90 * 1000 + 50 * 3000 + 70 * 1000) / 5000)
    assert at("avg", "222") == pytest.approx(30.0)
    assert at("low", "222") == pytest.approx(10.0)
    assert at("high", "222") == pytest.approx(60.0)
    assert at("radius", "222") is None  # "none" never aggregates
    assert at("radius", a) == pytest.approx(0.5)
    # Bắc Giang province (24) from both districts (sum 600 devices / 10,000 people)
    assert at("devices_per_100", "24") == pytest.approx(600 / 10000 * 100)
    assert at("fibre", "24") == pytest.approx((90_000 + 150_000 + 70_000 + 500_000) / 10000)
    assert at("low", "24") == pytest.approx(5.0)
    assert at("high", "24") == pytest.approx(60.0)
    # the average of the districts' averages (30 and 5), not of the communes
    assert at("avg", "24") == pytest.approx(17.5)

    # A value recorded for the district wins over its communes' aggregate.
    values(
        session,
        [("devices", "legacy", "222", "2024", 1000), ("population", "legacy", "222", "2024", 5000)],
    )
    assert at("devices_per_100", "222") == pytest.approx(1000 / 5000 * 100)
    assert at("devices_per_100", "24") == pytest.approx(1500 / 10000 * 100)
    found = progress_service.indicator_values(
        session,
        repository.indicator_by_code(session, "devices_per_100"),  # type: ignore[arg-type]
        ["2024"],
        Tree.LEGACY,
        level=UnitLevel.DISTRICT,
        parent=UnitRef(unit_set=UnitSet.LEGACY, code="24"),
    )
    assert {v.unit.code: v.basis for v in found} == {"213": "aggregated", "222": "recorded"}


def test_coarser_element_is_read_at_its_own_period(catalogue: Session) -> None:
    session = catalogue
    a = VIET_YEN_COMMUNES[0]
    values(
        session,
        [
            ("population", "legacy", a, "2024", 2000),
            ("dossiers_online", "legacy", a, "2024-Q3", 30),
            ("dossiers", "legacy", a, "2024-Q3", 40),
        ],
    )
    assert _value(session, "online_rate", "2024-Q3", Tree.LEGACY, "legacy", a) == pytest.approx(
        75.0
    )
    assert _value(session, "online_per_1000", "2024-Q3", Tree.LEGACY, "legacy", a) == pytest.approx(
        15.0
    )
    # a finer element is not rolled up over time
    assert _value(session, "online_rate", "2024", Tree.LEGACY, "legacy", a) is None


def test_boundary_reaggregation_onto_current_units(catalogue: Session) -> None:
    """Values of legacy Bắc Giang districts add up into the current Bắc Ninh province (24)."""
    session = catalogue
    values(
        session,
        [
            ("devices", "legacy", "222", "2024", 300),
            ("population", "legacy", "222", "2024", 200_000),
            ("devices", "legacy", "213", "2024", 700),
            ("population", "legacy", "213", "2024", 300_000),
            # legacy Bắc Ninh province (27) merged into the same current province
            ("devices", "legacy", "27", "2024", 1000),
            ("population", "legacy", "27", "2024", 500_000),
            # communes Thượng Lan and Việt Tiến became (part of) the current ward 07774
            ("devices", "legacy", "07759", "2024", 5),
            ("devices", "legacy", "07762", "2024", 7),
            ("population", "legacy", "07759", "2024", 100),
            ("population", "legacy", "07762", "2024", 100),
        ],
    )
    legacy_bac_giang = _value(session, "devices_per_100", "2024", Tree.LEGACY, "legacy", "24")
    assert legacy_bac_giang == pytest.approx(1000 / 500_000 * 100)
    current = progress_service.indicator_values(
        session,
        repository.indicator_by_code(session, "devices_per_100"),  # type: ignore[arg-type]
        ["2024"],
        Tree.CURRENT,
        units=[UnitRef(unit_set=UnitSet.CURRENT, code="24")],
    )
    assert len(current) == 1
    assert current[0].unit_name == "Tỉnh Bắc Ninh"
    assert current[0].basis == "reaggregated"
    assert current[0].value == pytest.approx(2000 / 1_000_000 * 100)
    # legacy communes onto their successor
    assert _value(session, "devices_per_100", "2024", Tree.CURRENT, "current", "07774") == (
        pytest.approx(12 / 200 * 100)
    )
    # the legacy tree is untouched by the current view
    assert _value(session, "devices_per_100", "2024", Tree.LEGACY, "legacy", "222") == (
        pytest.approx(300 / 200_000 * 100)
    )
    # 2025 spans the change: legacy units take values for it and so do current ones. Where
    # both exist, the value recorded under the current unit is shown and its basis says the
    # legacy values were not used (never silently).
    values(
        session,
        [
            ("devices", "legacy", "222", "2025", 300),
            ("population", "legacy", "222", "2025", 200_000),
            ("devices", "legacy", "07759", "2025", 5),
            ("population", "legacy", "07759", "2025", 100),
            ("devices", "current", "24", "2025", 5000),
            ("population", "current", "24", "2025", 1_000_000),
        ],
    )
    [both] = progress_service.indicator_values(
        session,
        repository.indicator_by_code(session, "devices_per_100"),  # type: ignore[arg-type]
        ["2025"],
        Tree.CURRENT,
        units=[UnitRef(unit_set=UnitSet.CURRENT, code="24")],
    )
    assert both.value == pytest.approx(0.5)
    assert both.basis == "recorded_over_legacy"
    # where only the legacy values exist, they are re-aggregated as before
    [ward] = progress_service.indicator_values(
        session,
        repository.indicator_by_code(session, "devices_per_100"),  # type: ignore[arg-type]
        ["2025"],
        Tree.CURRENT,
        units=[UnitRef(unit_set=UnitSet.CURRENT, code="07774")],
    )
    assert ward.basis == "reaggregated"


def test_ranking_ties_share_a_rank(catalogue: Session) -> None:
    session = catalogue
    values(
        session,
        [
            ("fibre_pct", "legacy", "213", "2024", 80),
            ("fibre_pct", "legacy", "215", "2024", 95),
            ("fibre_pct", "legacy", "216", "2024", 80),
            ("fibre_pct", "legacy", "217", "2024", 60),
            ("radius_km", "legacy", "213", "2024", 0.2),
            ("radius_km", "legacy", "215", "2024", 0.4),
            ("radius_km", "legacy", "216", "2024", 0.2),
        ],
    )
    parent = UnitRef(unit_set=UnitSet.LEGACY, code="24")
    ranked = progress_service.ranking(
        session,
        repository.indicator_by_code(session, "fibre"),  # type: ignore[arg-type]
        "2024",
        Tree.LEGACY,
        UnitLevel.DISTRICT,
        parent,
    )
    assert [(r.unit.code, r.rank) for r in ranked] == [
        ("215", 1),
        ("213", 2),
        ("216", 2),
        ("217", 4),
    ]
    # lower is better: the smallest radius ranks first
    ranked = progress_service.ranking(
        session,
        repository.indicator_by_code(session, "radius"),  # type: ignore[arg-type]
        "2024",
        Tree.LEGACY,
        UnitLevel.DISTRICT,
        parent,
    )
    assert [(r.unit.code, r.rank) for r in ranked] == [("213", 1), ("216", 1), ("215", 3)]


def test_shorter_periods_roll_up_into_longer_ones(session: Session) -> None:
    element(
        session, "received", value_type="integer", period_type="month", period_aggregation="sum"
    )
    element(
        session,
        "received_online",
        value_type="integer",
        period_type="month",
        period_aggregation="sum",
    )
    element(
        session, "stations", value_type="integer", period_type="month", period_aggregation="last"
    )
    element(
        session,
        "waiting_days",
        period_type="month",
        aggregation="average",
        period_aggregation="average",
    )
    element(session, "monthly_only", period_type="month")  # period aggregation "none"
    indicator(session, "online_rate", "received_online / received * 100")
    indicator(session, "stations_now", "stations")
    indicator(session, "waiting", "waiting_days")
    indicator(session, "monthly", "monthly_only")
    a, b, _ = VIET_YEN_COMMUNES
    values(
        session,
        [
            ("received", "legacy", a, "2024-01", 100),
            ("received_online", "legacy", a, "2024-01", 50),
            ("received", "legacy", a, "2024-02", 100),
            ("received_online", "legacy", a, "2024-02", 90),
            ("received", "legacy", a, "2024-07", 200),
            ("received_online", "legacy", a, "2024-07", 160),
            ("received", "legacy", b, "2024-02", 100),
            ("received_online", "legacy", b, "2024-02", 0),
            ("stations", "legacy", a, "2024-03", 10),
            ("stations", "legacy", a, "2024-11", 12),
            ("stations", "legacy", b, "2024-05", 7),
            ("waiting_days", "legacy", a, "2024-01", 4),
            ("waiting_days", "legacy", a, "2024-02", 6),
            ("monthly_only", "legacy", a, "2024-01", 1),
        ],
    )
    session.flush()

    def at(code: str, period: str, unit: str) -> float | None:
        return _value(session, code, period, Tree.LEGACY, "legacy", unit)

    assert at("online_rate", "2024-02", a) == pytest.approx(90.0)
    assert at("online_rate", "2024-Q1", a) == pytest.approx(70.0)
    assert at("online_rate", "2024", a) == pytest.approx(300 / 400 * 100)
    # rolled up in time per commune, then up the tree
    assert at("online_rate", "2024", "222") == pytest.approx(300 / 500 * 100)
    assert at("online_rate", "2024-Q1", "222") == pytest.approx(140 / 300 * 100)
    assert at("stations_now", "2024", a) == pytest.approx(12.0)
    assert at("stations_now", "2024-Q1", a) == pytest.approx(10.0)
    assert at("stations_now", "2024", "222") == pytest.approx(19.0)
    assert at("waiting", "2024-Q1", a) == pytest.approx(5.0)
    assert at("monthly", "2024", a) is None
    assert at("monthly", "2024-01", a) == pytest.approx(1.0)
