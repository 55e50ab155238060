"""Achievement against targets (values, ranges, lower-better), trajectory status, and the
composite index under two methodology versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.monitoring.support import element, indicator, values
from tinhso.monitoring import repository
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import Comparison, Plan
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.progress.trajectory import Goal, trajectory_status
from tinhso.monitoring.schemas import MethodologyCreate, PlanCreate, TargetCreate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def test_trajectory_rule() -> None:
    higher = Goal(Comparison.GE, 100.0)
    # baseline 20 in 2020, target 100 in 2025: the line is at 52 in 2022
    assert trajectory_status(higher, 2025, 100.0, 2024.0, 20.0, 2020.0) == ("achieved", None)
    status, expected = trajectory_status(higher, 2025, 60.0, 2022.0, 20.0, 2020.0)
    assert status == "on_track"
    assert expected == pytest.approx(52.0)
    status, expected = trajectory_status(higher, 2025, 40.0, 2022.0, 20.0, 2020.0)
    assert status == "behind"
    assert expected == pytest.approx(52.0)
    assert trajectory_status(higher, 2025, 90.0, 2025.0, 20.0, 2020.0)[0] == "not_achieved"
    # the target year has passed (as of 2026) with only older data: not achieved
    assert trajectory_status(higher, 2025, 90.0, 2023.0, 20.0, 2020.0, 2026)[0] == "not_achieved"
    assert trajectory_status(higher, 2025, 60.0, 2022.0, None, None)[0] == "insufficient_data"
    assert trajectory_status(higher, 2025, None, None, 20.0, 2020.0)[0] == "no_data"
    # lower is better: radius 0.5 km in 2020 down to 0.22 km in 2025
    lower = Goal(Comparison.LE, 0.22)
    assert trajectory_status(lower, 2025, 0.2, 2023.0, 0.5, 2020.0)[0] == "achieved"
    assert trajectory_status(lower, 2025, 0.3, 2023.0, 0.5, 2020.0)[0] == "on_track"
    assert trajectory_status(lower, 2025, 0.45, 2023.0, 0.5, 2020.0)[0] == "behind"
    assert trajectory_status(lower, 2025, 0.3, 2025.0, 0.5, 2020.0)[0] == "not_achieved"


@pytest.fixture
def plan(session: Session) -> Session:
    element(session, "devices", value_type="integer")
    element(session, "population", value_type="integer")
    element(session, "radius_km", aggregation="none")
    element(session, "fibre_pct", value_type="percentage", aggregation="none")
    indicator(session, "iot_per_100", "devices / population * 100")
    indicator(session, "radius", "radius_km", direction="lower_better")
    indicator(session, "fibre", "fibre_pct")
    row = plan_service.create(
        session,
        PlanCreate(
            code="kh-324",
            number="324/KH-UBND",
            title_vi="Kế hoạch chuyển đổi số tỉnh Bắc Giang",
            issuing_body="UBND tỉnh Bắc Giang",
        ),
    )
    scope = {"scope_unit": {"unit_set": "legacy", "code": "24"}}
    for target in (
        # a range: 75-100 devices per 100 inhabitants by 2025
        {"indicator_code": "iot_per_100", "year": 2025, "target_low": 75, "target_high": 100},
        # lower is better: radius at most 0.22 km by 2025, from 0.5 km in 2020
        {
            "indicator_code": "radius",
            "year": 2025,
            "target_value": 0.22,
            "baseline_value": 0.5,
            "baseline_year": 2020,
        },
        {
            "indicator_code": "fibre",
            "year": 2030,
            "target_value": 100,
            "baseline_value": 20,
            "baseline_year": 2020,
        },
        # every district: fibre at least 50 % by 2023
        {
            "indicator_code": "fibre",
            "year": 2023,
            "target_value": 50,
            "scope_unit": {"unit_set": "legacy", "code": "24"},
            "scope_level": "district",
        },
    ):
        plan_service.add_target(session, row, TargetCreate.model_validate({**scope, **target}))
    session.flush()
    return session


def _plan(session: Session) -> Plan:
    found = repository.plan_by_code(session, "kh-324")
    assert found is not None
    return found


def test_plan_progress(plan: Session) -> None:
    session = plan
    values(
        session,
        [
            ("devices", "legacy", "24", "2024", 1_500_000),
            ("population", "legacy", "24", "2024", 1_900_000),
            ("radius_km", "legacy", "24", "2022", 0.4),
            ("radius_km", "legacy", "24", "2024", 0.2),
            ("fibre_pct", "legacy", "24", "2024", 70),
            ("fibre_pct", "legacy", "222", "2023", 60),
            ("fibre_pct", "legacy", "213", "2023", 40),
        ],
    )
    progress = progress_service.plan_progress(session, _plan(session), as_of_year=2024)
    by_key = {(p.indicator_code, p.unit.code, p.year): p for p in progress}
    iot = by_key[("iot_per_100", "24", 2025)]
    # 78.9 per 100 is inside the 75-100 range: achieved, 105 % of the range's low end
    assert iot.actual == pytest.approx(1_500_000 / 1_900_000 * 100)
    assert iot.status == "achieved"
    assert iot.status_vi == "Đạt"
    assert iot.goal == 75
    assert iot.achievement_percent == pytest.approx(iot.actual / 75 * 100)  # type: ignore[operator]
    radius = by_key[("radius", "24", 2025)]
    assert (radius.actual, radius.actual_period, radius.status) == (0.2, "2024", "achieved")
    assert radius.achievement_percent == pytest.approx(110.0)
    fibre = by_key[("fibre", "24", 2030)]
    # line from 20 (2020) to 100 (2030) is at 52 in 2024; 70 is ahead of it
    assert fibre.status == "on_track"
    assert fibre.expected_now == pytest.approx(52.0)
    # the level-scoped target covers every district of Bắc Giang
    districts = {p.unit.code: p.status for p in progress if p.year == 2023}
    assert len(districts) == 10
    assert districts["222"] == "achieved"
    assert districts["213"] == "not_achieved"
    assert districts["215"] == "no_data"


def test_plan_progress_behind_with_inferred_baseline(plan: Session) -> None:
    session = plan
    values(
        session,
        [
            ("radius_km", "legacy", "222", "2021", 0.6),
            ("fibre_pct", "legacy", "24", "2021", 10),
            ("fibre_pct", "legacy", "24", "2024", 20),
        ],
    )
    progress = progress_service.plan_progress(session, _plan(session), as_of_year=2024)
    fibre = next(p for p in progress if p.indicator_code == "fibre" and p.year == 2030)
    assert fibre.status == "behind"
    assert fibre.status_vi == "Chậm tiến độ"
    radius = next(p for p in progress if p.indicator_code == "radius")
    assert radius.status == "no_data"  # no province value: "none" does not aggregate


def _methodology(
    code: str, fibre_points: float, radius_bands: list[dict[str, float]], normalisation: str
) -> MethodologyCreate:
    return MethodologyCreate.model_validate(
        {
            "code": code,
            "name_vi": f"DTI {code}",
            "max_points": 100,
            "unit_level": "district",
            "normalisation": normalisation,
            "components": [
                {"code": "infra", "name_vi": "Hạ tầng số", "max_points": 60},
                {"code": "society", "name_vi": "Xã hội số", "max_points": 40},
                {
                    "code": "fibre",
                    "parent_code": "infra",
                    "name_vi": "Cáp quang",
                    "indicator_code": "fibre",
                    "max_points": fibre_points,
                    "scoring": "ratio",
                    "reference_value": 100,
                },
                {
                    "code": "radius",
                    "parent_code": "infra",
                    "name_vi": "Bán kính",
                    "indicator_code": "radius",
                    "max_points": 20,
                    "scoring": "thresholds",
                    "thresholds": radius_bands,
                },
                {
                    "code": "iot",
                    "parent_code": "society",
                    "name_vi": "IoT",
                    "indicator_code": "iot_per_100",
                    "max_points": 40,
                    "scoring": "ratio",
                    "reference_value": 50,
                },
            ],
        }
    )


def test_composite_index_with_two_methodology_versions(plan: Session) -> None:
    session = plan
    values(
        session,
        [
            ("fibre_pct", "legacy", "213", "2024", 80),
            ("radius_km", "legacy", "213", "2024", 0.2),
            ("devices", "legacy", "213", "2024", 100),
            ("population", "legacy", "213", "2024", 1000),
            ("fibre_pct", "legacy", "222", "2024", 50),
            ("radius_km", "legacy", "222", "2024", 0.4),
            ("devices", "legacy", "222", "2024", 600),
            ("population", "legacy", "222", "2024", 1000),
        ],
    )
    old = methodology_service.create(
        session,
        _methodology(
            "v2022", 40, [{"max": 0.22, "points": 20}, {"max": 0.5, "points": 10}], "none"
        ),
    )
    new = methodology_service.create(
        session, _methodology("v2025", 20, [{"max": 0.25, "points": 20}], "percent")
    )
    session.flush()
    scores = {s.unit.code: s for s in progress_service.index(session, old, "2024", Tree.LEGACY)}
    # 213: fibre 0.8 x 40 = 32, radius 20, IoT 10/50 x 40 = 8 -> 60
    # 222: fibre 0.5 x 40 = 20, radius 10, IoT capped 40 -> 70
    assert scores["213"].total == pytest.approx(60.0)
    assert scores["222"].total == pytest.approx(70.0)
    assert (scores["222"].rank, scores["213"].rank) == (1, 2)
    assert {p.code: p.points for p in scores["213"].pillars} == pytest.approx(
        {"infra": 52.0, "society": 8.0}
    )
    assert scores["213"].components_with_data == 3
    assert len(scores) == 2  # districts without data are left out
    scores = {s.unit.code: s for s in progress_service.index(session, new, "2024", Tree.LEGACY)}
    # 213: fibre 0.8 x 20 = 16, radius 20, IoT 8 -> 44; 222: 10 + 0 + 40 = 50 (of 100 points)
    assert scores["213"].total == pytest.approx(44.0)
    assert scores["222"].total == pytest.approx(50.0)
    assert scores["222"].normalised == pytest.approx(50.0)
    assert {p.code: p.points for p in scores["222"].pillars} == pytest.approx(
        {"infra": 10.0, "society": 40.0}
    )


def test_index_normalisation_min_max_and_modelled(plan: Session) -> None:
    session = plan
    values(
        session,
        [
            ("fibre_pct", "legacy", "213", "2024", 80),
            ("fibre_pct", "legacy", "222", "2024", 50),
            ("fibre_pct", "legacy", "215", "2024", 20),
        ],
    )
    bands = [{"max": 0.22, "points": 20}]
    spread = methodology_service.create(session, _methodology("spread", 40, bands, "min_max"))
    subset = _methodology("modelled", 40, bands, "modelled")
    subset.components[0].max_points = 120  # the official pillar is worth more than modelled
    modelled = methodology_service.create(session, subset)
    session.flush()
    scores = {s.unit.code: s for s in progress_service.index(session, spread, "2024", Tree.LEGACY)}
    assert {code: s.normalised for code, s in scores.items()} == pytest.approx(
        {"213": 100.0, "222": 50.0, "215": 0.0}
    )
    scores = {
        s.unit.code: s for s in progress_service.index(session, modelled, "2024", Tree.LEGACY)
    }
    # infra models 40 + 20 = 60 of its 120 points: fibre 0.8 x 40 = 32 -> 32 / 60 x 120 = 64;
    # society models IoT (40 of 40) but has no data -> 0; total 64 of 100
    assert {p.code: p.points for p in scores["213"].pillars} == pytest.approx(
        {"infra": 64.0, "society": 0.0}
    )
    assert scores["213"].normalised == pytest.approx(64.0)
