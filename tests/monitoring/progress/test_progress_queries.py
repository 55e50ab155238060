"""Plan progress reads the units of all its targets' scopes in one go: a plan with six
level-scoped targets sends as many unit queries as a plan with one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.monitoring.support import element, indicator, values
from tests.registry.queries import counted_queries
from tinhso.core import generations
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.schemas import PlanCreate, TargetCreate

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import Plan

BAC_GIANG_DISTRICTS = {"213", "215", "216", "217", "218", "219", "220", "222", "223", "224"}


def _plan(session: Session, code: str, targets: list[dict[str, Any]]) -> Plan:
    plan = plan_service.create(
        session,
        PlanCreate(
            code=code,
            number=f"{code}/KH-UBND",
            title_vi=f"Kế hoạch {code}",
            issuing_body="UBND tỉnh",
        ),
    )
    for target in targets:
        data = {"indicator_code": "fibre", "target_value": 50, **target}
        plan_service.add_target(session, plan, TargetCreate.model_validate(data))
    session.flush()
    return plan


def _scope(code: str, level: str) -> dict[str, Any]:
    return {"scope_unit": {"unit_set": "legacy", "code": code}, "scope_level": level}


def test_plan_progress_reads_units_once(session: Session, engine: Engine) -> None:
    element(session, "fibre_pct", value_type="percentage", aggregation="none")
    indicator(session, "fibre", "fibre_pct")
    values(
        session,
        [("fibre_pct", "legacy", "222", "2023", 60), ("fibre_pct", "legacy", "07759", "2023", 30)],
    )
    one = _plan(session, "kh-1", [{"year": 2025, **_scope("24", "district")}])
    six = _plan(
        session,
        "kh-6",
        [
            {"year": 2025, **_scope("24", "district")},
            {"year": 2026, **_scope("24", "district")},
            {"year": 2025, **_scope("222", "commune")},
            {"year": 2025, **_scope("213", "commune")},
            {"year": 2025, **_scope("24", "commune")},
            {"year": 2024, "scope_unit": {"unit_set": "legacy", "code": "222"}},
        ],
    )
    # what computing them costs (kept units and figures would hide it)
    with generations.computing_everything(), counted_queries(engine) as few:
        progress_service.plan_progress(session, one, as_of_year=2024)
    with generations.computing_everything(), counted_queries(engine) as many:
        progress = progress_service.plan_progress(session, six, as_of_year=2024)
    assert len(many.touching("administrative_unit")) <= len(few.touching("administrative_unit"))
    assert many.count == few.count

    by_target: dict[tuple[int, int], list[Any]] = {}
    for achievement in progress:
        by_target.setdefault((achievement.target_id, achievement.year), []).append(achievement)
    scopes = sorted(by_target.values(), key=lambda rows: rows[0].target_id)
    districts_2025, districts_2026, viet_yen, city, communes, single = scopes
    assert {a.unit.code for a in districts_2025} == BAC_GIANG_DISTRICTS
    assert {a.unit.code for a in districts_2026} == BAC_GIANG_DISTRICTS
    assert "07759" in {a.unit.code for a in viet_yen}
    assert not {a.unit.code for a in viet_yen} & {a.unit.code for a in city}
    assert {a.unit.code for a in viet_yen} | {a.unit.code for a in city} < {
        a.unit.code for a in communes
    }
    assert [a.unit.code for a in single] == ["222"]
    statuses = {a.unit.code: a.status for a in districts_2025}
    assert statuses["222"] == "achieved"
    assert statuses["213"] == "no_data"
    # one value (30 % in 2023) and no baseline: no trajectory to judge against yet
    assert {a.unit.code: a.status for a in viet_yen}["07759"] == "insufficient_data"
