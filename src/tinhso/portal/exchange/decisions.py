"""A connection request in the portal (Decree 194/2025): its details and due date to both
parties, and for the provider's administrators the decision: approve (optionally narrowing the
methods, a daily quota) or refuse with a written reason. A decided request's page is the
written decision, printable on A4. The rules and the effects are the API's
(``exchange.auth.require_decider``, ``connection_service.approve/refuse``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, NotFound
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.catalogue.service import catalogue_service
from tinhso.exchange.connections.service import connection_service, is_overdue
from tinhso.exchange.models import ExchangeService, RequestStatus, ServiceStatus
from tinhso.exchange.schemas import ApprovalCreate, ConnectionRequestCreate
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry.auth import can_administer, roles_over
from tinhso.registry.models import Role
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from tinhso.exchange.models import ConnectionRequest, Grant
    from tinhso.registry.auth import Principal

router = APIRouter()

_MAX_REASON = 2000


def request_status_label(status: RequestStatus) -> str:
    labels = {
        RequestStatus.PENDING: _("Awaiting decision"),
        RequestStatus.APPROVED: _("Approved"),
        RequestStatus.REFUSED: _("Refused"),
        RequestStatus.WITHDRAWN: _("Withdrawn"),
    }
    return labels.get(status, str(status))


def _loaded(
    session: Session, principal: Principal, request_id: int
) -> tuple[ConnectionRequest, ExchangeService]:
    request = connection_service.get_request(session, request_id)
    service = session.get(ExchangeService, request.service_id)
    if service is None:
        raise NotFound(
            f"Không tìm thấy yêu cầu {request_id}", f"Request {request_id} not found", field="id"
        )
    auth.require_request_reader(session, principal, request, service)
    return request, service


def _message(error: DomainError) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    connection: ConnectionRequest,
    service: ExchangeService,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    labels = repository.system_labels(session)
    owners = system_service.owners(
        session, {service.provider_system_id, connection.consumer_system_id}
    )
    provider_owner = owners.get(service.provider_system_id)
    may_decide = (
        connection.status is RequestStatus.PENDING
        and provider_owner is not None
        and can_administer(session, principal, provider_owner)
    )
    english = current_locale.get() == "en"
    grant = repository.grant_of_request(session, connection.id)
    consumer_owner = owners.get(connection.consumer_system_id)
    may_revoke = (
        grant is not None
        and grant.revoked_at is None
        and any(
            owner is not None and can_administer(session, principal, owner)
            for owner in (provider_owner, consumer_owner)
        )
    )
    may_narrow = (
        grant is not None
        and grant.revoked_at is None
        and provider_owner is not None
        and can_administer(session, principal, provider_owner)
    )
    return render(
        request,
        "exchange/request.html",
        {
            "grant": grant,
            "may_revoke": may_revoke,
            "may_narrow": may_narrow,
            "connection": connection,
            "status_label": request_status_label(connection.status),
            "consumer": "/".join(labels[connection.consumer_system_id]),
            "provider": "/".join(labels[service.provider_system_id]),
            "service_key": "/".join(
                (*labels[service.provider_system_id], service.code, service.version)
            ),
            "service_name": (service.name_en or service.name_vi) if english else service.name_vi,
            "overdue": is_overdue(connection),
            "may_decide": may_decide,
            "errors": errors or {},
        },
        status_code=status_code,
    )


def _decided(
    request: Request,
    session: Session,
    principal: Principal,
    request_id: int,
    errors: dict[str, str],
    action: Callable[[], object],
    field_of: Callable[[str], str],
) -> Response:
    """Carry out a decision the form allowed (no ``errors``) and commit it before answering:
    back to the request's page; or the page again, 422, with the form's or the service's
    refusal next to its field (``field_of`` the service's field name), nothing written."""
    if not errors:
        try:
            action()
            session.commit()
        except DomainError as error:
            session.rollback()
            errors[field_of(error.errors[0].field if error.errors else "")] = _message(error)
    if errors:
        connection, service = _loaded(session, principal, request_id)
        return _page(request, session, principal, connection, service, errors, 422)
    return RedirectResponse(f"/exchange/requests/{request_id}", status_code=303)


@router.get(
    "/exchange/requests/{request_id:int}",
    summary="A connection request and its decision, printable (officials of either party)",
)
def request_page(
    request: Request, session: DbSession, principal: PortalUser, request_id: int
) -> Response:
    connection, service = _loaded(session, principal, request_id)
    return _page(request, session, principal, connection, service)


@router.post(
    "/exchange/requests/{request_id:int}/approve",
    summary="Approve a request, optionally narrowing methods and a daily quota (provider's admins; CSRF)",
)
def approve(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    request_id: int,
    methods: Annotated[list[str] | None, Form(max_length=7)] = None,
    quota_per_day: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=_MAX_REASON)] = "",
) -> Response:
    connection, service = _loaded(session, principal, request_id)
    auth.require_decider(session, principal, service)
    errors: dict[str, str] = {}
    quota = quota_per_day.strip()
    if quota and (not quota.isdigit() or not 1 <= int(quota) <= 1_000_000_000):
        errors["quota_per_day"] = _("Write a whole number of calls per day, or leave it empty.")
    data = None
    if not errors:
        try:
            data = ApprovalCreate(
                allowed_methods=methods or None,  # type: ignore[arg-type]
                quota_per_day=int(quota) if quota else None,
                reason=reason.strip() or None,
            )
        except ValidationError:
            errors["methods"] = _("Choose methods among those requested.")

    def decide() -> None:
        assert data is not None  # noqa: S101 - only called without errors
        connection_service.approve(session, connection, data, principal.user_id)

    return _decided(
        request, session, principal, request_id, errors, decide,
        lambda field: "methods" if field == "allowed_methods" else "approve",
    )  # fmt: skip


