"""The exchange catalogue in the portal: browse and search services (by organisation, by
information system, by words with or without diacritics), a service's page (description,
versions, lifecycle, the data standard read as tables and downloadable, limits, provider and
contact, the grants the viewer may see), and for the provider's officers publishing a service
from its OpenAPI document and moving it through its lifecycle.

The rules are the API's (``exchange.auth``: ``may_read_service``, ``require_service_manager``)
and so are the effects (``catalogue_service.browse/create/transition``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError, Forbidden, NotFound
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.catalogue import reading
from tinhso.exchange.catalogue.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentProblem,
    as_json,
    as_yaml,
    read_openapi,
)
from tinhso.exchange.catalogue.service import TRANSITIONS, catalogue_service
from tinhso.exchange.models import Classification, ExchangeService, ServiceStatus
from tinhso.exchange.schemas import ServiceCreate, ServiceUpdate
from tinhso.portal.auth import PortalUser
from tinhso.portal.exchange.pages import classification_label, status_label
from tinhso.portal.rendering import render
from tinhso.registry.auth import roles_over
from tinhso.registry.models import Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings
    from tinhso.registry.auth import Principal
    from tinhso.registry.models import InformationSystem, Organisation

router = APIRouter()
PAGE_SIZE = 25
_MAX_PAGE = 100_000


def _message(error: DomainError | DocumentProblem) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


def _english() -> bool:
    return current_locale.get() == "en"


def _name(vi: str, en: str | None) -> str:
    return (en or vi) if _english() else vi


# --- browsing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueRow:
    id: int
    key: str
    name: str
    description: str
    organisation: str
    system: str
    version: str
    status: str
    status_label: str
    classification_label: str
    published_at: datetime | None


def _providers(
    session: Session,
) -> tuple[dict[int, Organisation], list[InformationSystem]]:
    organisations = {row.id: row for row in organisation_service.list_all(session)}
    systems = [row for row in system_service.list_all(session) if row.is_provider]
    return organisations, systems


@router.get(
    "/exchange/catalogue",
    summary="The service catalogue: browse by organisation and system, search (officials)",
)
def catalogue_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    q: Annotated[str, Query(max_length=200)] = "",
    organisation: Annotated[str, Query(max_length=64)] = "",
    system: Annotated[str, Query(max_length=130)] = "",
    page: Annotated[int, Query(ge=1, le=_MAX_PAGE)] = 1,
) -> Response:
    organisations, systems = _providers(session)
    system_keys = {
        row.id: f"{organisations[row.organisation_id].code}/{row.code}" for row in systems
    }
    chosen: set[int] | None = None
    if organisation:
        chosen = {
            row.id for row in systems if organisations[row.organisation_id].code == organisation
        }
    if system:
        wanted = {row_id for row_id, key in system_keys.items() if key == system}
        chosen = wanted if chosen is None else chosen & wanted
    rows, total = catalogue_service.browse(
        session,
        visible_system_ids=auth.visible_system_ids(session, principal),
        provider_system_ids=chosen,
        text=q,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    by_id = {row.id: row for row in systems}
    shown: list[CatalogueRow] = []
    for row in rows:
        provider = by_id.get(row.provider_system_id)
        owner = organisations.get(provider.organisation_id) if provider else None
        system_key = system_keys.get(row.provider_system_id, "")
        shown.append(
            CatalogueRow(
                id=row.id,
                key=f"{system_key}/{row.code}/{row.version}",
                name=_name(row.name_vi, row.name_en),
                description=_name(row.description_vi or "", row.description_en),
                organisation=_name(owner.name_vi, owner.name_en) if owner else "",
                system=_name(provider.name_vi, provider.name_en) if provider else "",
                version=row.version,
                status=row.status.value,
                status_label=status_label(row.status),
                classification_label=classification_label(row.classification),
                published_at=row.published_at,
            )
        )
    provider_organisations = sorted(
        {row.organisation_id for row in systems}, key=lambda i: organisations[i].name_vi
    )
    return render(
        request,
        "exchange/catalogue.html",
        {
            "rows": shown,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": {"q": q, "organisation": organisation, "system": system},
            "organisations": [
                (organisations[i].code, _name(organisations[i].name_vi, organisations[i].name_en))
                for i in provider_organisations
            ],
            "systems": sorted(
                (system_keys[row.id], f"{_name(row.name_vi, row.name_en)} ({system_keys[row.id]})")
                for row in systems
            ),
            "may_publish": bool(_manageable_systems(session, principal)),
        },
    )


# --- one service ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRow:
    consumer: str
    methods: str
    paths: str
    valid_from: datetime
    valid_until: datetime | None
    quota_per_day: int | None
    rate_per_second: int | None
    active: bool


def _readable(session: Session, principal: Principal, service_id: int) -> ExchangeService:
    service = session.get(ExchangeService, service_id)
    if service is None or not auth.may_read_service(session, principal, service):
        raise NotFound(
            f"Không tìm thấy dịch vụ {service_id}", f"Service {service_id} not found", field="id"
        )
    return service


def _may_manage(session: Session, principal: Principal, service: ExchangeService) -> bool:
    owner = system_service.owners(session, {service.provider_system_id}).get(
        service.provider_system_id
    )
    return owner is not None and _is_officer(session, principal, owner)


def _is_officer(session: Session, principal: Principal, organisation_id: int) -> bool:
    return principal.is_platform_admin or bool(
        roles_over(session, principal, organisation_id) & {Role.OFFICER, Role.ORGANISATION_ADMIN}
    )


def _grants(session: Session, principal: Principal, service: ExchangeService) -> list[GrantRow]:
    """The grants of the service the viewer may read (``auth.require_reader``): all of them
    for the provider's side, their own systems' for a consumer."""
    visible = auth.visible_system_ids(session, principal)
    rows = list(session.scalars(repository.grants_query(service_ids={service.id}).limit(200)))
    if visible is not None and service.provider_system_id not in visible:
        rows = [row for row in rows if row.consumer_system_id in visible]
    labels = repository.system_labels(session, {row.consumer_system_id for row in rows})
    now = utcnow()
    return [
        GrantRow(
            consumer="/".join(labels.get(row.consumer_system_id, ("?", "?"))),
            methods=", ".join(row.allowed_methods),
            paths=", ".join(row.allowed_paths),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            quota_per_day=row.quota_per_day,
            rate_per_second=row.rate_per_second,
            active=row.revoked_at is None and (row.valid_until is None or row.valid_until > now),
        )
        for row in rows
    ]


def _service_page(
    request: Request,
    session: Session,
    principal: Principal,
    service: ExchangeService,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    limits: dict[str, str] | None = None,
) -> Response:
    organisation_code, system_code = repository.system_labels(
        session, {service.provider_system_id}
    )[service.provider_system_id]
    provider = system_service.get(session, organisation_code, system_code)
    owner = organisation_service.get(session, organisation_code)
    visible = auth.visible_system_ids(session, principal)
    versions = [
        row
        for row in session.scalars(
            repository.services_query({service.provider_system_id}, None).where(
                ExchangeService.code == service.code
            )
        )
        if row.status is not ServiceStatus.DRAFT
        or visible is None
        or row.provider_system_id in visible
    ]
    key = f"{organisation_code}/{system_code}/{service.code}/{service.version}"
    document = service.openapi
    return render(
        request,
        "exchange/service.html",
        {
            "service": service,
            "key": key,
            "name": _name(service.name_vi, service.name_en),
            "description": _name(service.description_vi or "", service.description_en),
            "status_label": status_label(service.status),
            "classification_label": classification_label(service.classification),
            "provider": _name(provider.name_vi, provider.name_en),
            "provider_key": f"{organisation_code}/{system_code}",
            "organisation": _name(owner.name_vi, owner.name_en),
            "contact": reading.contact(document),
            "title": str((document or {}).get("info", {}).get("title", "")),
            "operations": reading.operations(document),
            "request_fields": reading.schema_fields(
                service.request_schema or {}, service.request_schema
            ),
            "response_fields": reading.schema_fields(
                service.response_schema or {}, service.response_schema
            ),
            "versions": [
                (row.id, row.version, status_label(row.status), row.status.value)
                for row in versions
            ],
            "grants": _grants(session, principal, service),
            "may_manage": _may_manage(session, principal, service),
            "moves": [
                (target.value, _move_label(target))
                for target in sorted(TRANSITIONS[service.status], key=_move_order)
            ],
            "errors": errors or {},
            "limits": limits or {name: str(getattr(service, name)) for name in _LIMITS},
        },
        status_code=status_code,
    )


def _move_order(target: ServiceStatus) -> int:
    return list(ServiceStatus).index(target)


def _move_label(target: ServiceStatus) -> str:
    labels = {
        ServiceStatus.PUBLISHED: _("Publish"),
        ServiceStatus.DEPRECATED: _("Deprecate"),
        ServiceStatus.RETIRED: _("Retire"),
        ServiceStatus.DRAFT: _("Draft"),
    }
    return labels[target]


@router.get(
    "/exchange/catalogue/{service_id:int}",
    summary="A service: description, versions, lifecycle, data standard, limits, grants (officials; drafts only their provider's)",
)
def service_page(
    request: Request, session: DbSession, principal: PortalUser, service_id: int
) -> Response:
    if service_id > 2**31 - 1:
        raise NotFound(
            f"Không tìm thấy dịch vụ {service_id}", f"Service {service_id} not found", field="id"
        )
    return _service_page(request, session, principal, _readable(session, principal, service_id))


@router.get(
    "/exchange/catalogue/{service_id:int}/openapi",
    summary="Download a service's OpenAPI document as JSON or YAML (officials; drafts only their provider's)",
)
def service_document(
    session: DbSession,
    principal: PortalUser,
    service_id: int,
    format: Annotated[str, Query(pattern="^(json|yaml)$")] = "json",
) -> Response:
    if service_id > 2**31 - 1:
        raise NotFound(
            f"Không tìm thấy dịch vụ {service_id}", f"Service {service_id} not found", field="id"
        )
    service = _readable(session, principal, service_id)
    if service.openapi is None:
        raise NotFound(
            "Dịch vụ chưa có tài liệu OpenAPI", "The service has no OpenAPI document", field="id"
        )
    name = f"{service.code}-{service.version}.openapi.{format}"
    body, media_type = (
        (as_yaml(service.openapi), "application/yaml")
        if format == "yaml"
        else (as_json(service.openapi), "application/json")
    )
    return Response(
        body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/exchange/catalogue/{service_id:int}/status",
    summary="Publish, deprecate or retire a service (officers of the provider system's organisation; CSRF)",
)
def transition(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    service_id: int,
    status: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if service_id > 2**31 - 1:
        raise NotFound(
            f"Không tìm thấy dịch vụ {service_id}", f"Service {service_id} not found", field="id"
        )
    service = _readable(session, principal, service_id)
    organisation_code, system_code = repository.system_labels(
        session, {service.provider_system_id}
    )[service.provider_system_id]
    auth.require_service_manager(
        session, principal, system_service.get(session, organisation_code, system_code)
    )
    try:
        target = ServiceStatus(status)
        catalogue_service.transition(session, service, target)
        session.commit()
    except ValueError:
        session.rollback()
        message = _("Choose a lifecycle step.")
    except DomainError as error:
        session.rollback()
        message = _message(error)
    else:
        return RedirectResponse(f"/exchange/catalogue/{service_id}", status_code=303)
    service = _readable(session, principal, service_id)
    return _service_page(request, session, principal, service, {"status": message}, 409)


_LIMITS = ("timeout_ms", "max_request_bytes", "max_response_bytes")


@router.post(
    "/exchange/catalogue/{service_id:int}/limits",
    summary="Change a service's time-out and size limits (officers of the provider system's organisation; CSRF)",
)
def change_limits(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    service_id: int,
    timeout_ms: Annotated[str, Form(max_length=20)] = "",
    max_request_bytes: Annotated[str, Form(max_length=20)] = "",
    max_response_bytes: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if service_id > 2**31 - 1:
        raise NotFound(
            f"Không tìm thấy dịch vụ {service_id}", f"Service {service_id} not found", field="id"
        )
    service = _readable(session, principal, service_id)
    organisation_code, system_code = repository.system_labels(
        session, {service.provider_system_id}
    )[service.provider_system_id]
    auth.require_service_manager(
        session, principal, system_service.get(session, organisation_code, system_code)
    )
    typed = {"timeout_ms": timeout_ms, "max_request_bytes": max_request_bytes}
    typed["max_response_bytes"] = max_response_bytes
    errors: dict[str, str] = {}
    data = None
    try:
        data = ServiceUpdate.model_validate({name: _number(value) for name, value in typed.items()})
    except ValidationError as error:
        for detail in error.errors():
            name = str(detail["loc"][0]) if detail["loc"] else "timeout_ms"
            errors.setdefault(name if name in _LIMITS else "timeout_ms", _field_message(name))
    if data is not None:
        settings: Settings = request.app.state.settings
        try:
            catalogue_service.update(session, settings, service, data)
            session.commit()
        except DomainError as error:
            session.rollback()
            errors["timeout_ms"] = _message(error)
        else:
            return RedirectResponse(f"/exchange/catalogue/{service_id}#limits-title", 303)
    service = _readable(session, principal, service_id)
    return _service_page(request, session, principal, service, errors, 422, typed)


# --- publishing from an OpenAPI document ---------------------------------------------------


def _manageable_systems(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """(key "organisation/system", label) of the active provider systems this official may
    register services for (``auth.require_service_manager``: officers and admins)."""
    organisations = {row.id: row for row in organisation_service.list_all(session)}
    usable = repository.usable_system_ids(session)
    found = []
    for system in system_service.list_all(session):
        if not system.is_provider or system.id not in usable:
            continue
        if _is_officer(session, principal, system.organisation_id):
            key = f"{organisations[system.organisation_id].code}/{system.code}"
            found.append((key, f"{_name(system.name_vi, system.name_en)} ({key})"))
    return sorted(found)


_FIELD_OF = {
    "provider": "provider",
    "code": "code",
    "version": "version",
    "name_vi": "name_vi",
    "name_en": "name_en",
    "base_url": "base_url",
    "openapi": "document",
    "description_vi": "description_vi",
    "classification": "classification",
    "timeout_ms": "timeout_ms",
    "max_request_bytes": "max_request_bytes",
    "max_response_bytes": "max_response_bytes",
}


def _field_message(name: str) -> str:
    messages = {
        "provider": _("Choose the provider system."),
        "code": _("A code of lower-case letters, digits and hyphens, for example ho-so-suc-khoe."),
        "version": _("A version such as v1."),
        "name_vi": _("Write the service's Vietnamese name."),
        "name_en": _("At most 300 characters."),
        "base_url": _("The address the gateway forwards to, for example https://10.0.0.5/api."),
        "document": _("Upload or paste an OpenAPI 3 document."),
        "description_vi": _("At most 4,000 characters."),
        "classification": _("Choose a classification."),
        "timeout_ms": _("A time-out between 100 and 120,000 ms."),
        "max_request_bytes": _("A size between 1 byte and 100 MB."),
        "max_response_bytes": _("A size between 1 byte and 1 GB."),
    }
    return messages[name]


def _publish_form(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "exchange/service_new.html",
        {
            "form": form,
            "errors": errors or {},
            "systems": _manageable_systems(session, principal),
            "classifications": [(c.value, classification_label(c)) for c in Classification],
        },
        status_code=status_code,
    )


_EMPTY_FORM: dict[str, Any] = {
    "provider": "",
    "code": "",
    "version": "v1",
    "name_vi": "",
    "name_en": "",
    "base_url": "",
    "description_vi": "",
    "classification": Classification.INTERNAL.value,
    "timeout_ms": "10000",
    "max_request_bytes": str(1024 * 1024),
    "max_response_bytes": str(16 * 1024 * 1024),
    "document": "",
}


@router.get(
    "/exchange/catalogue/new",
    summary="The form to publish a service from its OpenAPI document (officers of a provider)",
)
def new_service_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    return _publish_form(request, session, principal, dict(_EMPTY_FORM))


async def _document_text(upload: UploadFile | None, pasted: str) -> tuple[str, str | None]:
    """The document's text (the uploaded file before the pasted text) or why it cannot be read."""
    if upload is not None and upload.filename:
        raw = await upload.read(MAX_DOCUMENT_BYTES + 1)
        if len(raw) > MAX_DOCUMENT_BYTES:
            return "", _("The OpenAPI document is larger than 2 MB.")
        if raw:
            try:
                return raw.decode("utf-8-sig"), None
            except UnicodeDecodeError:
                return "", _("The file is not UTF-8 text (JSON or YAML).")
    return pasted, None


