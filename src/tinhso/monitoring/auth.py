"""Who may do what in monitoring.

- The catalogue (pillars, data elements, indicators, validation rules, plans and targets,
  methodologies) is managed by platform administrators and by administrators of the
  province organisation: a top-level province committee (UBND tỉnh) tied to a
  province-level administrative unit.
- Values are entered by officers (and admins) of an organisation for the administrative
  unit the organisation is tied to and every unit below it. An organisation not tied to
  a unit (a department, sở) acts for the unit of the nearest organisation above it, so
  the Department of Information and Communications enters province-wide values.
- Every logged-in official (any role, viewers included) reads the catalogue, the values
  with their provenance and the computed indicators, progress, rankings and the index.
  Nothing here is public: publishing indicator tables is the open-data domain's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.errors import Forbidden
from tinhso.monitoring import repository
from tinhso.registry.models import Organisation, OrganisationKind, Role, UnitLevel
from tinhso.registry.service import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

_WRITERS = {Role.ORGANISATION_ADMIN, Role.OFFICER}


def _is_province_organisation(session: Session, organisation: Organisation) -> bool:
    if organisation.kind is not OrganisationKind.PROVINCE_COMMITTEE:
        return False
    if organisation.parent_id is not None or organisation.administrative_unit_id is None:
        return False
    rows = repository.unit_levels(session, [organisation.administrative_unit_id])
    return rows.get(organisation.administrative_unit_id) is UnitLevel.PROVINCE


def can_manage_catalogue(session: Session, principal: Principal) -> bool:
    if principal.is_platform_admin:
        return True
    for organisation_id, role in principal.roles.items():
        if role is not Role.ORGANISATION_ADMIN:
            continue
        organisation = session.get(Organisation, organisation_id)
        if organisation is not None and _is_province_organisation(session, organisation):
            return True
    return False


def require_catalogue_manager(session: Session, principal: Principal) -> None:
    if not can_manage_catalogue(session, principal):
        raise Forbidden(
            "Chỉ quản trị viên nền tảng hoặc quản trị viên UBND tỉnh được quản lý danh mục "
            "chỉ tiêu, kế hoạch và bộ chỉ số",
            "Only platform administrators and administrators of the province organisation "
            "may manage elements, indicators, plans, targets and methodologies",
        )


def _unit_of(session: Session, organisation_id: int) -> int | None:
    """The unit an organisation acts for: its own, or the nearest one above it."""
    for ancestor_id in organisation_service.ancestor_ids(session, organisation_id):
        organisation = session.get(Organisation, ancestor_id)
        if organisation is not None and organisation.administrative_unit_id is not None:
            return organisation.administrative_unit_id
    return None


def writable_unit_roots(session: Session, principal: Principal) -> set[int]:
    """The units whose subtrees this official may enter values for."""
    roots: set[int] = set()
    for organisation_id, role in principal.roles.items():
        if role not in _WRITERS:
            continue
        organisations = (
            organisation_service.subtree_ids(session, organisation_id)
            if role is Role.ORGANISATION_ADMIN
            else {organisation_id}
        )
        for member in organisations:
            unit_id = _unit_of(session, member)
            if unit_id is not None:
                roots.add(unit_id)
    return roots


def require_value_writer(
    session: Session, principal: Principal, unit_id: int, unit_label: str, field: str
) -> None:
    """Officers of an organisation tied to this unit or one above it (and platform admins)."""
    if principal.is_platform_admin:
        return
    roots = writable_unit_roots(session, principal)
    if roots and roots & set(repository.unit_ancestor_ids(session, unit_id)):
        return
    raise Forbidden(
        f"Bạn không được nhập số liệu cho đơn vị {unit_label}: chỉ cán bộ của cơ quan "
        "phụ trách đơn vị đó (hoặc đơn vị cấp trên) được nhập",
        f"You may not enter values for {unit_label}: only officers of an organisation "
        "responsible for that unit (or a unit above it) may",
        field=field,
    )
