"""Registry queries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import aliased

from tinhso.core.text import fold
from tinhso.registry.models import (
    AdministrativeUnit,
    InformationSystem,
    Organisation,
    RoleAssignment,
    SystemStatus,
    UnitLevel,
    UnitSet,
    UnitSuccession,
    User,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Select
    from sqlalchemy.orm import Session


def unit_by_code(session: Session, unit_set: UnitSet, code: str) -> AdministrativeUnit | None:
    return session.scalar(
        select(AdministrativeUnit).where(
            AdministrativeUnit.unit_set == unit_set, AdministrativeUnit.code == code
        )
    )


def units_query(
    unit_set: UnitSet,
    level: UnitLevel | None,
    parent_id: int | None,
    name_contains: str | None,
) -> Select[AdministrativeUnit]:
    query = select(AdministrativeUnit).where(AdministrativeUnit.unit_set == unit_set)
    if level is not None:
        query = query.where(AdministrativeUnit.level == level)
    if parent_id is not None:
        query = query.where(AdministrativeUnit.parent_id == parent_id)
    if name_contains:
        query = query.where(
            AdministrativeUnit.search_name.contains(fold(name_contains), autoescape=True)
        )
    return query.order_by(AdministrativeUnit.code)


def unit_codes(session: Session, ids: set[int]) -> dict[int, tuple[UnitSet, str]]:
    if not ids:
        return {}
    rows = session.execute(
        select(AdministrativeUnit.id, AdministrativeUnit.unit_set, AdministrativeUnit.code).where(
            AdministrativeUnit.id.in_(ids)
        )
    )
    return {row.id: (row.unit_set, row.code) for row in rows}


def successions(
    session: Session, *, legacy_id: int | None = None, current_id: int | None = None
) -> Sequence[tuple[AdministrativeUnit, AdministrativeUnit, bool]]:
    legacy = aliased(AdministrativeUnit)
    current = aliased(AdministrativeUnit)
    query = (
        select(legacy, current, UnitSuccession.partial)
        .join(legacy, legacy.id == UnitSuccession.legacy_unit_id)
        .join(current, current.id == UnitSuccession.current_unit_id)
    )
    if legacy_id is not None:
        query = query.where(UnitSuccession.legacy_unit_id == legacy_id).order_by(current.code)
    if current_id is not None:
        query = query.where(UnitSuccession.current_unit_id == current_id).order_by(legacy.code)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def organisation_by_code(session: Session, code: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.code == code))


def organisation_codes(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.code).where(Organisation.id.in_(ids))
    )
    return {row.id: row.code for row in rows}


def organisation_parent_ids(session: Session) -> dict[int, int | None]:
    """The whole organisation tree as child → parent (a province has hundreds, not millions)."""
    return {
        row.id: row.parent_id
        for row in session.execute(select(Organisation.id, Organisation.parent_id))
    }


def system_by_code(session: Session, organisation_id: int, code: str) -> InformationSystem | None:
    return session.scalar(
        select(InformationSystem).where(
            InformationSystem.organisation_id == organisation_id, InformationSystem.code == code
        )
    )


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def role_assignments(session: Session, user_id: int) -> list[RoleAssignment]:
    return list(session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user_id)))


def officials(
    session: Session, organisation_ids: set[int] | None
) -> tuple[list[User], list[RoleAssignment]]:
    """Users with a role in one of the organisations (None: every user), and all their roles
    (two queries, whatever the number of users)."""
    users = select(User).order_by(User.username)
    if organisation_ids is not None:
        users = users.where(
            User.id.in_(
                select(RoleAssignment.user_id).where(
                    RoleAssignment.organisation_id.in_(organisation_ids)
                )
            )
        )
    found = list(session.scalars(users))
    if not found:
        return [], []
    roles = session.scalars(
        select(RoleAssignment).where(RoleAssignment.user_id.in_([u.id for u in found]))
    )
    return found, list(roles)


def all_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name_vi)))


def all_systems(session: Session) -> list[InformationSystem]:
    return list(
        session.scalars(
            select(InformationSystem).order_by(InformationSystem.name_vi, InformationSystem.code)
        )
    )


def unit_names(session: Session, ids: set[int]) -> dict[int, tuple[str, UnitSet]]:
    if not ids:
        return {}
    rows = session.execute(
        select(AdministrativeUnit.id, AdministrativeUnit.name, AdministrativeUnit.unit_set).where(
            AdministrativeUnit.id.in_(ids)
        )
    )
    return {row.id: (row.name, row.unit_set) for row in rows}


def system_labels(session: Session, ids: set[int] | None = None) -> dict[int, tuple[str, str]]:
    """System id -> (organisation code, system code), for the given ids or every system."""
    query = select(InformationSystem.id, Organisation.code, InformationSystem.code).join(
        Organisation, Organisation.id == InformationSystem.organisation_id
    )
    if ids is not None:
        if not ids:
            return {}
        query = query.where(InformationSystem.id.in_(ids))
    return {row[0]: (row[1], row[2]) for row in session.execute(query)}


def active_system_ids(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(InformationSystem.id)
            .join(Organisation, InformationSystem.organisation_id == Organisation.id)
            .where(InformationSystem.status == SystemStatus.ACTIVE, ~Organisation.disabled)
        )
    )


def system_ids_of_organisations(session: Session, organisation_ids: set[int]) -> set[int]:
    if not organisation_ids:
        return set()
    return set(
        session.scalars(
            select(InformationSystem.id).where(
                InformationSystem.organisation_id.in_(organisation_ids)
            )
        )
    )


def system_owners(session: Session, ids: set[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(InformationSystem.id, InformationSystem.organisation_id).where(
            InformationSystem.id.in_(ids)
        )
    )
    return {row.id: row.organisation_id for row in rows}
