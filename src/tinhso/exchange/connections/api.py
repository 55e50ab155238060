"""Connection request and grant routes under /api/v1/exchange: a consumer system's officers
request access to a published service, the provider's admins approve it (creating a grant,
possibly narrowed) or refuse it, and either side's admins revoke a grant. Mounted by
`tinhso.exchange.api`; who may do what is in `tinhso.exchange.auth`.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import or_

from tinhso.core.db import utcnow
from tinhso.core.errors import NotFound
from tinhso.core.pagination import Page, Pagination, RowId, fetch_page
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.catalogue.service import catalogue_service
from tinhso.exchange.connections.service import connection_service
from tinhso.exchange.models import ConnectionRequest, ExchangeService, Grant, RequestStatus
from tinhso.exchange.representations import grants_out, requests_out
from tinhso.exchange.schemas import (
    ApprovalCreate,
    ConnectionRequestCreate,
    ConnectionRequestOut,
    GrantOut,
    NarrowingCreate,
    RefusalCreate,
    RevocationCreate,
    SuspensionCreate,
    WithdrawalCreate,
)
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import InformationSystem
from tinhso.registry.systems import system_service

router = APIRouter(prefix="/api/v1/exchange")
REQUESTS: list[str | Enum] = ["exchange: connection requests"]
GRANTS: list[str | Enum] = ["exchange: grants"]


@router.post(
    "/requests",
    tags=REQUESTS,
    status_code=status.HTTP_201_CREATED,
    summary="Request access to a published service (officers of the consumer system's organisation)",
)
def create_request(
    session: DbSession, principal: CurrentUser, data: ConnectionRequestCreate
) -> ConnectionRequestOut:
    consumer = system_service.get(
        session, data.consumer.organisation_code, data.consumer.system_code
    )
    auth.require_requester(session, principal, consumer)
    consumer = connection_service.consumer_system(
        session, data.consumer.organisation_code, data.consumer.system_code
    )
    service = catalogue_service.get(session, data.service)
    request = connection_service.submit(session, consumer, service, data, principal.user_id)
    return requests_out(session, [request])[0]


@router.get(
    "/requests",
    tags=REQUESTS,
    summary="Connection requests of the official's organisations, as consumer or provider (any official; platform admins see all)",
)
def list_requests(
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
    request_status: Annotated[RequestStatus | None, Query(alias="status")] = None,
) -> Page[ConnectionRequestOut]:
    query = repository.requests_query(status=request_status)
    visible = auth.visible_system_ids(session, principal)
    if visible is not None:
        provided = repository.service_ids_of_providers(session, visible)
        query = query.where(
            or_(
                ConnectionRequest.consumer_system_id.in_(visible),
                ConnectionRequest.service_id.in_(provided),
            )
        )
    rows, total = fetch_page(session, query, pagination)
    return Page(
        items=requests_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@router.get(
    "/requests/overdue",
    tags=REQUESTS,
    summary="Pending requests past their 2-working-day due date, oldest first (provider-side officials; platform admins see all)",
)
def list_overdue_requests(
    session: DbSession, principal: CurrentUser, pagination: Pagination
) -> Page[ConnectionRequestOut]:
    visible = auth.visible_system_ids(session, principal)
    service_ids = None if visible is None else repository.service_ids_of_providers(session, visible)
    query = repository.requests_query(service_ids=service_ids, overdue_at=utcnow())
    rows, total = fetch_page(session, query, pagination)
    return Page(
        items=requests_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


def _request_and_service(
    session: DbSession, request_id: RowId
) -> tuple[ConnectionRequest, ExchangeService]:
    request = connection_service.get_request(session, request_id)
    service = session.get(ExchangeService, request.service_id)
    if service is None:  # pragma: no cover - foreign key
        raise NotFound("Không tìm thấy dịch vụ", "Service not found", field="service")
    return request, service


@router.get(
    "/requests/{request_id}",
    tags=REQUESTS,
    summary="One connection request (officials of the consumer's or the provider's organisation)",
)
def get_request(
    session: DbSession, principal: CurrentUser, request_id: RowId
) -> ConnectionRequestOut:
    request, service = _request_and_service(session, request_id)
    auth.require_request_reader(session, principal, request, service)
    return requests_out(session, [request])[0]


@router.post(
    "/requests/{request_id}/approve",
    tags=REQUESTS,
    status_code=status.HTTP_201_CREATED,
    summary="Approve a request, optionally narrowing methods, paths, validity, quota and rate; creates the grant (admins of the provider's organisation)",
)
def approve_request(
    session: DbSession, principal: CurrentUser, request_id: RowId, data: ApprovalCreate
) -> GrantOut:
    request, service = _request_and_service(session, request_id)
    auth.require_decider(session, principal, service)
    grant = connection_service.approve(session, request, data, principal.user_id)
    return grants_out(session, [grant])[0]


@router.post(
    "/requests/{request_id}/refuse",
    tags=REQUESTS,
    summary="Refuse a request with a written reason (admins of the provider's organisation)",
)
def refuse_request(
    session: DbSession, principal: CurrentUser, request_id: RowId, data: RefusalCreate
) -> ConnectionRequestOut:
    request, service = _request_and_service(session, request_id)
    auth.require_decider(session, principal, service)
    connection_service.refuse(session, request, data.reason, principal.user_id)
    return requests_out(session, [request])[0]


@router.post(
    "/requests/{request_id}/withdraw",
    tags=REQUESTS,
    summary="Withdraw a pending request (officers of the consumer system's organisation)",
)
def withdraw_request(
    session: DbSession, principal: CurrentUser, request_id: RowId, data: WithdrawalCreate
) -> ConnectionRequestOut:
    request, _service = _request_and_service(session, request_id)
    system = session.get(InformationSystem, request.consumer_system_id)
    if system is None:  # pragma: no cover - foreign key
        raise NotFound("Không tìm thấy hệ thống", "System not found", field="consumer")
    auth.require_requester(session, principal, system)
    connection_service.withdraw(session, request, data.reason, principal.user_id)
    return requests_out(session, [request])[0]


# --- grants --------------------------------------------------------------------------------------
@router.get(
    "/grants",
    tags=GRANTS,
    summary="Grants of the official's organisations, as consumer or provider (any official; platform admins see all)",
)
def list_grants(
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
    active: Annotated[bool, Query(description="Only grants neither revoked nor expired")] = False,
) -> Page[GrantOut]:
    query = repository.grants_query(active_at=utcnow() if active else None)
    visible = auth.visible_system_ids(session, principal)
    if visible is not None:
        provided = repository.service_ids_of_providers(session, visible)
        query = query.where(
            or_(Grant.consumer_system_id.in_(visible), Grant.service_id.in_(provided))
        )
    rows, total = fetch_page(session, query, pagination)
    return Page(
        items=grants_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


def _grant_and_service(session: DbSession, grant_id: RowId) -> tuple[Grant, ExchangeService]:
    grant = connection_service.get_grant(session, grant_id)
    service = session.get(ExchangeService, grant.service_id)
    if service is None:  # pragma: no cover - foreign key
        raise NotFound("Không tìm thấy dịch vụ", "Service not found", field="service")
    return grant, service


@router.get(
    "/grants/{grant_id}",
    tags=GRANTS,
    summary="One grant (officials of the consumer's or the provider's organisation)",
)
def get_grant(session: DbSession, principal: CurrentUser, grant_id: RowId) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_reader(session, principal, grant.consumer_system_id, service.provider_system_id)
    return grants_out(session, [grant])[0]


@router.post(
    "/grants/{grant_id}/revoke",
    tags=GRANTS,
    summary="Revoke a grant with a reason; gateways stop honouring it within seconds (admins of the provider's or the consumer's organisation)",
)
def revoke_grant(
    session: DbSession, principal: CurrentUser, grant_id: RowId, data: RevocationCreate
) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_revoker(session, principal, grant, service)
    connection_service.revoke(session, grant, data.reason, principal.user_id)
    return grants_out(session, [grant])[0]


@router.post(
    "/grants/{grant_id}/suspend",
    tags=GRANTS,
    summary="Suspend a grant with a reason; gateways stop honouring it within seconds until it is resumed (admins of the provider's or the consumer's organisation)",
)
def suspend_grant(
    session: DbSession, principal: CurrentUser, grant_id: RowId, data: SuspensionCreate
) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_revoker(session, principal, grant, service)
    connection_service.suspend(session, grant, data.reason, principal.user_id)
    return grants_out(session, [grant])[0]


@router.post(
    "/grants/{grant_id}/resume",
    tags=GRANTS,
    summary="Resume a suspended grant (admins of the provider's or the consumer's organisation)",
)
def resume_grant(session: DbSession, principal: CurrentUser, grant_id: RowId) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_revoker(session, principal, grant, service)
    connection_service.resume(session, grant)
    return grants_out(session, [grant])[0]


@router.post(
    "/grants/{grant_id}/narrow",
    tags=GRANTS,
    summary="Narrow a grant: keep fewer methods or lower its daily quota, never widen it (admins of the provider's organisation)",
)
def narrow_grant(
    session: DbSession, principal: CurrentUser, grant_id: RowId, data: NarrowingCreate
) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_decider(session, principal, service)
    methods = [str(method) for method in data.allowed_methods] if data.allowed_methods else None
    connection_service.narrow(session, grant, methods, data.quota_per_day)
    return grants_out(session, [grant])[0]
