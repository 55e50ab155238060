"""Exchange service catalogue routes under /api/v1/exchange/services: providers register
services as drafts, change them and move them through draft → published → deprecated →
retired; every official reads the catalogue (drafts only their provider's officials).
Mounted by `tinhso.exchange.api`; who may do what is in `tinhso.exchange.auth`.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy import or_

from tinhso.core.config import Settings
from tinhso.core.errors import NotFound
from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.catalogue.service import catalogue_service
from tinhso.exchange.models import ExchangeService, ServiceStatus
from tinhso.exchange.representations import services_out
from tinhso.exchange.schemas import (
    ServiceCreate,
    ServiceKey,
    ServiceOut,
    ServiceTransition,
    ServiceUpdate,
)
from tinhso.registry.auth import CurrentUser
from tinhso.registry.organisations import organisation_service
from tinhso.registry.systems import system_service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]

router = APIRouter(prefix="/api/v1/exchange")
SERVICES: list[str | Enum] = ["exchange: services"]

ServicePath = "/services/{organisation_code}/{system_code}/{code}/{version}"


def _service(session: DbSession, key: ServiceKey) -> ExchangeService:
    return catalogue_service.get(session, key)


def _visible_service(
    session: DbSession,
    principal: CurrentUser,
    organisation_code: str,
    system_code: str,
    code: str,
    version: str,
) -> ExchangeService:
    service = _service(
        session,
        ServiceKey.model_construct(
            organisation_code=organisation_code, system_code=system_code, code=code, version=version
        ),
    )
    if not auth.may_read_service(session, principal, service):
        name = f"{organisation_code}/{system_code}/{code}/{version}"
        raise NotFound(
            f"Không tìm thấy dịch vụ {name}", f"Service {name} not found", field="service"
        )
    return service


@router.get(
    "/services",
    tags=SERVICES,
    summary="List services (any official; drafts only to their provider's officials)",
)
def list_services(
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
    service_status: Annotated[ServiceStatus | None, Query(alias="status")] = None,
    provider_organisation: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ServiceOut]:
    query = repository.services_query(None, {service_status} if service_status else None)
    if provider_organisation:
        owner = organisation_service.get(session, provider_organisation)
        query = query.where(
            ExchangeService.provider_system_id.in_(
                repository.system_ids_of_organisations(session, {owner.id})
            )
        )
    visible = auth.visible_system_ids(session, principal)
    if visible is not None:
        query = query.where(
            or_(
                ExchangeService.status != ServiceStatus.DRAFT,
                ExchangeService.provider_system_id.in_(visible),
            )
        )
    rows, total = fetch_page(session, query, pagination)
    return Page(
        items=services_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@router.post(
    "/services",
    tags=SERVICES,
    status_code=status.HTTP_201_CREATED,
    summary="Register a service as a draft (officers of the provider system's organisation)",
)
def create_service(
    session: DbSession, principal: CurrentUser, settings: AppSettings, data: ServiceCreate
) -> ServiceOut:
    system = system_service.get(session, data.provider.organisation_code, data.provider.system_code)
    auth.require_service_manager(session, principal, system)
    provider = catalogue_service.provider_system(
        session, data.provider.organisation_code, data.provider.system_code
    )
    service = catalogue_service.create(session, settings, provider, data)
    return services_out(session, [service])[0]


@router.get(
    ServicePath,
    tags=SERVICES,
    summary="One service (any official; drafts only to their provider's officials)",
)
def get_service(
    session: DbSession,
    principal: CurrentUser,
    organisation_code: str,
    system_code: str,
    code: str,
    version: str,
) -> ServiceOut:
    service = _visible_service(session, principal, organisation_code, system_code, code, version)
    return services_out(session, [service])[0]


@router.get(
    ServicePath + "/openapi",
    tags=SERVICES,
    summary="The service's OpenAPI document (any official; drafts only to their provider's officials)",
)
def get_service_openapi(
    session: DbSession,
    principal: CurrentUser,
    organisation_code: str,
    system_code: str,
    code: str,
    version: str,
) -> dict[str, Any]:
    service = _visible_service(session, principal, organisation_code, system_code, code, version)
    if service.openapi is None:
        raise NotFound(
            "Dịch vụ chưa có tài liệu OpenAPI",
            "The service has no OpenAPI document",
            field="openapi",
        )
    return service.openapi


@router.patch(
    ServicePath,
    tags=SERVICES,
    summary="Change a service (officers of the provider system's organisation)",
)
def update_service(
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    organisation_code: str,
    system_code: str,
    code: str,
    version: str,
    data: ServiceUpdate,
) -> ServiceOut:
    service = _visible_service(session, principal, organisation_code, system_code, code, version)
    provider = system_service.get(session, organisation_code, system_code)
    auth.require_service_manager(session, principal, provider)
    return services_out(session, [catalogue_service.update(session, settings, service, data)])[0]


@router.post(
    ServicePath + "/status",
    tags=SERVICES,
    summary="Move a service through draft → published → deprecated → retired (officers of the provider system's organisation)",
)
def transition_service(
    session: DbSession,
    principal: CurrentUser,
    organisation_code: str,
    system_code: str,
    code: str,
    version: str,
    data: ServiceTransition,
) -> ServiceOut:
    service = _visible_service(session, principal, organisation_code, system_code, code, version)
    provider = system_service.get(session, organisation_code, system_code)
    auth.require_service_manager(session, principal, provider)
    return services_out(session, [catalogue_service.transition(session, service, data.status)])[0]
