"""Information system routes under /api/v1/systems: every official reads them; admins of
the owning organisation register and change them. Mounted by `tinhso.registry.api`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from tinhso.core.errors import InvalidInput
from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.core.web import DbSession
from tinhso.registry import repository
from tinhso.registry.auth import CurrentUser, require_administrator
from tinhso.registry.models import InformationSystem
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import SystemCreate, SystemOut, SystemUpdate
from tinhso.registry.systems import system_service

router = APIRouter(prefix="/api/v1")


def _systems_out(session: DbSession, systems: list[InformationSystem]) -> list[SystemOut]:
    owners = repository.organisation_codes(session, {s.organisation_id for s in systems})
    return [
        SystemOut(
            code=s.code,
            organisation_code=owners[s.organisation_id],
            name_vi=s.name_vi,
            name_en=s.name_en,
            description=s.description,
            is_consumer=s.is_consumer,
            is_provider=s.is_provider,
            status=s.status,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
        for s in systems
    ]


@router.get("/systems", tags=["systems"], summary="List information systems (any official)")
def list_systems(
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
    organisation: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[SystemOut]:
    query = select(InformationSystem).order_by(
        InformationSystem.organisation_id, InformationSystem.code
    )
    if organisation:
        owner = organisation_service.get(session, organisation)
        query = query.where(InformationSystem.organisation_id == owner.id)
    rows, total = fetch_page(session, query, pagination)
    return Page(
        items=_systems_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@router.post(
    "/systems",
    tags=["systems"],
    status_code=status.HTTP_201_CREATED,
    summary="Register an information system (admins of the owning organisation)",
)
def create_system(session: DbSession, principal: CurrentUser, data: SystemCreate) -> SystemOut:
    owner = repository.organisation_by_code(session, data.organisation_code)
    if owner is None:
        raise InvalidInput(
            f"Tổ chức {data.organisation_code} không tồn tại",
            f"Organisation {data.organisation_code} does not exist",
            field="organisation_code",
        )
    require_administrator(session, principal, owner.id)
    return _systems_out(session, [system_service.create(session, data)])[0]


@router.get(
    "/systems/{organisation_code}/{code}",
    tags=["systems"],
    summary="One information system (any official)",
)
def get_system(
    session: DbSession, principal: CurrentUser, organisation_code: str, code: str
) -> SystemOut:
    return _systems_out(session, [system_service.get(session, organisation_code, code)])[0]


@router.patch(
    "/systems/{organisation_code}/{code}",
    tags=["systems"],
    summary="Change an information system (admins of the owning organisation)",
)
def update_system(
    session: DbSession,
    principal: CurrentUser,
    organisation_code: str,
    code: str,
    data: SystemUpdate,
) -> SystemOut:
    system = system_service.get(session, organisation_code, code)
    require_administrator(session, principal, system.organisation_id)
    return _systems_out(session, [system_service.update(session, system, data)])[0]
