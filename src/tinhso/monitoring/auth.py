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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinhso.core.errors import Forbidden
from tinhso.registry.models import Organisation, OrganisationKind, Role, UnitLevel
from tinhso.registry.organisations import organisation_service, subtree_of
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

_WRITERS = {Role.ORGANISATION_ADMIN, Role.OFFICER}


def _is_province_organisation(session: Session, organisation: Organisation) -> bool:
    if organisation.kind is not OrganisationKind.PROVINCE_COMMITTEE:
        return False
    if organisation.parent_id is not None or organisation.administrative_unit_id is None:
        return False
    unit = unit_service.nodes(session, [organisation.administrative_unit_id]).get(
        organisation.administrative_unit_id
    )
    return unit is not None and unit.level is UnitLevel.PROVINCE


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


def writable_unit_roots(session: Session, principal: Principal) -> set[int]:
    """The units whose subtrees this official may enter values for.

    The organisation tree is read once (a province has hundreds of organisations)."""
    if not any(role in _WRITERS for role in principal.roles.values()):
        return set()
    organisations = organisation_service.list_all(session)
    parents = {o.id: o.parent_id for o in organisations}
    units = {o.id: o.administrative_unit_id for o in organisations}
    children: dict[int | None, list[int]] = {}
    for child, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)

    def unit_of(organisation_id: int) -> int | None:
        """The unit an organisation acts for: its own, or the nearest one above it."""
        seen: set[int] = set()
        current: int | None = organisation_id
        while current is not None and current not in seen and current in parents:
            seen.add(current)
            if units[current] is not None:
                return units[current]
            current = parents[current]
        return None

    roots: set[int] = set()
    for organisation_id, role in principal.roles.items():
        if role not in _WRITERS:
            continue
        members = (
            subtree_of(children, organisation_id)
            if role is Role.ORGANISATION_ADMIN
            else {organisation_id}
        )
        for member in members:
            unit_id = unit_of(member)
            if unit_id is not None:
                roots.add(unit_id)
    return roots


def _refused(unit_label: str, field: str) -> Forbidden:
    return Forbidden(
        f"Bạn không được nhập số liệu cho đơn vị {unit_label}: chỉ cán bộ của cơ quan "
        "phụ trách đơn vị đó (hoặc đơn vị cấp trên) được nhập",
        f"You may not enter values for {unit_label}: only officers of an organisation "
        "responsible for that unit (or a unit above it) may",
        field=field,
    )


@dataclass
class ValueWriter:
    """Who may write which unit, worked out once for a request or a batch and then
    checked per value without a query: ``writer(unit_id, label, field)`` raises Forbidden.

    Officers of an organisation tied to a unit (or a unit above it) write that unit's
    subtree; platform admins write any unit. Use one per request or batch: it does not
    see role or organisation changes made after its first check."""

    session: Session
    principal: Principal
    _units: frozenset[int] | None = field(default=None, init=False, repr=False)

    def units(self) -> frozenset[int]:
        """Every unit this official may enter values for (empty for a platform admin,
        who may enter any: see `allows`)."""
        if self._units is None:
            roots = (
                set()
                if self.principal.is_platform_admin
                else writable_unit_roots(self.session, self.principal)
            )
            self._units = frozenset(unit_service.descendant_ids(self.session, roots))
        return self._units

    def allows(self, unit_id: int) -> bool:
        return self.principal.is_platform_admin or unit_id in self.units()

    def __call__(self, unit_id: int, unit_label: str, field: str) -> None:
        if not self.allows(unit_id):
            raise _refused(unit_label, field)


def value_writer(session: Session, principal: Principal) -> ValueWriter:
    """The check to pass as ``authorise`` to a batch write or an import."""
    return ValueWriter(session, principal)


def require_value_writer(
    session: Session, principal: Principal, unit_id: int, unit_label: str, field: str
) -> None:
    """Officers of an organisation tied to this unit or one above it (and platform admins).

    For one value; a batch uses one `value_writer` for all its values."""
    value_writer(session, principal)(unit_id, unit_label, field)
