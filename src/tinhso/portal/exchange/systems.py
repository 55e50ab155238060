"""Information systems in the portal: the administrators of an organisation register its
systems (consumer, provider or both), change their names and roles, and suspend, retire or
reactivate them. The rules are the API's (``registry.auth.require_administrator``,
``system_service``): a suspended or retired system's tokens stop working at the gateways
within the same change notice as through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry.auth import administered_organisation_ids, require_administrator
from tinhso.registry.models import SystemStatus
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import SystemCreate, SystemUpdate
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal
    from tinhso.registry.models import InformationSystem

router = APIRouter()
_FIELDS = ("organisation", "code", "name_vi", "name_en", "description")


def status_label(status: SystemStatus) -> str:
    labels = {
        SystemStatus.ACTIVE: _("Active"),
        SystemStatus.SUSPENDED: _("Suspended"),
        SystemStatus.RETIRED: _("Retired"),
    }
    return labels[status]


@dataclass(frozen=True)
class SystemRow:
    organisation_code: str
    code: str
    name: str
    organisation: str
    roles: str
    status: str
    status_label: str


def _roles(is_consumer: bool, is_provider: bool) -> str:
    roles = [_("Consumer")] if is_consumer else []
    roles += [_("Provider")] if is_provider else []
    return ", ".join(roles) or "—"


def administered_systems(session: Session, principal: Principal) -> list[InformationSystem]:
    """The systems of the organisations one administers (every system for platform admins)."""
    administered = administered_organisation_ids(session, principal)
    return [
        system
        for system in system_service.list_all(session)
        if administered is None or system.organisation_id in administered
    ]


def _rows(session: Session, principal: Principal) -> list[SystemRow]:
    systems = administered_systems(session, principal)
    owners = organisation_service.by_ids(session, {s.organisation_id for s in systems})
    vietnamese = current_locale.get() == "vi"
    return sorted(
        (
            SystemRow(
                organisation_code=owners[s.organisation_id].code,
                code=s.code,
                name=s.name_vi if vietnamese or not s.name_en else s.name_en,
                organisation=owners[s.organisation_id].name_vi,
                roles=_roles(s.is_consumer, s.is_provider),
                status=s.status.value,
                status_label=status_label(s.status),
            )
            for s in systems
        ),
        key=lambda row: (row.organisation_code, row.code),
    )


def _owners(session: Session, principal: Principal) -> list[tuple[str, str]]:
    administered = administered_organisation_ids(session, principal)
    return [
        (o.code, o.name_vi)
        for o in organisation_service.list_all(session)
        if administered is None or o.id in administered
    ]


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    notice: str = "",
) -> Response:
    owners = _owners(session, principal)
    return render(
        request,
        "exchange/systems.html",
        {
            "systems": _rows(session, principal),
            "owners": owners,
            "statuses": [(s.value, status_label(s)) for s in SystemStatus],
            "form": form or {**dict.fromkeys(_FIELDS, ""), "is_consumer": "on", "is_provider": ""},
            "errors": errors or {},
            "form_problems": any(name in (errors or {}) for name in (*_FIELDS, "roles")),
            "notice": notice,
        },
        status_code=status_code,
    )


def _say(error: DomainError) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


@router.get(
    "/exchange/systems",
    summary="Information systems of the organisations one administers: register, change, suspend (organisation admins)",
)
def systems_page(
    request: Request, session: DbSession, principal: PortalUser, done: str = ""
) -> Response:
    notices = {
        "created": _("The system was registered."),
        "active": _("The system is active again."),
        "suspended": _("The system was suspended: its tokens stop working at the gateways."),
        "retired": _("The system was retired: its tokens stop working at the gateways."),
    }
    return _page(request, session, principal, notice=notices.get(done, ""))


_PYDANTIC_FIELDS = {"organisation_code": "organisation"}


@router.post(
    "/exchange/systems",
    summary="Register an information system (admins of the owning organisation; CSRF)",
)
def create_system(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    organisation: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=100)] = "",
    name_vi: Annotated[str, Form(max_length=400)] = "",
    name_en: Annotated[str, Form(max_length=400)] = "",
    description: Annotated[str, Form(max_length=8000)] = "",
    is_consumer: Annotated[str, Form(max_length=8)] = "",
    is_provider: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    form = {
        "organisation": organisation,
        "code": code.strip(),
        "name_vi": name_vi.strip(),
        "name_en": name_en.strip(),
        "description": description.strip(),
        "is_consumer": is_consumer,
        "is_provider": is_provider,
    }
    errors: dict[str, str] = {}
    if organisation not in {code for code, _name in _owners(session, principal)}:
        errors["organisation"] = _("Choose an organisation you administer.")
    if not is_consumer and not is_provider:
        errors["roles"] = _("A system consumes data, provides it, or both: tick at least one.")
    data = None
    try:
        data = SystemCreate(
            code=form["code"],
            organisation_code=organisation,
            name_vi=form["name_vi"],
            name_en=form["name_en"] or None,
            description=form["description"] or None,
            is_consumer=bool(is_consumer),
            is_provider=bool(is_provider),
        )
    except ValidationError as error:
        for detail in error.errors():
            name = str(detail["loc"][0]) if detail["loc"] else "code"
            errors.setdefault(
                _PYDANTIC_FIELDS.get(name, name),
                _("Lower-case letters, digits, dots, hyphens or underscores, 2 to 64 characters.")
                if name == "code"
                else _("Write 2 to 300 characters."),
            )
    if errors or data is None:
        return _page(request, session, principal, form, errors, 422)
    try:
        system_service.create(session, data)
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            raise
        target = error.errors[0].field if error.errors else "code"
        errors[_PYDANTIC_FIELDS.get(target, target if target in _FIELDS else "code")] = _say(error)
        return _page(request, session, principal, form, errors, error.status)
    session.commit()
    return RedirectResponse("/exchange/systems?done=created", status_code=303)


@router.post(
    "/exchange/systems/{organisation_code}/{code}/status",
    summary="Suspend, retire or reactivate an information system (admins of the owning organisation; CSRF)",
)
def change_status(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    organisation_code: str,
    code: str,
    status: Annotated[str, Form(max_length=16)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    system = system_service.get(session, organisation_code, code)
    require_administrator(session, principal, system.organisation_id)
    if status not in {s.value for s in SystemStatus} or not confirm:
        errors = {f"status-{organisation_code}-{code}": _("Choose a state and tick the box.")}
        return _page(request, session, principal, errors=errors, status_code=422)
    system_service.update(session, system, SystemUpdate(status=SystemStatus(status)))
    session.commit()
    return RedirectResponse(f"/exchange/systems?done={status}", status_code=303)
