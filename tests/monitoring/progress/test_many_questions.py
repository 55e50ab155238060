"""The progress service's many-question front doors answer each question exactly as its
one-question method does, on both databases: values, rankings, targets and plan progress of
the monitoring demo's indicators (yearly, on the legacy Bắc Giang) asked together with a
monthly indicator of the current communes, some at a month inside a yearly indicator's year
(the union of the periods computed, each indicator's own kept), on both trees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.portal.monitoring.support import DEMO_PLAN, PLAN, load_test_plan
from tinhso.core import generations
from tinhso.monitoring import repository
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import (
    AchievementsAsked,
    ProgressAsked,
    RankingAsked,
    ValuesAsked,
    progress_service,
)
from tinhso.monitoring.schemas import ElementCreate, IndicatorCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

MONTHLY = "nhieu_cau_hoi"
COMMUNES = ("07777", "07228", "07681")


def _monthly(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        catalogue_service.create_element(
            session,
            ElementCreate.model_validate(
                {
                    "code": f"{MONTHLY}_pct",
                    "name_vi": "Chỉ tiêu theo tháng",
                    "unit_of_measure": "%",
                    "value_type": "percentage",
                    "aggregation": "average",
                    "period_type": "month",
                }
            ),
        )
        catalogue_service.create_indicator(
            session,
            IndicatorCreate(
                code=MONTHLY,
                name_vi="Chỉ số theo tháng",
                formula=f"{MONTHLY}_pct",
                unit_of_measure="%",
            ),
        )
        value_service.record_many(
            session,
            [
                ValueIn.model_validate(
                    {
                        "element_code": f"{MONTHLY}_pct",
                        "unit": {"unit_set": "current", "code": code},
                        "period": period,
                        "value": 20 + 7 * n + int(period[-2:]),
                    }
                )
                for n, code in enumerate(COMMUNES)
                for period in ("2025-07", "2025-08", "2025-09")
            ],
            Provenance(entered_by_id=None),
        )


def test_many_questions_are_answered_as_each_alone(
    sessions: sessionmaker[Session], province_tree: dict[str, str]
) -> None:
    load_test_plan(sessions)
    _monthly(sessions)
    legacy = UnitRef(unit_set=UnitSet.LEGACY, code="24")
    current = UnitRef(unit_set=UnitSet.CURRENT, code="24")
    with sessions() as session, generations.computing_everything():
        indicators = list(repository.all_indicators(session))
        assert len(indicators) > 5
        periods = progress_service.indicator_periods_each(session, indicators)
        monthly = next(i for i in indicators if i.code == MONTHLY)
        assert periods[monthly.id] == ["2025-07", "2025-08", "2025-09"]
        province = unit_service.get(session, UnitSet.CURRENT, "24").id
        bac_giang = unit_service.get(session, UnitSet.LEGACY, "24").id
        values: list[ValuesAsked] = []
        rankings: list[RankingAsked] = []
        targets: list[AchievementsAsked] = []
        for indicator in indicators:
            own = periods[indicator.id]
            if not own:
                continue
            latest = own[-1]
            values += [
                ValuesAsked(indicator, tuple(own), Tree.LEGACY, legacy),
                ValuesAsked(indicator, (latest, "2024-12"), Tree.CURRENT, current),
            ]
            rankings += [
                RankingAsked(indicator, latest, Tree.LEGACY, UnitLevel.PROVINCE),
                RankingAsked(indicator, latest, Tree.CURRENT, UnitLevel.COMMUNE, current),
                RankingAsked(indicator, "2024-12", Tree.CURRENT, UnitLevel.PROVINCE),
            ]
            targets += [
                AchievementsAsked(indicator, latest, Tree.LEGACY, frozenset({bac_giang})),
                AchievementsAsked(indicator, "2024-12", Tree.CURRENT, frozenset({province})),
            ]
        together = progress_service.indicator_values_each(session, values)
        alone = [
            progress_service.indicator_values(
                session, q.indicator, list(q.periods), q.tree, units=[q.unit]
            )
            for q in values
        ]
        assert together == alone
        # a yearly indicator read at a month of its year, asked beside the monthly one
        assert any(value.period == "2024-12" and value.value for found in alone for value in found)
        ranked = progress_service.rankings(session, rankings)
        assert ranked == [
            progress_service.ranking(session, q.indicator, q.period, q.tree, q.level, q.parent)
            for q in rankings
        ]
        assert any(ranked)
        achieved = progress_service.unit_achievements_each(session, targets)
        assert achieved == [
            progress_service.unit_achievements(session, q.indicator, q.period, q.tree, q.unit_ids)
            for q in targets
        ]
        assert any(achieved)
        plans = [plan_service.get(session, code) for code in (DEMO_PLAN, PLAN)]
        asked = [
            ProgressAsked(plans[0], 2024, province),
            ProgressAsked(plans[1], 2024),
            ProgressAsked(plans[1], 2025, province),
            ProgressAsked(plans[0]),
        ]
        progress = progress_service.plan_progress_each(session, asked)
        assert progress == [
            progress_service.plan_progress(session, q.plan, q.as_of, within=q.within) for q in asked
        ]
        assert all(progress)
