"""The demo data load (idempotently) and agree with the checks written next to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from tinhso.monitoring import repository
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.demo import UnitResolver, load_monitoring_demo, seed_figures
from tinhso.monitoring.models import DataValue, Target
from tinhso.monitoring.progress.service import progress_service
from tinhso.registry.demo import load_registry_demo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _counts(session: Session) -> tuple[int, int]:
    values = session.scalar(select(func.count()).select_from(DataValue)) or 0
    targets = session.scalar(select(func.count()).select_from(Target)) or 0
    return values, targets


def test_demo_loads_idempotently_and_passes_its_checks(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        load_registry_demo(session, "mat-khau-demo-123456")
        load_monitoring_demo(session)
    with sessions.begin() as session:
        first = _counts(session)
        load_monitoring_demo(session)
        assert _counts(session) == first
    values, targets = first
    data = seed_figures()
    assert targets == sum(len(plan["targets"]) for plan in data["plans"])
    assert values >= len(data["values"]) - 1  # one district the unit catalogue lacks (Yên Dũng)
    with sessions() as session:
        units = UnitResolver(session)
        checked = 0
        for check in data["checks"]:
            if check["kind"] != "indicator_value":
                continue
            indicator = repository.indicator_by_code(session, check["indicator"])
            assert indicator is not None
            unit = units.resolve(check["unit"])
            assert unit is not None
            found = progress_service.indicator_values(
                session, indicator, [str(check["period"])], Tree(unit.unit_set.value), units=[unit]
            )
            assert found, check
            assert found[0].value == pytest.approx(check["expected"], abs=check["tolerance"])
            checked += 1
        assert checked >= 5
        plan = repository.plan_by_code(session, "bg_kh_324")
        assert plan is not None
        progress = progress_service.plan_progress(session, plan)
        assert len(progress) == 18
        assert {p.unit.code for p in progress} == {"24"}
        eid = progress_service.plan_progress(
            session,
            repository.plan_by_code(session, "bg_ubnd_assigned_2023"),  # type: ignore[arg-type]
        )
        assert [(p.actual_period, p.status) for p in eid] == [("2023-Q2", "achieved")]


def test_plan_324_shows_every_status_with_labelled_synthetic_values(
    sessions: sessionmaker[Session],
) -> None:
    from tinhso.monitoring.demo import SYNTHETIC_LABEL, synthetic_values  # noqa: PLC0415
    from tinhso.monitoring.plans import plan_service  # noqa: PLC0415

    with sessions.begin() as session:
        load_registry_demo(session, "mat-khau-demo-123456")
        load_monitoring_demo(session)
    with sessions() as session:
        plan = plan_service.get(session, "bg_kh_324")
        progress = {
            (item.indicator_code, item.year): item.status
            for item in progress_service.plan_progress(session, plan, 2024)
        }
        synthetic = session.scalar(
            select(func.count()).where(DataValue.source_reference == SYNTHETIC_LABEL)
        )
    assert progress[("villages_fibre_rate", 2025)] == "achieved"
    assert progress[("households_fibre_rate", 2025)] == "on_track"
    assert progress[("mobile_station_service_radius", 2025)] == "behind"  # lower is better
    assert progress[("level4_services_online_mobile_rate", 2021)] == "not_achieved"
    assert "no_data" not in progress.values()
    # Every synthetic value is labelled; none replaced a reported seed figure.
    assert synthetic == len(synthetic_values())


def test_demo_cites_its_articles_by_title_outlet_and_date(sessions: sessionmaker[Session]) -> None:
    """A reader is told which article a figure comes from, never an internal file name."""
    from tinhso.monitoring.models import Plan  # noqa: PLC0415

    with sessions.begin() as session:
        load_registry_demo(session, "mat-khau-demo-123456")
        load_monitoring_demo(session)
    with sessions() as session:
        references = [
            *session.scalars(select(DataValue.source_reference)),
            *session.scalars(select(Target.source_reference)),
            *session.scalars(select(Plan.source_reference)),
        ]
    cited = [reference for reference in references if reference and "«" in reference]
    assert len(cited) > 50
    assert not [reference for reference in cited if ".txt" in reference or "seed" in reference]
    assert any(
        reference.startswith(
            "Bắc Giang nỗ lực chuyển đổi số, ứng dụng CNTT trong phòng chống dịch Covid-19"
            " (ICTVietnam (Tạp chí Thông tin & Truyền thông), 19/08/2021): «"
        )
        for reference in cited
    )
