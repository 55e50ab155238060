"""How exchange records are shown in the JSON API: services, connection requests, grants and
credentials as their `*Out` schemas, with systems and services named by their codes
(``organisation/system`` and ``organisation/system/service/version``), never by database ids.
"""

from __future__ import annotations

from tinhso.core.db import utcnow
from tinhso.core.web import DbSession
from tinhso.exchange import repository
from tinhso.exchange.connections.service import is_overdue
from tinhso.exchange.models import (
    ConnectionRequest,
    ExchangeService,
    Grant,
    RequestStatus,
    SystemCredential,
)
from tinhso.exchange.schemas import (
    ConnectionRequestOut,
    CredentialIssued,
    GrantOut,
    ServiceOut,
)


def _labels(session: DbSession, system_ids: set[int]) -> dict[int, str]:
    return {
        key: "/".join(value) for key, value in repository.system_labels(session, system_ids).items()
    }


def services_out(session: DbSession, rows: list[ExchangeService]) -> list[ServiceOut]:
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
    found = repository.services_by_ids(session, service_ids).values()
    labels = _labels(session, {service.provider_system_id for service in found})
    return {
        service.id: f"{labels[service.provider_system_id]}/{service.code}/{service.version}"
        for service in found
    }


def requests_out(session: DbSession, rows: list[ConnectionRequest]) -> list[ConnectionRequestOut]:
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


def grants_out(session: DbSession, rows: list[Grant]) -> list[GrantOut]:
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
            suspended_at=row.suspended_at,
            suspended_reason=row.suspended_reason,
            created_at=row.created_at,
        )
        for row in rows
    ]


def credential_out(
    session: DbSession, row: SystemCredential, secret: str | None = None
) -> CredentialIssued:
    return credentials_out(session, [row], secret)[0]


def credentials_out(
    session: DbSession, rows: list[SystemCredential], secret: str | None = None
) -> list[CredentialIssued]:
    """Credentials as shown (``secret``: the one just issued, for a single row only)."""
    labels = _labels(session, {row.system_id for row in rows})
    now = utcnow()
    return [
        CredentialIssued(
            client_id=row.client_id,
            system=labels[row.system_id],
            kind=row.kind,
            label=row.label,
            public_jwk=row.public_jwk,
            certificate_sha256=row.certificate_sha256,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            locked_until=row.locked_until if row.locked_until and row.locked_until > now else None,
            failed_attempts=row.failed_attempts,
            client_secret=secret,
        )
        for row in rows
    ]
