"""Client credential routes under /api/v1/exchange: a system's admins list, create, rotate,
unlock and revoke the credentials (client secret, private_key_jwt public key or mTLS
certificate fingerprint) its software uses to obtain tokens. Secrets are shown once, when
created or rotated. Mounted by `tinhso.exchange.api`; who may do what is in
`tinhso.exchange.auth`.
"""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, status

from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.oauth.credentials import credential_service
from tinhso.exchange.representations import credential_out, credentials_out
from tinhso.exchange.schemas import CredentialCreate, CredentialIssued, CredentialOut
from tinhso.registry.auth import CurrentUser
from tinhso.registry.systems import system_service

router = APIRouter(prefix="/api/v1/exchange")
CREDENTIALS: list[str | Enum] = ["exchange: credentials"]


@router.get(
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
        CredentialOut.model_validate(shown.model_dump(exclude={"client_secret"}))
        for shown in credentials_out(session, rows)
    ]
    return Page(items=items, total=total, limit=pagination.limit, offset=pagination.offset)


@router.post(
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
    return credential_out(session, credential, secret)


@router.post(
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
    return credential_out(session, credential, secret)


@router.post(
    "/credentials/{client_id}/unlock",
    tags=CREDENTIALS,
    summary="Lift the lock that repeated failed authentications put on a credential's token issuance (admins of the system's organisation)",
)
def unlock_credential(session: DbSession, principal: CurrentUser, client_id: str) -> CredentialOut:
    credential = credential_service.get(session, client_id)
    auth.require_credential_admin(session, principal, credential.system_id)
    credential_service.unlock(session, credential)
    return CredentialOut.model_validate(
        credential_out(session, credential).model_dump(exclude={"client_secret"})
    )


@router.post(
    "/credentials/{client_id}/revoke",
    tags=CREDENTIALS,
    summary="Revoke a credential; tokens it obtained stop working at the gateways (admins of the system's organisation)",
)
def revoke_credential(session: DbSession, principal: CurrentUser, client_id: str) -> CredentialOut:
    credential = credential_service.get(session, client_id)
    auth.require_credential_admin(session, principal, credential.system_id)
    credential_service.revoke(session, credential)
    return CredentialOut.model_validate(
        credential_out(session, credential).model_dump(exclude={"client_secret"})
    )