@router.post(
    "/exchange/requests/{request_id:int}/refuse",
    summary="Refuse a request with a written reason (provider's admins; CSRF)",
)
def refuse(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    request_id: int,
    reason: Annotated[str, Form(max_length=_MAX_REASON)] = "",
) -> Response:
    connection, service = _loaded(session, principal, request_id)
    auth.require_decider(session, principal, service)
    errors: dict[str, str] = {}
    if len(reason.strip()) < 10:
        errors["reason"] = _(
            "Write the reason for the refusal (Decree 194/2025): at least 10 characters."
        )
    return _decided(
        request, session, principal, request_id, errors,
        lambda: connection_service.refuse(session, connection, reason.strip(), principal.user_id),
        lambda _field: "reason",
    )  # fmt: skip


@router.post(
    "/exchange/requests/{request_id:int}/revoke",
    summary="Revoke the grant a request gave, with a written reason (either party's admins; CSRF)",
)
def revoke(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    request_id: int,
    reason: Annotated[str, Form(max_length=_MAX_REASON)] = "",
) -> Response:
    connection, service = _loaded(session, principal, request_id)
    grant = repository.grant_of_request(session, connection.id)
    if grant is None:
        raise NotFound(
            f"Yêu cầu {request_id} chưa được cấp quyền",
            f"Request {request_id} has no grant",
            field="id",
        )
    auth.require_revoker(session, principal, grant, service)
    errors: dict[str, str] = {}
    if len(reason.strip()) < 10:
        errors["revoke"] = _("Write the reason for the revocation: at least 10 characters.")
    return _decided(
        request, session, principal, request_id, errors,
        lambda: connection_service.revoke(session, grant, reason.strip(), principal.user_id),
        lambda _field: "revoke",
    )  # fmt: skip


def _granted(
    session: Session, principal: Principal, request_id: int
) -> tuple[Grant, ExchangeService]:
    connection, service = _loaded(session, principal, request_id)
    grant = repository.grant_of_request(session, connection.id)
    if grant is None:
        raise NotFound(
            f"Yêu cầu {request_id} chưa được cấp quyền",
            f"Request {request_id} has no grant",
            field="id",
        )
    return grant, service


@router.post(
    "/exchange/requests/{request_id:int}/suspend",
    summary="Suspend the grant a request gave, with a written reason (either party's admins; CSRF)",
)
def suspend(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    request_id: int,
    reason: Annotated[str, Form(max_length=_MAX_REASON)] = "",
) -> Response:
    grant, service = _granted(session, principal, request_id)
    auth.require_revoker(session, principal, grant, service)
    errors: dict[str, str] = {}
    if len(reason.strip()) < 10:
        errors["suspend"] = _("Write the reason for the suspension: at least 10 characters.")
    return _decided(
        request, session, principal, request_id, errors,
        lambda: connection_service.suspend(session, grant, reason.strip(), principal.user_id),
        lambda _field: "suspend",
    )  # fmt: skip


@router.post(
    "/exchange/requests/{request_id:int}/resume",
    summary="Resume a suspended grant (either party's admins; CSRF)",
)
def resume(
    request: Request, session: DbSession, principal: PortalUser, request_id: int
) -> Response:
    grant, service = _granted(session, principal, request_id)
    auth.require_revoker(session, principal, grant, service)
    return _decided(
        request, session, principal, request_id, {},
        lambda: connection_service.resume(session, grant),
        lambda _field: "suspend",
    )  # fmt: skip


