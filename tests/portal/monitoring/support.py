"""Monitoring data for the portal tests.

- ``load_demo``: the monitoring demo (Plan 324/KH-UBND of Bắc Giang, legacy unit 24, with
  its reported and synthetic values). Its figures may evolve, so tests compare the pages
  with what the monitoring service computes rather than with fixed statuses.
- ``load_test_plan``: a small plan of our own, built through the monitoring services, whose
  five targets have known statuses when assessed as of 2024 (one of each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.monitoring.demo import load_monitoring_demo
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import (
    ElementCreate,
    IndicatorCreate,
    PlanCreate,
    TargetCreate,
    ValueIn,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

DEMO_PLAN = "bg_kh_324"
PLAN = "kh_kiem_thu"
PLAN_NUMBER = "99/KH-KT"
AS_OF = 2024
SOURCE = "Báo cáo kết quả chuyển đổi số (dữ liệu kiểm thử)"
BAC_GIANG = UnitRef(unit_set="legacy", code="24")  # type: ignore[arg-type]

# indicator code, Vietnamese name, (year, operator, goal), values {period: value}, status
TARGETS: list[tuple[str, str, tuple[int, str, float], dict[str, float], str]] = [
    (
        "kt_ho_so_tinh",
        "Hồ sơ công việc cấp tỉnh xử lý trực tuyến",
        (2021, ">=", 90),
        {"2021": 95},
        "achieved",
    ),
    (
        "kt_ho_so_huyen",
        "Hồ sơ công việc cấp huyện xử lý trực tuyến",
        (2021, ">=", 80),
        {"2021": 70},
        "not_achieved",
    ),
    (
        "kt_cap_quang",
        "Hộ gia đình có cáp quang",
        (2025, ">", 80),
        {"2022": 50, "2024": 60},
        "behind",
    ),
    (
        "kt_thanh_toan",
        "Dân số có tài khoản thanh toán điện tử",
        (2025, ">", 50),
        {"2022": 20, "2024": 45.5},
        "on_track",
    ),
    ("kt_5g", "Khu dân cư được phủ sóng 5G", (2025, ">=", 100), {}, "no_data"),
]
EXPECTED_STATUS = {code: status for code, _name, _goal, _values, status in TARGETS}


def load_demo(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        load_monitoring_demo(session)


def load_test_plan(sessions: sessionmaker[Session]) -> None:
    """The demo, plus our own plan with one target of each status (as of 2024)."""
    load_demo(sessions)
    with sessions.begin() as session:
        plan = plan_service.create(
            session,
            PlanCreate(
                code=PLAN,
                number=PLAN_NUMBER,
                title_vi="Kế hoạch kiểm thử giám sát chuyển đổi số",
                title_en="Test plan for digital-transformation monitoring",
                issuing_body="UBND tỉnh Bắc Giang",
                start_year=2021,
                end_year=2025,
            ),
        )
        items: list[ValueIn] = []
        for code, name, (year, operator, goal), values, _status in TARGETS:
            catalogue_service.create_element(
                session,
                ElementCreate.model_validate(
                    {
                        "code": f"{code}_pct",
                        "name_vi": name,
                        "unit_of_measure": "%",
                        "value_type": "percentage",
                        "aggregation": "none",
                        "period_type": "year",
                    }
                ),
            )
            catalogue_service.create_indicator(
                session,
                IndicatorCreate(
                    code=code,
                    name_vi=f"Tỷ lệ {name.lower()}",
                    formula=f"{code}_pct",
                    unit_of_measure="%",
                    pillar_code="digital_government",
                ),
            )
            plan_service.add_target(
                session,
                plan,
                TargetCreate.model_validate(
                    {
                        "indicator_code": code,
                        "scope_unit": {"unit_set": "legacy", "code": "24"},
                        "scope_unit_set": "legacy",
                        "year": year,
                        "comparison": operator,
                        "target_value": goal,
                    }
                ),
            )
            items.extend(
                ValueIn.model_validate(
                    {
                        "element_code": f"{code}_pct",
                        "unit": {"unit_set": "legacy", "code": "24"},
                        "period": period,
                        "value": value,
                        "source": "file",
                        "source_reference": SOURCE,
                    }
                )
                for period, value in values.items()
            )
        value_service.record_many(session, items, Provenance(entered_by_id=None))


def record_revised_payment_share(sessions: sessionmaker[Session]) -> None:
    """A new 2024 value (47.25, achievement 94.5 %) for the test plan's cashless-payment
    target, committed by none of the processes that may have kept the figures."""
    item = ValueIn.model_validate(
        {
            "element_code": "kt_thanh_toan_pct",
            "unit": {"unit_set": "legacy", "code": "24"},
            "period": "2024",
            "value": 47.25,
            "source": "file",
            "source_reference": SOURCE,
        }
    )
    with sessions.begin() as session:
        value_service.record_many(session, [item], Provenance(entered_by_id=None))