_WHOLE_NUMBER = re.compile(r"\d+|\d{1,3}(?:([., \u00a0])\d{3})(?:\1\d{3})*")


def _number(value: str) -> int | str:
    """A whole number as people type it ("16777216", "16.777.216", "16 777 216"); anything
    else is passed on as text for the schema to refuse."""
    value = value.strip()
    if _WHOLE_NUMBER.fullmatch(value) and len(value) < 16:
        return int(re.sub(r"\D", "", value))
    return value


@router.post(
    "/exchange/catalogue/new",
    summary="Register a service as a draft from its OpenAPI document (officers of the provider system's organisation; CSRF)",
)
async def submit_service(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    provider: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=200)] = "",
    version: Annotated[str, Form(max_length=50)] = "v1",
    name_vi: Annotated[str, Form(max_length=1000)] = "",
    name_en: Annotated[str, Form(max_length=1000)] = "",
    base_url: Annotated[str, Form(max_length=2100)] = "",
    description_vi: Annotated[str, Form(max_length=4100)] = "",
    classification: Annotated[str, Form(max_length=20)] = "internal",
    timeout_ms: Annotated[str, Form(max_length=20)] = "10000",
    max_request_bytes: Annotated[str, Form(max_length=20)] = str(1024 * 1024),
    max_response_bytes: Annotated[str, Form(max_length=20)] = str(16 * 1024 * 1024),
    document: Annotated[str, Form(max_length=MAX_DOCUMENT_BYTES)] = "",
    document_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    text, unreadable = await _document_text(document_file, document)
    form: dict[str, Any] = {
        "provider": provider,
        "code": code,
        "version": version,
        "name_vi": name_vi,
        "name_en": name_en,
        "base_url": base_url,
        "description_vi": description_vi,
        "classification": classification,
        "timeout_ms": timeout_ms,
        "max_request_bytes": max_request_bytes,
        "max_response_bytes": max_response_bytes,
        "document": text or document,
    }
    return _submitted(request, session, principal, form, text, unreadable)


