"""A small world for the alert tests: an indicator with a target for every commune of
Bắc Ninh (≥ 60 in 2026, from 40 in 2024), 2025 values for two communes, and the
commune committee of Việt Yên with an admin who has an e-mail address."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import TEST_PASSWORD
from tinhso.monitoring.alerts.schemas import RuleCreate
from tinhso.monitoring.alerts.service import alert_service
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
from tinhso.registry.accounts import account_service
from tinhso.registry.models import OrganisationKind, Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, RoleGrant, UnitRef, UserCreate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# Communes of Bắc Ninh (24) since 01/07/2025.
VIET_YEN, DA_MAI, YEN_DUNG = "07777", "07228", "07681"
ELEMENT, INDICATOR = "canh_bao_pct", "canh_bao"
OFFICIAL_EMAIL = "chu-tich@vietyen.example.vn"


def record(sessions: sessionmaker[Session], rows: list[tuple[str, str, float]]) -> None:
    items = [
        ValueIn.model_validate(
            {
                "element_code": ELEMENT,
                "unit": {"unit_set": "current", "code": code},
                "period": period,
                "value": value,
            }
        )
        for code, period, value in rows
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))


def add_rule(sessions: sessionmaker[Session], **fields: Any) -> None:
    data = {
        "code": "cham-tien-do",
        "name_vi": "Xã chậm tiến độ cáp quang",
        "name_en": "Commune behind on fibre",
        "kind": "behind_trajectory",
        "indicator_code": INDICATOR,
        "scope_unit": {"unit_set": "current", "code": "24"},
        "scope_level": "commune",
        "period": "2025",
        **fields,
    }
    with sessions.begin() as session:
        alert_service.create_rule(session, RuleCreate.model_validate(data))


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        catalogue_service.create_element(
            session,
            ElementCreate.model_validate(
                {
                    "code": ELEMENT,
                    "name_vi": "Hộ có cáp quang",
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
                code=INDICATOR,
                name_vi="Tỷ lệ hộ có cáp quang",
                name_en="Households with fibre",
                formula=ELEMENT,
                unit_of_measure="%",
            ),
        )
        plan = plan_service.create(
            session,
            PlanCreate(
                code="kh-canh-bao",
                number="1/KH-CB",
                title_vi="Kế hoạch cảnh báo",
                issuing_body="UBND tỉnh Bắc Ninh",
            ),
        )
        plan_service.add_target(
            session,
            plan,
            TargetCreate.model_validate(
                {
                    "indicator_code": INDICATOR,
                    "scope_unit": {"unit_set": "current", "code": "24"},
                    "scope_level": "commune",
                    "year": 2026,
                    "comparison": ">=",
                    "target_value": 60,
                    "baseline_value": 40,
                    "baseline_year": 2024,
                }
            ),
        )
        organisation_service.create(
            session,
            OrganisationCreate(
                code="ubnd-xa-viet-yen",
                name_vi="UBND xã Việt Yên",
                kind=OrganisationKind.COMMUNE_COMMITTEE,
                administrative_unit=UnitRef(code=VIET_YEN),
            ),
        )
        account_service.create(
            session,
            UserCreate(
                username="chu-tich-viet-yen",
                full_name="Chủ tịch xã Việt Yên",
                email=OFFICIAL_EMAIL,
                password=TEST_PASSWORD,
                roles=[
                    RoleGrant(organisation_code="ubnd-xa-viet-yen", role=Role.ORGANISATION_ADMIN)
                ],
            ),
        )
    # Halfway from 40 (2024) to 60 (2026) is 50 in 2025: Việt Yên is behind, Đa Mai on track.
    record(sessions, [(VIET_YEN, "2025", 45), (DA_MAI, "2025", 55)])
