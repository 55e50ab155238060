"""Demo organisations, systems and the demo administrator (from the seed articles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.registry import repository
from tinhso.registry.accounts import account_service
from tinhso.registry.models import OrganisationKind, Role, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import (
    OrganisationCreate,
    RoleGrant,
    SystemCreate,
    UnitRef,
    UserCreate,
)
from tinhso.registry.systems import system_service
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

_LEGACY = UnitSet.LEGACY
# (code, name_vi, name_en, kind, parent, unit set, unit code)
ORGANISATIONS: list[
    tuple[str, str, str, OrganisationKind, str | None, UnitSet | None, str | None]
] = [
    (
        "ubnd-bac-giang",
        "UBND tỉnh Bắc Giang",
        "Bắc Giang Provincial People's Committee",
        OrganisationKind.PROVINCE_COMMITTEE,
        None,
        _LEGACY,
        "24",
    ),
    (
        "so-tttt-bac-giang",
        "Sở Thông tin và Truyền thông tỉnh Bắc Giang",
        "Bắc Giang Department of Information and Communications",
        OrganisationKind.DEPARTMENT,
        "ubnd-bac-giang",
        _LEGACY,
        "24",
    ),
    (
        "so-yte-bac-giang",
        "Sở Y tế tỉnh Bắc Giang",
        "Bắc Giang Department of Health",
        OrganisationKind.DEPARTMENT,
        "ubnd-bac-giang",
        _LEGACY,
        "24",
    ),
    (
        "so-tnmt-bac-giang",
        "Sở Tài nguyên và Môi trường tỉnh Bắc Giang",
        "Bắc Giang Department of Natural Resources and Environment",
        OrganisationKind.DEPARTMENT,
        "ubnd-bac-giang",
        _LEGACY,
        "24",
    ),
    (
        "ttpvhcc-bac-giang",
        "Trung tâm Phục vụ hành chính công tỉnh Bắc Giang",
        "Bắc Giang Public Administration Service Centre",
        OrganisationKind.PUBLIC_SERVICE_UNIT,
        "ubnd-bac-giang",
        _LEGACY,
        "24",
    ),
    (
        "ubnd-viet-yen",
        "UBND thị xã Việt Yên",
        "Việt Yên Town People's Committee",
        OrganisationKind.DISTRICT_COMMITTEE,
        "ubnd-bac-giang",
        _LEGACY,
        "222",
    ),
    (
        "ubnd-tp-bac-giang",
        "UBND thành phố Bắc Giang",
        "Bắc Giang City People's Committee",
        OrganisationKind.DISTRICT_COMMITTEE,
        "ubnd-bac-giang",
        _LEGACY,
        "213",
    ),
    (
        "ubnd-bac-ninh",
        "UBND tỉnh Bắc Ninh (từ 01/07/2025)",
        "Bắc Ninh Provincial People's Committee (from 01/07/2025)",
        OrganisationKind.PROVINCE_COMMITTEE,
        None,
        UnitSet.CURRENT,
        "24",
    ),
    (
        "ubnd-phuong-viet-yen",
        "UBND phường Việt Yên (từ 01/07/2025)",
        "Việt Yên Ward People's Committee (from 01/07/2025)",
        OrganisationKind.COMMUNE_COMMITTEE,
        "ubnd-bac-ninh",
        UnitSet.CURRENT,
        "07777",
    ),
    (
        "ubnd-thai-nguyen",
        "UBND tỉnh Thái Nguyên",
        "Thái Nguyên Provincial People's Committee",
        OrganisationKind.PROVINCE_COMMITTEE,
        None,
        _LEGACY,
        "19",
    ),
    (
        "so-tttt-thai-nguyen",
        "Sở Thông tin và Truyền thông tỉnh Thái Nguyên",
        "Thái Nguyên Department of Information and Communications",
        OrganisationKind.DEPARTMENT,
        "ubnd-thai-nguyen",
        _LEGACY,
        "19",
    ),
]

# (organisation, code, name_vi, name_en, consumer, provider)
SYSTEMS: list[tuple[str, str, str, str, bool, bool]] = [
    (
        "so-tttt-bac-giang",
        "lgsp",
        "Nền tảng tích hợp, chia sẻ dữ liệu tỉnh (LGSP)",
        "Provincial data integration and sharing platform (LGSP)",
        True,
        True,
    ),
    (
        "so-tttt-bac-giang",
        "qlvb",
        "Hệ thống quản lý văn bản và điều hành",
        "Document management and executive system",
        True,
        True,
    ),
    (
        "so-tttt-bac-giang",
        "thu-cong-vu",
        "Hệ thống thư điện tử công vụ",
        "Official e-mail system",
        False,
        True,
    ),
    (
        "ttpvhcc-bac-giang",
        "cong-dvc",
        "Cổng dịch vụ công tỉnh",
        "Provincial public service portal",
        True,
        True,
    ),
    (
        "ttpvhcc-bac-giang",
        "mot-cua",
        "Hệ thống thông tin một cửa điện tử",
        "One-stop-shop information system",
        True,
        True,
    ),
    (
        "so-yte-bac-giang",
        "kham-tu-xa",
        "Hệ thống khám chữa bệnh từ xa",
        "Telehealth system",
        True,
        True,
    ),
    ("so-tnmt-bac-giang", "csdl-dat-dai", "Cơ sở dữ liệu đất đai", "Land database", False, True),
    (
        "ubnd-viet-yen",
        "mot-cua-viet-yen",
        "Một cửa điện tử thị xã Việt Yên",
        "Việt Yên one-stop shop",
        True,
        False,
    ),
]

DEMO_USERS: list[tuple[str, str, str, Role]] = [
    ("canbo.tttt", "Nguyễn Văn An", "so-tttt-bac-giang", Role.OFFICER),
    ("quantri.tttt", "Trần Thị Bình", "so-tttt-bac-giang", Role.ORGANISATION_ADMIN),
    ("xem.vietyen", "Lê Văn Cường", "ubnd-viet-yen", Role.VIEWER),
    # A commune officer of the two-level government (a ward of Bắc Ninh since 01/07/2025).
    ("canbo.phuongvietyen", "Phạm Thị Dung", "ubnd-phuong-viet-yen", Role.OFFICER),
]


def load_registry_demo(
    session: Session, admin_password: str, progress: Callable[[str, int], None] | None = None
) -> None:
    """Create the demo registry (idempotent: existing rows are left as they are)."""
    if repository.unit_by_code(session, UnitSet.LEGACY, "24") is None:
        unit_service.import_catalogue(session, progress)
    for code, name_vi, name_en, kind, parent, unit_set, unit_code in ORGANISATIONS:
        if repository.organisation_by_code(session, code) is None:
            organisation_service.create(
                session,
                OrganisationCreate(
                    code=code,
                    name_vi=name_vi,
                    name_en=name_en,
                    kind=kind,
                    parent_code=parent,
                    administrative_unit=(
                        UnitRef(unit_set=unit_set, code=unit_code)
                        if unit_set and unit_code
                        else None
                    ),
                ),
            )
    for organisation, code, name_vi, name_en, consumer, provider in SYSTEMS:
        owner = organisation_service.get(session, organisation)
        if repository.system_by_code(session, owner.id, code) is None:
            system_service.create(
                session,
                SystemCreate(
                    code=code,
                    organisation_code=organisation,
                    name_vi=name_vi,
                    name_en=name_en,
                    is_consumer=consumer,
                    is_provider=provider,
                ),
            )
    if repository.user_by_username(session, "admin") is None:
        account_service.create(
            session,
            UserCreate(username="admin", full_name="Quản trị viên", password=admin_password),
            platform_admin=True,
        )
    for username, full_name, organisation, role in DEMO_USERS:
        if repository.user_by_username(session, username) is None:
            account_service.create(
                session,
                UserCreate(
                    username=username,
                    full_name=full_name,
                    password=admin_password,
                    roles=[RoleGrant(organisation_code=organisation, role=role)],
                ),
            )
    if progress:
        progress("registry", len(ORGANISATIONS) + len(SYSTEMS))
