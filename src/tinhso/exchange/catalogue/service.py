"""The exchange service catalogue: providers register services as drafts (base URL checked
against the network policy, OpenAPI and JSON Schema documents validated), change them and
move them through draft -> published -> deprecated -> retired.

Services flush and never commit. Every change a gateway must see bumps the exchange state
version in the same transaction; the data plane loads it with ``exchange_snapshot``
(see snapshot.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, InvalidInput, NotFound, require_values
from tinhso.core.text import fold
from tinhso.exchange import repository
from tinhso.exchange.models import (
    SEARCHED_FIELDS,
    Classification,
    ExchangeService,
    ServiceStatus,
    service_search_text,
)
from tinhso.exchange.netpolicy import NetworkPolicy
from tinhso.registry.models import InformationSystem, SystemStatus
from tinhso.registry.organisations import organisation_service
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings
    from tinhso.exchange.schemas import ServiceCreate, ServiceKey, ServiceUpdate

# Legal lifecycle moves; anything else is a 409.
TRANSITIONS: dict[ServiceStatus, frozenset[ServiceStatus]] = {
    ServiceStatus.DRAFT: frozenset({ServiceStatus.PUBLISHED, ServiceStatus.RETIRED}),
    ServiceStatus.PUBLISHED: frozenset({ServiceStatus.DEPRECATED}),
    ServiceStatus.DEPRECATED: frozenset({ServiceStatus.PUBLISHED, ServiceStatus.RETIRED}),
    ServiceStatus.RETIRED: frozenset(),
}


def _check_openapi(document: dict[str, Any], field: str) -> None:
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise InvalidInput(
            "Tài liệu OpenAPI phải theo phiên bản 3.x (trường 'openapi')",
            "The OpenAPI document must be version 3.x (its 'openapi' field)",
            field=field,
        )
    try:
        validate_openapi(document)
    except OpenAPIValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "-"
        raise InvalidInput(
            f"Tài liệu OpenAPI không hợp lệ tại {where}: {error.message}",
            f"The OpenAPI document is not valid at {where}: {error.message}",
            field=field,
        ) from error
    except Exception as error:  # unresolvable $ref and similar structural failures
        raise InvalidInput(
            f"Tài liệu OpenAPI không hợp lệ: {error}",
            f"The OpenAPI document is not valid: {error}",
            field=field,
        ) from error


def _check_json_schema(schema: dict[str, Any], field: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "-"
        raise InvalidInput(
            f"JSON Schema không hợp lệ tại {where}: {error.message}",
            f"The JSON Schema (Draft 2020-12) is not valid at {where}: {error.message}",
            field=field,
        ) from error
    try:  # as the gateway compiles it: no remote $ref is ever fetched
        jsonschema_rs.validator_for(schema, offline=True, validate_formats=False)
    except Exception as error:  # unresolvable or remote $ref, a pattern that does not compile
        reason = str(error).split("\n", 1)[0]
        raise InvalidInput(
            f"JSON Schema không dùng được (chỉ cho phép tham chiếu $ref nội bộ): {reason}",
            f"The JSON Schema cannot be used (only local $ref are allowed): {reason}",
            field=field,
        ) from error


def service_key(service: ExchangeService, labels: dict[int, tuple[str, str]]) -> str:
    organisation, system = labels[service.provider_system_id]
    return f"{organisation}/{system}/{service.code}/{service.version}"


@dataclass(frozen=True)
class AnnouncedService:
    """A service as open catalogues describe it: no address of the provider, no schema."""

    id: int
    key: str  # organisation/system/service/version: its path on the gateway
    name_vi: str
    name_en: str | None
    description_vi: str | None
    description_en: str | None
    status: ServiceStatus
    classification: Classification
    provider_name_vi: str
    provider_name_en: str | None
    published_at: datetime | None


class CatalogueService:
    """Services providers offer through the gateway, and their lifecycle."""

    def provider_system(
        self, session: Session, organisation_code: str, code: str
    ) -> InformationSystem:
        system = system_service.get(session, organisation_code, code)
        if not system.is_provider:
            raise InvalidInput(
                f"Hệ thống {organisation_code}/{code} không được đăng ký là hệ thống cung cấp",
                f"System {organisation_code}/{code} is not registered as a provider",
                field="provider",
            )
        if system.status is not SystemStatus.ACTIVE:
            raise Conflict(
                f"Hệ thống {organisation_code}/{code} không ở trạng thái hoạt động",
                f"System {organisation_code}/{code} is not active",
                field="provider",
            )
        return system

    def get(self, session: Session, key: ServiceKey) -> ExchangeService:
        system = system_service.get(session, key.organisation_code, key.system_code)
        service = repository.service_by_key(session, system.id, key.code, key.version)
        if service is None:
            name = f"{key.organisation_code}/{key.system_code}/{key.code}/{key.version}"
            raise NotFound(
                f"Không tìm thấy dịch vụ {name}", f"Service {name} not found", field="service"
            )
        return service

    def create(
        self, session: Session, settings: Settings, provider: InformationSystem, data: ServiceCreate
    ) -> ExchangeService:
        base_url = NetworkPolicy.from_settings(settings).check_base_url(data.base_url)
        self._check_documents(data.openapi, data.request_schema, data.response_schema)
        if repository.service_by_key(session, provider.id, data.code, data.version) is not None:
            raise Conflict(
                f"Dịch vụ {data.code} phiên bản {data.version} đã tồn tại",
                f"Service {data.code} version {data.version} already exists",
                field="code",
            )
        service = ExchangeService(
            provider_system_id=provider.id,
            code=data.code,
            version=data.version,
            name_vi=data.name_vi,
            name_en=data.name_en,
            base_url=base_url,
            openapi=data.openapi,
            request_schema=data.request_schema,
            response_schema=data.response_schema,
            description_vi=data.description_vi,
            description_en=data.description_en,
            classification=data.classification,
            timeout_ms=data.timeout_ms,
            max_request_bytes=data.max_request_bytes,
            max_response_bytes=data.max_response_bytes,
            status=ServiceStatus.DRAFT,
        )
        session.add(service)
        self._flush(session, data.code)
        repository.bump_state(session)
        return service

    def update(
        self, session: Session, settings: Settings, service: ExchangeService, data: ServiceUpdate
    ) -> ExchangeService:
        if service.status is ServiceStatus.RETIRED:
            raise Conflict(
                "Dịch vụ đã ngừng; không thể sửa",
                "The service is retired and cannot change",
                field="status",
            )
        changes = data.model_dump(exclude_unset=True)
        require_values(
            changes,
            (
                "name_vi",
                "base_url",
                "classification",
                "timeout_ms",
                "max_request_bytes",
                "max_response_bytes",
            ),
        )
        if "base_url" in changes:
            changes["base_url"] = NetworkPolicy.from_settings(settings).check_base_url(
                changes["base_url"]
            )
        self._check_documents(
            changes.get("openapi"), changes.get("request_schema"), changes.get("response_schema")
        )
        for name, value in changes.items():
            setattr(service, name, value)
        service.search_text = service_search_text(
            {name: getattr(service, name) for name in SEARCHED_FIELDS}
        )
        service.updated_at = utcnow()
        self._flush(session, service.code)
        repository.bump_state(session)
        return service

    def transition(
        self, session: Session, service: ExchangeService, target: ServiceStatus
    ) -> ExchangeService:
        if target not in TRANSITIONS[service.status]:
            raise Conflict(
                f"Không thể chuyển dịch vụ từ trạng thái {service.status.value} sang {target.value}",
                f"A service cannot go from {service.status.value} to {target.value}",
                field="status",
            )
        now = utcnow()
        service.status = target
        if target is ServiceStatus.PUBLISHED and service.published_at is None:
            service.published_at = now
        if target is ServiceStatus.RETIRED:
            service.retired_at = now
        service.updated_at = now
        session.flush()
        repository.bump_state(session)
        return service

    def browse(
        self,
        session: Session,
        *,
        visible_system_ids: set[int] | None,
        provider_system_ids: set[int] | None = None,
        text: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ExchangeService], int]:
        """A page of the catalogue and how many services match, in two queries: services of
        the given provider systems (None: all) whose code, names or descriptions hold
        ``text`` with or without diacritics; drafts only of the ``visible_system_ids`` (None:
        every draft, for platform administrators). Newest first; documents not loaded."""
        query = select(ExchangeService)
        if provider_system_ids is not None:
            query = query.where(ExchangeService.provider_system_id.in_(provider_system_ids))
        if visible_system_ids is not None:
            query = query.where(
                or_(
                    ExchangeService.status != ServiceStatus.DRAFT,
                    ExchangeService.provider_system_id.in_(visible_system_ids),
                )
            )
        for word in fold(text).split():
            query = query.where(ExchangeService.search_text.contains(word, autoescape=True))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.options(
                defer(ExchangeService.openapi),
                defer(ExchangeService.request_schema),
                defer(ExchangeService.response_schema),
            )
            .order_by(ExchangeService.name_vi, ExchangeService.version, ExchangeService.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows), total

    def announced(self, session: Session) -> list[AnnouncedService]:
        """The services anyone may know of (published or deprecated: not drafts, not retired),
        with their provider, for open catalogues (metadata only: calling one needs a grant)."""
        services = list(
            session.scalars(
                select(ExchangeService)
                .where(
                    ExchangeService.status.in_((ServiceStatus.PUBLISHED, ServiceStatus.DEPRECATED))
                )
                .options(
                    defer(ExchangeService.openapi),
                    defer(ExchangeService.request_schema),
                    defer(ExchangeService.response_schema),
                )
                .order_by(ExchangeService.id)
            )
        )
        system_ids = {service.provider_system_id for service in services}
        labels = system_service.labels(session, system_ids)
        owners = system_service.owners(session, system_ids)
        organisations = organisation_service.by_ids(session, set(owners.values()))
        found: list[AnnouncedService] = []
        for service in services:
            organisation = organisations[owners[service.provider_system_id]]
            found.append(
                AnnouncedService(
                    id=service.id,
                    key=service_key(service, labels),
                    name_vi=service.name_vi,
                    name_en=service.name_en,
                    description_vi=service.description_vi,
                    description_en=service.description_en,
                    status=service.status,
                    classification=service.classification,
                    provider_name_vi=organisation.name_vi,
                    provider_name_en=organisation.name_en,
                    published_at=service.published_at,
                )
            )
        return found

    def _check_documents(
        self,
        openapi: dict[str, Any] | None,
        request_schema: dict[str, Any] | None,
        response_schema: dict[str, Any] | None,
    ) -> None:
        if openapi is not None:
            _check_openapi(openapi, "openapi")
        if request_schema is not None:
            _check_json_schema(request_schema, "request_schema")
        if response_schema is not None:
            _check_json_schema(response_schema, "response_schema")

    def _flush(self, session: Session, code: str) -> None:
        try:
            session.flush()
        except IntegrityError as error:
            raise Conflict(
                f"Không thể lưu dịch vụ {code}: dữ liệu trùng",
                f"Service {code} could not be saved: duplicate",
                field="code",
            ) from error


catalogue_service = CatalogueService()
