"""Organisation routes under /api/v1/organisations: every official reads the tree; platform
admins and organisation admins (under their own tree) create, change, move and delete.
Mounted by `tinhso.registry.api`; who may do what is in `tinhso.registry.auth`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from tinhso.core.errors import Forbidden
from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.core.web import DbSession
from tinhso.registry import repository
from tinhso.registry.auth import (
    CurrentUser,
    require_administrator,
    require_may_place_organisation,
)
from tinhso.registry.models import Organisation, OrganisationKind
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import (
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    UnitRef,
)

router = APIRouter(prefix="/api/v1")


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
            disabled=o.disabled,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )
        for o in organisations
    ]


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
    require_may_place_organisation(session, principal, data.parent_code)
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
    if "disabled" in data.model_fields_set and not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị nền tảng được vô hiệu hoá hoặc kích hoạt lại tổ chức",
            "Only platform administrators may disable or re-enable an organisation",
        )
    if "parent_code" in data.model_fields_set:
        require_may_place_organisation(session, principal, data.parent_code)
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
