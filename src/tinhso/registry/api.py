"""Registry JSON API under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from tinhso.core.db import DbSession
from tinhso.core.errors import Forbidden, InvalidInput
from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.registry import repository
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import CurrentUser, can_administer, require_administrator
from tinhso.registry.models import (
    AdministrativeUnit,
    CredentialKind,
    InformationSystem,
    Organisation,
    OrganisationKind,
    UnitLevel,
    UnitSet,
    User,
)
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import (
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    RoleGrant,
    SuccessionOut,
    SystemCreate,
    SystemOut,
    SystemUpdate,
    TokenOut,
    TokenRequest,
    UnitOut,
    UnitRef,
    UserCreate,
    UserOut,
)
from tinhso.registry.systems import system_service
from tinhso.registry.units import unit_service

router = APIRouter(prefix="/api/v1")


def _unit_out(unit: AdministrativeUnit, parent_code: str | None) -> UnitOut:
    return UnitOut(
        unit_set=unit.unit_set,
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        level=unit.level,
        parent_code=parent_code,
        valid_from=unit.valid_from,
        valid_to=unit.valid_to,
    )


def _units_out(session: DbSession, units: list[AdministrativeUnit]) -> list[UnitOut]:
    parents = repository.unit_codes(session, {u.parent_id for u in units if u.parent_id})
    return [_unit_out(u, parents[u.parent_id][1] if u.parent_id else None) for u in units]


def _organisations_out(
    session: DbSession, organisations: list[Organisation]
) -> list[OrganisationOut]:
    parents = repository.organisation_codes(
        session, {o.parent_id for o in organisations if o.parent_id}
    )
    units = repository.unit_codes(
        session, {o.administrative_unit_id for o in organisations if o.administrative_unit_id}
    )
    return [
        OrganisationOut(
            code=o.code,
            name_vi=o.name_vi,
            name_en=o.name_en,
            kind=o.kind,
            parent_code=parents[o.parent_id] if o.parent_id else None,
            administrative_unit=(
                UnitRef(
                    unit_set=units[o.administrative_unit_id][0],
                    code=units[o.administrative_unit_id][1],
                )
                if o.administrative_unit_id
                else None
            ),
            tax_code=o.tax_code,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )
        for o in organisations
    ]


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


# --- Administrative units: public reference data --------------------------------------------


@router.get("/units", tags=["units"], summary="List administrative units (public)")
def list_units(
    session: DbSession,
    pagination: Pagination,
    unit_set: Annotated[UnitSet, Query(alias="set")] = UnitSet.CURRENT,
    level: UnitLevel | None = None,
    parent: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[UnitOut]:
    parent_id = None
    if parent:
        parent_id = unit_service.get(session, unit_set, parent).id
    query = repository.units_query(unit_set, level, parent_id, q)
    rows, total = fetch_page(session, query, pagination)
    units = [row for row in rows if isinstance(row, AdministrativeUnit)]
    return Page(
        items=_units_out(session, units),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@router.get("/units/{unit_set}/{code}", tags=["units"], summary="One administrative unit (public)")
def get_unit(session: DbSession, unit_set: UnitSet, code: str) -> UnitOut:
    return _units_out(session, [unit_service.get(session, unit_set, code)])[0]


@router.get(
    "/units/legacy/{code}/successors",
    tags=["units"],
    summary="What a legacy unit became on 01/07/2025 (public)",
)
def unit_successors(session: DbSession, code: str) -> list[SuccessionOut]:
    return _successions_out(session, unit_service.successors(session, code))


@router.get(
    "/units/current/{code}/predecessors",
    tags=["units"],
    summary="Which legacy units make up a current unit (public)",
)
def unit_predecessors(session: DbSession, code: str) -> list[SuccessionOut]:
    return _successions_out(session, unit_service.predecessors(session, code))


def _successions_out(
    session: DbSession, rows: list[tuple[AdministrativeUnit, AdministrativeUnit, bool]]
) -> list[SuccessionOut]:
    legacy = _units_out(session, [row[0] for row in rows])
    current = _units_out(session, [row[1] for row in rows])
    return [
        SuccessionOut(legacy=old, current=new, partial=row[2])
        for old, new, row in zip(legacy, current, rows, strict=True)
    ]


# --- Organisations ----------------------------------------------------------------------------


@router.get("/organisations", tags=["organisations"], summary="List organisations (any official)")
def list_organisations(
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
    parent: Annotated[str | None, Query(max_length=64)] = None,
    kind: OrganisationKind | None = None,
) -> Page[OrganisationOut]:
    query = select(Organisation).order_by(Organisation.code)
    if parent:
        query = query.where(Organisation.parent_id == organisation_service.get(session, parent).id)
    if kind:
        query = query.where(Organisation.kind == kind)
    rows, total = fetch_page(session, query, pagination)
    return Page(
        items=_organisations_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@router.post(
    "/organisations",
    tags=["organisations"],
    status_code=status.HTTP_201_CREATED,
    summary="Create an organisation (platform admin; organisation admin under their tree)",
)
def create_organisation(
    session: DbSession, principal: CurrentUser, data: OrganisationCreate
) -> OrganisationOut:
    if data.parent_code is None:
        if not principal.is_platform_admin:
            raise Forbidden(
                "Chỉ quản trị viên nền tảng được tạo tổ chức cấp cao nhất",
                "Only platform administrators may create top-level organisations",
                field="parent_code",
            )
    else:
        parent = repository.organisation_by_code(session, data.parent_code)
        if parent is None:
            raise InvalidInput(
                f"Tổ chức cấp trên {data.parent_code} không tồn tại",
                f"Parent organisation {data.parent_code} does not exist",
                field="parent_code",
            )
        require_administrator(session, principal, parent.id)
    organisation = organisation_service.create(session, data)
    return _organisations_out(session, [organisation])[0]


@router.get(
    "/organisations/{code}", tags=["organisations"], summary="One organisation (any official)"
)
def get_organisation(session: DbSession, principal: CurrentUser, code: str) -> OrganisationOut:
    return _organisations_out(session, [organisation_service.get(session, code)])[0]


@router.patch(
    "/organisations/{code}",
    tags=["organisations"],
    summary="Change an organisation (its admins; moving needs admin rights at the destination)",
)
def update_organisation(
    session: DbSession, principal: CurrentUser, code: str, data: OrganisationUpdate
) -> OrganisationOut:
    organisation = organisation_service.get(session, code)
    require_administrator(session, principal, organisation.id)
    if "parent_code" in data.model_fields_set:
        if data.parent_code is None and not principal.is_platform_admin:
            raise Forbidden(
                "Chỉ quản trị viên nền tảng được đưa tổ chức lên cấp cao nhất",
                "Only platform administrators may make an organisation top-level",
                field="parent_code",
            )
        if data.parent_code is not None:
            target = organisation_service.get(session, data.parent_code)
            require_administrator(session, principal, target.id)
    organisation = organisation_service.update(session, organisation, data)
    return _organisations_out(session, [organisation])[0]


@router.delete(
    "/organisations/{code}",
    tags=["organisations"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an empty organisation (admins of its parent)",
)
def delete_organisation(session: DbSession, principal: CurrentUser, code: str) -> Response:
    organisation = organisation_service.get(session, code)
    if organisation.parent_id is None:
        if not principal.is_platform_admin:
            raise Forbidden(
                "Chỉ quản trị viên nền tảng được xóa tổ chức cấp cao nhất",
                "Only platform administrators may delete top-level organisations",
            )
    else:
        require_administrator(session, principal, organisation.parent_id)
    organisation_service.delete(session, organisation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- Information systems ----------------------------------------------------------------------


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


# --- Officials: tokens, users, roles ----------------------------------------------------------


@router.post(
    "/auth/tokens",
    tags=["auth"],
    summary="Exchange a username and password for a short-lived API token (public)",
)
def issue_token(request: Request, session: DbSession, data: TokenRequest) -> TokenOut:
    issued = account_service.login(
        session,
        data.username,
        data.password,
        CredentialKind.API_TOKEN,
        request.app.state.settings.api_token_minutes,
    )
    return TokenOut(access_token=issued.token, expires_in=issued.expires_in)


@router.delete(
    "/auth/tokens/current",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the bearer token of this request (its holder)",
)
def revoke_token(request: Request, session: DbSession, principal: CurrentUser) -> Response:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if principal.credential is CredentialKind.API_TOKEN and token:
        account_service.revoke(session, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _user_out(session: DbSession, user: User) -> UserOut:
    roles = account_service.roles(session, user)
    codes = repository.organisation_codes(session, set(roles))
    return UserOut(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        is_active=user.is_active,
        is_platform_admin=user.is_platform_admin,
        roles=[
            RoleGrant(organisation_code=codes[org], role=role)
            for org, role in sorted(roles.items())
        ],
    )


@router.get("/users/me", tags=["users"], summary="The official making the request")
def who_am_i(session: DbSession, principal: CurrentUser) -> UserOut:
    return _user_out(session, account_service.get(session, principal.username))


@router.post(
    "/users",
    tags=["users"],
    status_code=status.HTTP_201_CREATED,
    summary="Create an official (platform admin; organisation admins with roles in their tree)",
)
def create_user(session: DbSession, principal: CurrentUser, data: UserCreate) -> UserOut:
    if not principal.is_platform_admin:
        if not data.roles:
            raise Forbidden(
                "Quản trị viên tổ chức phải gán ít nhất một vai trò trong tổ chức của mình",
                "Organisation admins must give the new user a role in their own tree",
                field="roles",
            )
        for grant in data.roles:
            organisation = organisation_service.get(session, grant.organisation_code)
            require_administrator(session, principal, organisation.id)
    return _user_out(session, account_service.create(session, data))


@router.get(
    "/users/{username}",
    tags=["users"],
    summary="One official (themselves, platform admins, or admins of an organisation they belong to)",
)
def get_user(session: DbSession, principal: CurrentUser, username: str) -> UserOut:
    user = account_service.get(session, username)
    if username != principal.username and not principal.is_platform_admin:
        roles = account_service.roles(session, user)
        if not any(can_administer(session, principal, org) for org in roles):
            raise Forbidden("Bạn không có quyền xem người dùng này", "You may not view this user")
    return _user_out(session, user)


@router.put(
    "/users/{username}/roles",
    tags=["users"],
    summary="Give an official a role in an organisation (admins of that organisation)",
)
def assign_role(
    session: DbSession, principal: CurrentUser, username: str, grant: RoleGrant
) -> UserOut:
    user = account_service.get(session, username)
    organisation = organisation_service.get(session, grant.organisation_code)
    require_administrator(session, principal, organisation.id)
    account_service.assign_role(session, user, grant)
    return _user_out(session, user)


@router.delete(
    "/users/{username}/roles/{organisation_code}",
    tags=["users"],
    summary="Remove an official's role in an organisation (admins of that organisation)",
)
def remove_role(
    session: DbSession, principal: CurrentUser, username: str, organisation_code: str
) -> UserOut:
    user = account_service.get(session, username)
    organisation = organisation_service.get(session, organisation_code)
    require_administrator(session, principal, organisation.id)
    account_service.remove_role(session, user, organisation.id)
    return _user_out(session, user)