def _submitted(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, Any],
    text: str,
    unreadable: str | None,
) -> Response:
    if not _manageable_systems(session, principal):
        raise Forbidden(
            "Bạn không phải cán bộ của tổ chức nào có hệ thống cung cấp dịch vụ",
            "You are not an officer of an organisation with a provider system",
        )
    errors: dict[str, str] = {}
    parts = str(form["provider"]).split("/")
    if len(parts) != 2 or not all(parts):
        errors["provider"] = _field_message("provider")
    openapi: dict[str, Any] | None = None
    if unreadable:
        errors["document"] = unreadable
    else:
        try:
            openapi = read_openapi(text)
        except DocumentProblem as problem:
            errors["document"] = (
                _("Line %(line)s: %(message)s")
                % {"line": problem.line, "message": _message(problem)}
                if problem.line
                else _message(problem)
            )
            form["error_line"] = problem.line
    info = (openapi or {}).get("info") or {}
    data = None
    if not errors and openapi is not None:
        try:
            data = ServiceCreate.model_validate(
                {
                    "provider": {"organisation_code": parts[0], "system_code": parts[1]},
                    "code": str(form["code"]).strip(),
                    "version": str(form["version"]).strip() or "v1",
                    "name_vi": str(form["name_vi"]).strip() or str(info.get("title", "")),
                    "name_en": str(form["name_en"]).strip() or None,
                    "base_url": form["base_url"],
                    "openapi": openapi,
                    "description_vi": str(form["description_vi"]).strip()
                    or (str(info["description"]) if info.get("description") else None),
                    "classification": form["classification"],
                    "timeout_ms": _number(str(form["timeout_ms"])),
                    "max_request_bytes": _number(str(form["max_request_bytes"])),
                    "max_response_bytes": _number(str(form["max_response_bytes"])),
                }
            )
        except ValidationError as error:
            for detail in error.errors():
                name = _FIELD_OF.get(str(detail["loc"][0]) if detail["loc"] else "", "code")
                errors.setdefault(name, _field_message(name))
    if data is not None and not errors:
        settings: Settings = request.app.state.settings
        system = system_service.get(session, parts[0], parts[1])
        auth.require_service_manager(session, principal, system)
        try:
            made = catalogue_service.create(
                session,
                settings,
                catalogue_service.provider_system(session, parts[0], parts[1]),
                data,
            )
            session.commit()
        except DomainError as error:
            session.rollback()
            field = error.errors[0].field if error.errors else "code"
            errors[_FIELD_OF.get(field, "code")] = _message(error)
        else:
            return RedirectResponse(f"/exchange/catalogue/{made.id}", status_code=303)
    return _publish_form(request, session, principal, form, errors, 422)
