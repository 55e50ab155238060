"""A small reports world: Bắc Ninh's committee (current set) over the committee of Phường Việt
Yên, a health department, three categories and their routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.opendata.conftest import served  # noqa: F401 - the app served on loopback
from tinhso.registry.models import OrganisationKind, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, UnitRef
from tinhso.registry.units import unit_service
from tinhso.reports.handling import routing
from tinhso.reports.models import ReportCategory, Severity

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

PROVINCE = "24"  # Bắc Ninh since 01/07/2025
WARD = "07777"  # Phường Việt Yên
OTHER_COMMUNE = "07228"  # Phường Đa Mai

ATTRIBUTES: list[dict[str, Any]] = [
    {
        "code": "muc-do",
        "datatype": "singlevaluelist",
        "required": True,
        "order": 1,
        "description": "Mức độ",
        "values": [{"key": "nho", "name": "Nhỏ"}, {"key": "lon", "name": "Lớn"}],
    },
    {
        "code": "loai",
        "datatype": "multivaluelist",
        "required": False,
        "order": 2,
        "description": "Loại",
        "values": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
    },
    {
        "code": "dien-tich",
        "datatype": "number",
        "required": False,
        "order": 3,
        "description": "Diện tích",
    },
    {"code": "luc", "datatype": "datetime", "required": False, "order": 4, "description": "Lúc"},
    {
        "code": "ghi-chu",
        "datatype": "text",
        "required": False,
        "order": 5,
        "description": "Ghi chú",
    },
    {
        "code": "so-thua",
        "datatype": "string",
        "required": False,
        "order": 6,
        "description": "Số thửa",
    },
]


@dataclass(frozen=True)
class ReportsWorld:
    province_org: str = "ubnd-bac-ninh"
    ward_org: str = "ubnd-phuong-viet-yen"
    health: str = "so-yte-bac-ninh"
    outsider: str = "ubnd-tinh-khac"


@pytest.fixture
def reports_world(sessions: sessionmaker[Session]) -> ReportsWorld:
    world = ReportsWorld()
    tree = [
        (
            world.province_org,
            "UBND tỉnh Bắc Ninh",
            OrganisationKind.PROVINCE_COMMITTEE,
            None,
            PROVINCE,
        ),
        (
            world.ward_org,
            "UBND phường Việt Yên",
            OrganisationKind.COMMUNE_COMMITTEE,
            world.province_org,
            WARD,
        ),
        (
            world.health,
            "Sở Y tế tỉnh Bắc Ninh",
            OrganisationKind.DEPARTMENT,
            world.province_org,
            None,
        ),
        (world.outsider, "UBND tỉnh khác", OrganisationKind.PROVINCE_COMMITTEE, None, None),
    ]
    with sessions.begin() as session:
        for code, name, kind, parent, unit in tree:
            organisation_service.create(
                session,
                OrganisationCreate(
                    code=code,
                    name_vi=name,
                    kind=kind,
                    parent_code=parent,
                    administrative_unit=UnitRef(unit_set=UnitSet.CURRENT, code=unit)
                    if unit
                    else None,
                ),
            )
        categories = {
            "moi-truong": ReportCategory(
                code="moi-truong",
                name_vi="Môi trường",
                name_en="Environment",
                severity=Severity.NORMAL,
                attributes=ATTRIBUTES,
            ),
            "dien-nuoc": ReportCategory(
                code="dien-nuoc",
                name_vi="Điện, nước",
                name_en="Electricity and water",
                severity=Severity.URGENT,
                attributes=[],
            ),
            "y-te": ReportCategory(
                code="y-te",
                name_vi="Y tế",
                name_en="Healthcare",
                severity=Severity.NORMAL,
                attributes=[],
            ),
        }
        session.add_all(categories.values())
        session.flush()
        province = unit_service.get(session, UnitSet.CURRENT, PROVINCE)
        ward = unit_service.get(session, UnitSet.CURRENT, WARD)
        ids = {o.code: o.id for o in organisation_service.list_all(session)}
        routing.set_route(session, None, province.id, ids[world.province_org])
        routing.set_route(session, None, ward.id, ids[world.ward_org])
        routing.set_route(session, categories["y-te"].id, None, ids[world.health])
    return world
