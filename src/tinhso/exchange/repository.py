"""Exchange queries, and the change counter gateways watch."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import event, insert, inspect, select, text, update
from sqlalchemy.orm import Session

from tinhso.core.db import utcnow
from tinhso.exchange import notices
from tinhso.exchange.models import (
    ClientAssertionUse,
    ConnectionRequest,
    ExchangeService,
    ExchangeState,
    Grant,
    KeyStatus,
    RequestStatus,
    SigningKey,
    SystemCredential,
)
from tinhso.registry.models import InformationSystem, Organisation
from tinhso.registry.organisations import organisation_service
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy import Select
    from sqlalchemy.orm import UOWTransaction


STATE_ID = 1
# PostgreSQL LISTEN/NOTIFY channel; the payload is the new state version.
NOTIFY_CHANNEL = "tinhso_exchange"


# -- change counter -------------------------------------------------------------------------------
def state_version(session: Session) -> int:
    return session.scalar(select(ExchangeState.version).where(ExchangeState.id == STATE_ID)) or 0


def bump_state(session: Session) -> int:
    """Increase the state version in the caller's transaction (and NOTIFY on PostgreSQL).

    The UPDATE takes a row lock, so concurrent changes serialise and every committed change
    carries a distinct, larger version. When the session carries a Redis URL (the control plane
    with ``settings.redis_url``), the version is also published there once the transaction
    commits (:mod:`tinhso.exchange.notices`).
    """
    now = utcnow()
    version = session.scalar(
        update(ExchangeState)
        .where(ExchangeState.id == STATE_ID)
        .values(version=ExchangeState.version + 1, changed_at=now)
        .returning(ExchangeState.version)
    )
    if version is None:
        session.execute(insert(ExchangeState).values(id=STATE_ID, version=1, changed_at=now))
        version = 1
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": NOTIFY_CHANNEL, "payload": str(version)},
        )
    notices.note_change(session, int(version))
    return int(version)


# -- registry changes that affect admission ------------------------------------------------------
# The registry sits below the exchange and knows nothing of gateways. What of it the gateways'
# snapshot reads (snapshot.exchange_snapshot: which systems are usable, and their
# "organisation/system" names in tokens, grants and service keys) is watched here instead: a
# flush that changes any of it, through any path (API, portal, CLI), bumps the state version in
# the same transaction, so it is NOTIFYed and announced like a grant revocation.
ADMISSION_FIELDS: dict[type, tuple[str, ...]] = {
    InformationSystem: ("status", "code", "organisation_id"),
    Organisation: ("code", "disabled"),
}


def affects_admission(session: Session) -> bool:
    """Whether the session's pending changes touch what gateways admit by."""
    for instance in session.deleted:
        if type(instance) in ADMISSION_FIELDS:
            return True
    for instance in session.dirty:
        fields = ADMISSION_FIELDS.get(type(instance))
        if fields:
            attributes = inspect(instance).attrs
            if any(attributes[name].history.has_changes() for name in fields):
                return True
    return False


@event.listens_for(Session, "before_flush")
def _announce_registry_changes(
    session: Session, _context: UOWTransaction, _instances: Iterable[object] | None
) -> None:
    if affects_admission(session):
        bump_state(session)


# -- system labels (the registry owns systems; these delegate to its service) -------------------
def system_labels(session: Session, ids: set[int] | None = None) -> dict[int, tuple[str, str]]:
    """System id -> (organisation code, system code), for the given ids or every system."""
    return system_service.labels(session, ids)


def disabled_organisation_codes(session: Session) -> set[str]:
    """Codes of the organisations that are disabled (their systems are not usable)."""
    return organisation_service.disabled_codes(session)


def usable_system_ids(session: Session) -> set[int]:
    """Systems that are active (neither suspended nor retired)."""
    return system_service.active_ids(session)


# -- services -------------------------------------------------------------------------------------
def service_by_key(
    session: Session, provider_system_id: int, code: str, version: str
) -> ExchangeService | None:
    return session.scalar(
        select(ExchangeService).where(
            ExchangeService.provider_system_id == provider_system_id,
            ExchangeService.code == code,
            ExchangeService.version == version,
        )
    )


def services_query(
    provider_system_ids: set[int] | None, statuses: set[str] | None
) -> Select[ExchangeService]:
    query = select(ExchangeService)
    if provider_system_ids is not None:
        query = query.where(ExchangeService.provider_system_id.in_(provider_system_ids))
    if statuses is not None:
        query = query.where(ExchangeService.status.in_(statuses))
    return query.order_by(ExchangeService.id)


def services_by_ids(session: Session, ids: set[int]) -> dict[int, ExchangeService]:
    """Services by id, in one query."""
    if not ids:
        return {}
    rows = session.scalars(select(ExchangeService).where(ExchangeService.id.in_(ids)))
    return {row.id: row for row in rows}


def all_services(session: Session) -> list[ExchangeService]:
    return list(session.scalars(select(ExchangeService).order_by(ExchangeService.id)))


