"""Who may do what in the exchange control plane.

- Services: officers (and admins) of the provider system's organisation register and manage
  them; any official reads published/deprecated/retired services, drafts only their owners.
- Connection requests: officers of the consumer's organisation submit and withdraw; admins of
  the provider's organisation approve or refuse; officials of either side read them.
- Grants: admins of the provider's or the consumer's organisation revoke; either side reads.
- Credentials: admins of the system's organisation create, rotate, revoke and list them.
Platform administrators may do everything. Admin roles reach the organisation's subtree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.errors import Forbidden
from tinhso.exchange import repository
from tinhso.exchange.models import ServiceStatus
from tinhso.registry.auth import Principal, can_administer, require_administrator, require_officer
from tinhso.registry.models import InformationSystem, Role
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.exchange.models import ConnectionRequest, ExchangeService, Grant


def _system(session: Session, system_id: int) -> InformationSystem:
    system = session.get(InformationSystem, system_id)
    if system is None:  # pragma: no cover - foreign keys keep systems in place
        msg = f"system {system_id} vanished"
        raise LookupError(msg)
    return system


def visible_organisation_ids(session: Session, principal: Principal) -> set[int] | None:
    """Organisations whose exchange records the official may read; None means all."""
    if principal.is_platform_admin:
        return None
    found: set[int] = set()
    for organisation_id, role in principal.roles.items():
        if role is Role.ORGANISATION_ADMIN:
            found |= organisation_service.subtree_ids(session, organisation_id)
        else:
            found.add(organisation_id)
    return found


def visible_system_ids(session: Session, principal: Principal) -> set[int] | None:
    organisations = visible_organisation_ids(session, principal)
    if organisations is None:
        return None
    return repository.system_ids_of_organisations(session, organisations)


def require_service_manager(
    session: Session, principal: Principal, provider: InformationSystem
) -> None:
    require_officer(session, principal, provider.organisation_id)


def may_read_service(session: Session, principal: Principal, service: ExchangeService) -> bool:
    if service.status is not ServiceStatus.DRAFT:
        return True
    visible = visible_system_ids(session, principal)
    return visible is None or service.provider_system_id in visible


def require_requester(session: Session, principal: Principal, consumer: InformationSystem) -> None:
    require_officer(session, principal, consumer.organisation_id)


def require_decider(session: Session, principal: Principal, service: ExchangeService) -> None:
    provider = _system(session, service.provider_system_id)
    require_administrator(session, principal, provider.organisation_id)


def require_reader(
    session: Session, principal: Principal, consumer_system_id: int, provider_system_id: int
) -> None:
    visible = visible_system_ids(session, principal)
    if visible is None or consumer_system_id in visible or provider_system_id in visible:
        return
    raise Forbidden(
        "Bạn không thuộc tổ chức khai thác hoặc cung cấp của bản ghi này",
        "You belong to neither the consumer's nor the provider's organisation",
    )


def require_request_reader(
    session: Session, principal: Principal, request: ConnectionRequest, service: ExchangeService
) -> None:
    require_reader(session, principal, request.consumer_system_id, service.provider_system_id)


def require_revoker(
    session: Session, principal: Principal, grant: Grant, service: ExchangeService
) -> None:
    consumer = _system(session, grant.consumer_system_id)
    provider = _system(session, service.provider_system_id)
    if can_administer(session, principal, provider.organisation_id) or can_administer(
        session, principal, consumer.organisation_id
    ):
        return
    raise Forbidden(
        "Chỉ quản trị viên của tổ chức cung cấp hoặc khai thác được thu hồi quyền",
        "Only administrators of the provider's or the consumer's organisation may revoke",
    )


def require_credential_admin(session: Session, principal: Principal, system_id: int) -> None:
    require_administrator(session, principal, _system(session, system_id).organisation_id)