@router.post(
    "/exchange/requests/{request_id:int}/narrow",
    summary="Narrow the grant: fewer methods or a lower daily quota (the provider's admins; CSRF)",
)
def narrow(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    request_id: int,
    methods: Annotated[list[str] | None, Form(max_length=7)] = None,
    quota_per_day: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    grant, service = _granted(session, principal, request_id)
    auth.require_decider(session, principal, service)
    errors: dict[str, str] = {}
    quota = None
    if quota_per_day.strip():
        if not quota_per_day.strip().isdigit():
            errors["narrow"] = _("The daily quota is a whole number.")
        else:
            quota = int(quota_per_day.strip())
    return _decided(
        request, session, principal, request_id, errors,
        lambda: connection_service.narrow(session, grant, methods or [], quota),
        lambda _field: "narrow",
    )  # fmt: skip


# --- the consumer's side: asking for a connection ------------------------------------------

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_FIELD_OF = {
    "consumer": "consumer",
    "service": "service",
    "purpose": "purpose",
    "legal_basis": "legal_basis",
    "requested_methods": "methods",
    "requested_paths": "paths",
}


def _requesting_systems(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """(key "organisation/system", label) of the consumer systems this official may request
    for: those of organisations where they are an officer or an administrator."""
    found: list[tuple[str, str]] = []
    usable = repository.usable_system_ids(session)
    for system in system_service.list_all(session):
        if not system.is_consumer or system.id not in usable:
            continue
        if principal.is_platform_admin or roles_over(session, principal, system.organisation_id) & {
            Role.OFFICER,
            Role.ORGANISATION_ADMIN,
        }:
            organisation, code = repository.system_labels(session, {system.id})[system.id]
            found.append((f"{organisation}/{code}", f"{system.name_vi} ({organisation}/{code})"))
    return sorted(found)


def _published_services(session: Session) -> list[tuple[str, str]]:
    labels = repository.system_labels(session)
    english = current_locale.get() == "en"
    query = repository.services_query(None, None).where(
        ExchangeService.status == ServiceStatus.PUBLISHED
    )
    return sorted(
        (
            "/".join((*labels[s.provider_system_id], s.code, s.version)),
            (
                f"{(s.name_en or s.name_vi) if english else s.name_vi} "
                f"({'/'.join((*labels[s.provider_system_id], s.code, s.version))})"
            ),
        )
        for s in session.scalars(query)
    )


def _request_form(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, object],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "exchange/request_new.html",
        {
            "form": form,
            "errors": errors or {},
            "systems": _requesting_systems(session, principal),
            "services": _published_services(session),
            "methods": _METHODS,
        },
        status_code=status_code,
    )


@router.get(
    "/exchange/requests/new",
    summary="The form to request a connection to a published service (officers of a consumer)",
)
def new_request_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    service: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    form: dict[str, object] = {
        "service": service,
        "consumer": "",
        "purpose": "",
        "legal_basis": "",
        "methods": ["GET"],
        "paths": "",
    }
    return _request_form(request, session, principal, form)


@router.post(
    "/exchange/requests/new",
    summary="Request a connection (officers of the consumer system's organisation; CSRF)",
)
def submit_request(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    consumer: Annotated[str, Form(max_length=200)] = "",
    service: Annotated[str, Form(max_length=300)] = "",
    purpose: Annotated[str, Form(max_length=4100)] = "",
    legal_basis: Annotated[str, Form(max_length=4100)] = "",
    methods: Annotated[list[str] | None, Form(max_length=7)] = None,
    paths: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    form: dict[str, object] = {
        "consumer": consumer,
        "service": service,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "methods": methods or [],
        "paths": paths,
    }
    errors: dict[str, str] = {}
    consumer_parts = consumer.split("/")
    service_parts = service.split("/")
    if len(consumer_parts) != 2:
        errors["consumer"] = _("Choose the system that will call the service.")
    if len(service_parts) != 4:
        errors["service"] = _("Choose a published service.")
    path_list = [line.strip() for line in paths.splitlines() if line.strip()]
    data = None
    if not errors:
        try:
            data = ConnectionRequestCreate.model_validate(
                {
                    "consumer": dict(
                        zip(("organisation_code", "system_code"), consumer_parts, strict=True)
                    ),
                    "service": dict(
                        zip(
                            ("organisation_code", "system_code", "code", "version"),
                            service_parts,
                            strict=True,
                        )
                    ),
                    "purpose": purpose,
                    "legal_basis": legal_basis,
                    "requested_methods": methods or [],
                    "requested_paths": path_list,
                }
            )
        except ValidationError as error:
            for detail in error.errors():
                name = _FIELD_OF.get(str(detail["loc"][0]) if detail["loc"] else "", "purpose")
                errors.setdefault(name, _field_message(name))
    if data is not None and not errors:
        try:
            system = system_service.get(session, *consumer_parts)
            auth.require_requester(session, principal, system)
            consumer_system = connection_service.consumer_system(session, *consumer_parts)
            wanted = catalogue_service.get(session, data.service)
            made = connection_service.submit(
                session, consumer_system, wanted, data, principal.user_id
            )
            session.commit()
        except DomainError as error:
            session.rollback()
            field = error.errors[0].field if error.errors else "service"
            errors[_FIELD_OF.get(field, "service")] = _message(error)
        else:
            return RedirectResponse(f"/exchange/requests/{made.id}", status_code=303)
    return _request_form(request, session, principal, form, errors, 422)


def _field_message(name: str) -> str:
    messages = {
        "consumer": _("Choose the system that will call the service."),
        "service": _("Choose a published service."),
        "purpose": _("Describe the purpose in 10 to 4,000 characters."),
        "legal_basis": _("Name the legal instrument the use rests on (at least 5 characters)."),
        "methods": _("Choose at least one method."),
        "paths": _("One path per line, starting with / (for example /citizens/{id}); at most 50."),
    }
    return messages[name]