# -- requests and grants --------------------------------------------------------------------------
def requests_query(
    *,
    consumer_system_ids: set[int] | None = None,
    service_ids: set[int] | None = None,
    status: RequestStatus | None = None,
    overdue_at: datetime | None = None,
) -> Select[ConnectionRequest]:
    query = select(ConnectionRequest)
    if consumer_system_ids is not None:
        query = query.where(ConnectionRequest.consumer_system_id.in_(consumer_system_ids))
    if service_ids is not None:
        query = query.where(ConnectionRequest.service_id.in_(service_ids))
    if status is not None:
        query = query.where(ConnectionRequest.status == status)
    if overdue_at is not None:
        query = query.where(
            ConnectionRequest.status == RequestStatus.PENDING, ConnectionRequest.due_at < overdue_at
        )
        return query.order_by(ConnectionRequest.due_at, ConnectionRequest.id)
    return query.order_by(ConnectionRequest.id.desc())


def grant_of_request(session: Session, request_id: int) -> Grant | None:
    """The grant an approved connection request created (None before approval)."""
    return session.scalars(select(Grant).where(Grant.connection_request_id == request_id)).first()


def grants_query(
    *,
    consumer_system_ids: set[int] | None = None,
    service_ids: set[int] | None = None,
    active_at: datetime | None = None,
) -> Select[Grant]:
    query = select(Grant)
    if consumer_system_ids is not None:
        query = query.where(Grant.consumer_system_id.in_(consumer_system_ids))
    if service_ids is not None:
        query = query.where(Grant.service_id.in_(service_ids))
    if active_at is not None:
        query = query.where(
            Grant.revoked_at.is_(None),
            Grant.suspended_at.is_(None),
            (Grant.valid_until.is_(None)) | (Grant.valid_until > active_at),
        )
    return query.order_by(Grant.id.desc())


def grant_ids_of_requests(session: Session, request_ids: set[int]) -> dict[int, int]:
    """Connection request id -> id of the grant its approval created."""
    if not request_ids:
        return {}
    rows = session.execute(
        select(Grant.connection_request_id, Grant.id).where(
            Grant.connection_request_id.in_(request_ids)
        )
    )
    return {request_id: grant_id for request_id, grant_id in rows if request_id is not None}


def service_ids_of_providers(session: Session, provider_system_ids: set[int]) -> set[int]:
    if not provider_system_ids:
        return set()
    return set(
        session.scalars(
            select(ExchangeService.id).where(
                ExchangeService.provider_system_id.in_(provider_system_ids)
            )
        )
    )


def system_ids_of_organisations(session: Session, organisation_ids: set[int]) -> set[int]:
    return system_service.ids_owned_by(session, organisation_ids)


# -- credentials and keys -------------------------------------------------------------------------
def credential_by_client_id(session: Session, client_id: str) -> SystemCredential | None:
    return session.scalar(select(SystemCredential).where(SystemCredential.client_id == client_id))


def credentials_of_system(system_id: int) -> Select[SystemCredential]:
    return (
        select(SystemCredential)
        .where(SystemCredential.system_id == system_id)
        .order_by(SystemCredential.id.desc())
    )


def credentials_of_systems(
    session: Session, system_ids: set[int]
) -> dict[int, list[SystemCredential]]:
    """Each system's credentials, newest first, in one query."""
    found: dict[int, list[SystemCredential]] = {}
    if not system_ids:
        return found
    for credential in session.scalars(
        select(SystemCredential)
        .where(SystemCredential.system_id.in_(system_ids))
        .order_by(SystemCredential.id.desc())
    ):
        found.setdefault(credential.system_id, []).append(credential)
    return found


def usable_credentials(session: Session, now: datetime) -> list[SystemCredential]:
    return list(
        session.scalars(
            select(SystemCredential).where(
                SystemCredential.revoked_at.is_(None),
                (SystemCredential.expires_at.is_(None)) | (SystemCredential.expires_at > now),
            )
        )
    )


def signing_keys(session: Session, statuses: set[KeyStatus]) -> list[SigningKey]:
    return list(
        session.scalars(
            select(SigningKey).where(SigningKey.status.in_(statuses)).order_by(SigningKey.id)
        )
    )


def published_keys(session: Session, now: datetime) -> list[SigningKey]:
    """Keys in JWKS: active, next, and retired ones whose tokens may still be alive."""
    return list(
        session.scalars(
            select(SigningKey)
            .where(
                SigningKey.status.in_({KeyStatus.ACTIVE, KeyStatus.NEXT})
                | (
                    (SigningKey.status == KeyStatus.RETIRED)
                    & (SigningKey.retire_after.is_not(None))
                    & (SigningKey.retire_after > now)
                )
            )
            .order_by(SigningKey.id)
        )
    )


def assertion_use(client_id: str, jti: str) -> Select[int]:
    return select(ClientAssertionUse.id).where(
        ClientAssertionUse.client_id == client_id, ClientAssertionUse.jti == jti
    )
