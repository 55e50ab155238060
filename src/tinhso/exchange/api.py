"""Exchange JSON API (control plane); the OAuth2 token endpoint and JWKS come from oauth.py."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy import or_

from tinhso.core.config import Settings
from tinhso.core.db import DbSession, utcnow
from tinhso.core.errors import NotFound
from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.exchange import auth, repository
from tinhso.exchange.credentials import credential_service
from tinhso.exchange.models import (
    ConnectionRequest,
    ExchangeService,
    Grant,
    RequestStatus,
    ServiceStatus,
    SystemCredential,
)
from tinhso.exchange.oauth import router as oauth_router
from tinhso.exchange.schemas import (
    ApprovalCreate,
    ConnectionRequestCreate,
    ConnectionRequestOut,
    CredentialCreate,
    CredentialIssued,
    CredentialOut,
    GrantOut,
    RefusalCreate,
    RevocationCreate,
    ServiceCreate,
    ServiceKey,
    ServiceOut,
    ServiceTransition,
    ServiceUpdate,
    WithdrawalCreate,
)
from tinhso.exchange.service import catalogue_service, connection_service, is_overdue
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import InformationSystem
from tinhso.registry.service import organisation_service, system_service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]

router = APIRouter()
api = APIRouter(prefix="/api/v1/exchange")
SERVICES: list[str | Enum] = ["exchange: services"]
REQUESTS: list[str | Enum] = ["exchange: connection requests"]
GRANTS: list[str | Enum] = ["exchange: grants"]
CREDENTIALS: list[str | Enum] = ["exchange: credentials"]

ServicePath = "/services/{organisation_code}/{system_code}/{code}/{version}"


# --- output --------------------------------------------------------------------------------------
def _labels(session: DbSession, system_ids: set[int]) -> dict[int, str]:
    return {
        key: "/".join(value) for key, value in repository.system_labels(session, system_ids).items()
    }


def _services_out(session: DbSession, rows: list[ExchangeService]) -> list[ServiceOut]:
    labels = repository.system_labels(session, {row.provider_system_id for row in rows})
    out = []
    for row in rows:
        organisation, system = labels[row.provider_system_id]
        out.append(
            ServiceOut(
                organisation_code=organisation,
                system_code=system,
                code=row.code,
                version=row.version,
                key=f"{organisation}/{system}/{row.code}/{row.version}",
                name_vi=row.name_vi,
                name_en=row.name_en,
                base_url=row.base_url,
                description_vi=row.description_vi,
                description_en=row.description_en,
                classification=row.classification,
                timeout_ms=row.timeout_ms,
                max_request_bytes=row.max_request_bytes,
                max_response_bytes=row.max_response_bytes,
                status=row.status,
                has_openapi=row.openapi is not None,
                request_schema=row.request_schema,
                response_schema=row.response_schema,
                published_at=row.published_at,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    return out


def _service_keys(session: DbSession, service_ids: set[int]) -> dict[int, str]:
    services = [session.get(ExchangeService, service_id) for service_id in service_ids]
    found = [service for service in services if service is not None]
    labels = _labels(session, {service.provider_system_id for service in found})
    return {
        service.id: f"{labels[service.provider_system_id]}/{service.code}/{service.version}"
        for service in found
    }


def _requests_out(session: DbSession, rows: list[ConnectionRequest]) -> list[ConnectionRequestOut]:
    labels = _labels(session, {row.consumer_system_id for row in rows})
    services = _service_keys(session, {row.service_id for row in rows})
    approved = {row.id for row in rows if row.status is RequestStatus.APPROVED}
    grants = repository.grant_ids_of_requests(session, approved)
    now = utcnow()
    return [
        ConnectionRequestOut(
            id=row.id,
            consumer=labels[row.consumer_system_id],
            service=services[row.service_id],
            purpose=row.purpose,
            legal_basis=row.legal_basis,
            requested_methods=row.requested_methods,
            requested_paths=row.requested_paths,
            status=row.status,
            due_at=row.due_at,
            overdue=is_overdue(row, now),
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
            grant_id=grants.get(row.id),
            created_at=row.created_at,
        )
        for row in rows
    ]


def _grants_out(session: DbSession, rows: list[Grant]) -> list[GrantOut]:
    labels = _labels(session, {row.consumer_system_id for row in rows})
    services = _service_keys(session, {row.service_id for row in rows})
    return [
        GrantOut(
            id=row.id,
            connection_request_id=row.connection_request_id,
            consumer=labels[row.consumer_system_id],
            service=services[row.service_id],
            allowed_methods=row.allowed_methods,
            allowed_paths=row.allowed_paths,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            quota_per_day=row.quota_per_day,
            rate_per_second=row.rate_per_second,
            burst=row.burst,
            revoked_at=row.revoked_at,
            revoked_reason=row.revoked_reason,
            created_at=row.created_at,
        )
        for row in rows
    ]


def _credential_out(
    session: DbSession, row: SystemCredential, secret: str | None = None
) -> CredentialIssued:
    return CredentialIssued(
        client_id=row.client_id,
        system=_labels(session, {row.system_id})[row.system_id],
        kind=row.kind,
        label=row.label,
        public_jwk=row.public_jwk,
        certificate_sha256=row.certificate_sha256,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        locked_until=row.locked_until if row.locked_until and row.locked_until > utcnow() else None,
        failed_attempts=row.failed_attempts,
        client_secret=secret,
    )


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


# --- services ------------------------------------------------------------------------------------
@api.get(
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
        items=_services_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@api.post(
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
    return _services_out(session, [service])[0]


@api.get(
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
    return _services_out(session, [service])[0]


@api.get(
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


@api.patch(
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
    return _services_out(session, [catalogue_service.update(session, settings, service, data)])[0]


@api.post(
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
    return _services_out(session, [catalogue_service.transition(session, service, data.status)])[0]


# --- connection requests -------------------------------------------------------------------------
@api.post(
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
    return _requests_out(session, [request])[0]


@api.get(
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
        items=_requests_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@api.get(
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
        items=_requests_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


def _request_and_service(
    session: DbSession, request_id: int
) -> tuple[ConnectionRequest, ExchangeService]:
    request = connection_service.get_request(session, request_id)
    service = session.get(ExchangeService, request.service_id)
    if service is None:  # pragma: no cover - foreign key
        raise NotFound("Không tìm thấy dịch vụ", "Service not found", field="service")
    return request, service


@api.get(
    "/requests/{request_id}",
    tags=REQUESTS,
    summary="One connection request (officials of the consumer's or the provider's organisation)",
)
def get_request(
    session: DbSession, principal: CurrentUser, request_id: int
) -> ConnectionRequestOut:
    request, service = _request_and_service(session, request_id)
    auth.require_request_reader(session, principal, request, service)
    return _requests_out(session, [request])[0]


@api.post(
    "/requests/{request_id}/approve",
    tags=REQUESTS,
    status_code=status.HTTP_201_CREATED,
    summary="Approve a request, optionally narrowing methods, paths, validity, quota and rate; creates the grant (admins of the provider's organisation)",
)
def approve_request(
    session: DbSession, principal: CurrentUser, request_id: int, data: ApprovalCreate
) -> GrantOut:
    request, service = _request_and_service(session, request_id)
    auth.require_decider(session, principal, service)
    grant = connection_service.approve(session, request, data, principal.user_id)
    return _grants_out(session, [grant])[0]


@api.post(
    "/requests/{request_id}/refuse",
    tags=REQUESTS,
    summary="Refuse a request with a written reason (admins of the provider's organisation)",
)
def refuse_request(
    session: DbSession, principal: CurrentUser, request_id: int, data: RefusalCreate
) -> ConnectionRequestOut:
    request, service = _request_and_service(session, request_id)
    auth.require_decider(session, principal, service)
    connection_service.refuse(session, request, data.reason, principal.user_id)
    return _requests_out(session, [request])[0]


@api.post(
    "/requests/{request_id}/withdraw",
    tags=REQUESTS,
    summary="Withdraw a pending request (officers of the consumer system's organisation)",
)
def withdraw_request(
    session: DbSession, principal: CurrentUser, request_id: int, data: WithdrawalCreate
) -> ConnectionRequestOut:
    request, _service = _request_and_service(session, request_id)
    system = session.get(InformationSystem, request.consumer_system_id)
    if system is None:  # pragma: no cover - foreign key
        raise NotFound("Không tìm thấy hệ thống", "System not found", field="consumer")
    auth.require_requester(session, principal, system)
    connection_service.withdraw(session, request, data.reason, principal.user_id)
    return _requests_out(session, [request])[0]


# --- grants --------------------------------------------------------------------------------------
@api.get(
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
        items=_grants_out(session, rows),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


def _grant_and_service(session: DbSession, grant_id: int) -> tuple[Grant, ExchangeService]:
    grant = connection_service.get_grant(session, grant_id)
    service = session.get(ExchangeService, grant.service_id)
    if service is None:  # pragma: no cover - foreign key
        raise NotFound("Không tìm thấy dịch vụ", "Service not found", field="service")
    return grant, service


@api.get(
    "/grants/{grant_id}",
    tags=GRANTS,
    summary="One grant (officials of the consumer's or the provider's organisation)",
)
def get_grant(session: DbSession, principal: CurrentUser, grant_id: int) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_reader(session, principal, grant.consumer_system_id, service.provider_system_id)
    return _grants_out(session, [grant])[0]


@api.post(
    "/grants/{grant_id}/revoke",
    tags=GRANTS,
    summary="Revoke a grant with a reason; gateways stop honouring it within seconds (admins of the provider's or the consumer's organisation)",
)
def revoke_grant(
    session: DbSession, principal: CurrentUser, grant_id: int, data: RevocationCreate
) -> GrantOut:
    grant, service = _grant_and_service(session, grant_id)
    auth.require_revoker(session, principal, grant, service)
    connection_service.revoke(session, grant, data.reason, principal.user_id)
    return _grants_out(session, [grant])[0]


# --- credentials ---------------------------------------------------------------------------------
@api.get(
    "/systems/{organisation_code}/{system_code}/credentials",
    tags=CREDENTIALS,
    summary="A system's client credentials, without secrets (admins of the system's organisation)",
)
def list_credentials(
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
    organisation_code: str,
    system_code: str,
) -> Page[CredentialOut]:
    system = system_service.get(session, organisation_code, system_code)
    auth.require_credential_admin(session, principal, system.id)
    rows, total = fetch_page(session, repository.credentials_of_system(system.id), pagination)
    items: list[CredentialOut] = [
        CredentialOut.model_validate(
            _credential_out(session, row).model_dump(exclude={"client_secret"})
        )
        for row in rows
    ]
    return Page(items=items, total=total, limit=pagination.limit, offset=pagination.offset)


@api.post(
    "/systems/{organisation_code}/{system_code}/credentials",
    tags=CREDENTIALS,
    status_code=status.HTTP_201_CREATED,
    summary="Create a client credential: secret (shown once), private_key_jwt public key, or mTLS certificate fingerprint (admins of the system's organisation)",
)
def create_credential(
    session: DbSession,
    principal: CurrentUser,
    organisation_code: str,
    system_code: str,
    data: CredentialCreate,
) -> CredentialIssued:
    system = system_service.get(session, organisation_code, system_code)
    auth.require_credential_admin(session, principal, system.id)
    credential, secret = credential_service.create(session, system, data, principal.user_id)
    return _credential_out(session, credential, secret)


@api.post(
    "/credentials/{client_id}/rotate",
    tags=CREDENTIALS,
    summary="Replace a credential's secret (returned once), public key or certificate; the old one stops working (admins of the system's organisation)",
)
def rotate_credential(
    session: DbSession,
    principal: CurrentUser,
    client_id: str,
    data: CredentialCreate | None = None,
) -> CredentialIssued:
    credential = credential_service.get(session, client_id)
    auth.require_credential_admin(session, principal, credential.system_id)
    credential, secret = credential_service.rotate(session, credential, data)
    return _credential_out(session, credential, secret)


@api.post(
    "/credentials/{client_id}/unlock",
    tags=CREDENTIALS,
    summary="Lift the lock that repeated failed authentications put on a credential's token issuance (admins of the system's organisation)",
)
def unlock_credential(session: DbSession, principal: CurrentUser, client_id: str) -> CredentialOut:
    credential = credential_service.get(session, client_id)
    auth.require_credential_admin(session, principal, credential.system_id)
    credential_service.unlock(session, credential)
    return CredentialOut.model_validate(
        _credential_out(session, credential).model_dump(exclude={"client_secret"})
    )


@api.post(
    "/credentials/{client_id}/revoke",
    tags=CREDENTIALS,
    summary="Revoke a credential; tokens it obtained stop working at the gateways (admins of the system's organisation)",
)
def revoke_credential(session: DbSession, principal: CurrentUser, client_id: str) -> CredentialOut:
    credential = credential_service.get(session, client_id)
    auth.require_credential_admin(session, principal, credential.system_id)
    credential_service.revoke(session, credential)
    return CredentialOut.model_validate(
        _credential_out(session, credential).model_dump(exclude={"client_secret"})
    )


router.include_router(api)
router.include_router(oauth_router)
