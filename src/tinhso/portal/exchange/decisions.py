"""A connection request in the portal (Decree 194/2025): its details and due date to both
parties, and for the provider's administrators the decision: approve (optionally narrowing the
methods, a daily quota) or refuse with a written reason. A decided request's page is the
written decision, printable on A4. The rules and the effects are the API's
(``exchange.auth.require_decider``, ``connection_service.approve/refuse``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, NotFound
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.connections.service import connection_service, is_overdue
from tinhso.exchange.models import ExchangeService, RequestStatus
from tinhso.exchange.schemas import ApprovalCreate
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry.auth import can_administer
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.exchange.models import ConnectionRequest
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
    return render(
        request,
        "exchange/request.html",
        {
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


@router.get(
    "/exchange/requests/{request_id}",
    summary="A connection request and its decision, printable (officials of either party)",
)
def request_page(
    request: Request, session: DbSession, principal: PortalUser, request_id: int
) -> Response:
    connection, service = _loaded(session, principal, request_id)
    return _page(request, session, principal, connection, service)


@router.post(
    "/exchange/requests/{request_id}/approve",
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
    if not errors:
        try:
            data = ApprovalCreate(
                allowed_methods=methods or None,  # type: ignore[arg-type]
                quota_per_day=int(quota) if quota else None,
                reason=reason.strip() or None,
            )
            connection_service.approve(session, connection, data, principal.user_id)
            session.commit()
        except ValidationError:
            errors["methods"] = _("Choose methods among those requested.")
        except DomainError as error:
            session.rollback()
            field = error.errors[0].field if error.errors else "approve"
            errors["methods" if field == "allowed_methods" else "approve"] = _message(error)
    if errors:
        connection, service = _loaded(session, principal, request_id)
        return _page(request, session, principal, connection, service, errors, 422)
    return RedirectResponse(f"/exchange/requests/{request_id}", status_code=303)


@router.post(
    "/exchange/requests/{request_id}/refuse",
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
    else:
        try:
            connection_service.refuse(session, connection, reason.strip(), principal.user_id)
            session.commit()
        except DomainError as error:
            session.rollback()
            errors["reason"] = _message(error)
    if errors:
        connection, service = _loaded(session, principal, request_id)
        return _page(request, session, principal, connection, service, errors, 422)
    return RedirectResponse(f"/exchange/requests/{request_id}", status_code=303)
