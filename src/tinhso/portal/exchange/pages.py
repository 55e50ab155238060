"""Portal pages of data exchange (LGSP) (see the contract in ``tinhso.portal.pages``).

``/exchange``: the services published through the platform (and the official's own drafts),
and the connection requests waiting for the official's decision, oldest due date first.
Each request opens on its own page (``decisions.py``), where the provider's admins decide.
``/exchange/statistics``: exchanges per day and per service with error rates, from the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from sqlalchemy import or_
from starlette.responses import Response

from tinhso.core.db import utcnow
from tinhso.core.i18n import current_locale, format_date
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.audit.statistics import exchange_statistics
from tinhso.exchange.connections.service import is_overdue
from tinhso.exchange.models import Classification, ExchangeService, RequestStatus, ServiceStatus
from tinhso.portal.auth import PortalUser
from tinhso.portal.exchange.decisions import request_status_label
from tinhso.portal.rendering import render
from tinhso.portal.workbooks import download, table_workbook
from tinhso.registry.auth import administered_organisation_ids
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter()
_MAX_ROWS = 200
_OWN_ROWS = 50


def status_label(status: ServiceStatus) -> str:
    labels = {
        ServiceStatus.DRAFT: _("Draft"),
        ServiceStatus.PUBLISHED: _("Published"),
        ServiceStatus.DEPRECATED: _("Deprecated"),
        ServiceStatus.RETIRED: _("Retired"),
    }
    return labels[status]


def classification_label(classification: Classification) -> str:
    labels = {
        Classification.PUBLIC: _("Public"),
        Classification.INTERNAL: _("Internal"),
        Classification.PERSONAL: _("Personal data"),
    }
    return labels[classification]


@dataclass(frozen=True)
class ServiceRow:
    key: str
    name: str
    provider: str
    status: ServiceStatus
    status_label: str
    classification_label: str


@dataclass(frozen=True)
class RequestRow:
    id: int
    consumer: str
    service: str
    purpose: str
    legal_basis: str
    methods: str
    paths: str
    created_at: datetime
    due_at: datetime
    overdue: bool


@router.get(
    "/exchange", summary="Data exchange: services and requests awaiting decision (officials)"
)
def exchange_home(request: Request, session: DbSession, principal: PortalUser) -> Response:
    english = current_locale.get() == "en"
    labels = repository.system_labels(session)
    visible = auth.visible_system_ids(session, principal)

    query = repository.services_query(None, None)
    if visible is not None:
        query = query.where(
            or_(
                ExchangeService.status != ServiceStatus.DRAFT,
                ExchangeService.provider_system_id.in_(visible),
            )
        )
    services = [
        ServiceRow(
            key="/".join((*labels[row.provider_system_id], row.code, row.version)),
            name=(row.name_en or row.name_vi) if english else row.name_vi,
            provider="/".join(labels[row.provider_system_id]),
            status=row.status,
            status_label=status_label(row.status),
            classification_label=classification_label(row.classification),
        )
        for row in session.scalars(query.limit(_MAX_ROWS))
    ]

    provided = None if visible is None else repository.service_ids_of_providers(session, visible)
    pending_query = repository.requests_query(service_ids=provided, status=RequestStatus.PENDING)
    pending_rows = list(session.scalars(pending_query.limit(_MAX_ROWS)))
    pending_services = repository.services_by_ids(session, {row.service_id for row in pending_rows})
    owners = system_service.owners(
        session, {service.provider_system_id for service in pending_services.values()}
    )
    administered = administered_organisation_ids(session, principal)
    now = utcnow()
    waiting: list[RequestRow] = []
    for pending in pending_rows:
        service = pending_services.get(pending.service_id)
        owner = owners.get(service.provider_system_id) if service else None
        if service is None or owner is None:
            continue
        if administered is not None and owner not in administered:
            continue
        waiting.append(
            RequestRow(
                id=pending.id,
                consumer="/".join(labels[pending.consumer_system_id]),
                service="/".join(
                    (*labels[service.provider_system_id], service.code, service.version)
                ),
                purpose=pending.purpose,
                legal_basis=pending.legal_basis,
                methods=", ".join(pending.requested_methods),
                paths=", ".join(pending.requested_paths),
                created_at=pending.created_at,
                due_at=pending.due_at,
                overdue=is_overdue(pending, now),
            )
        )
    waiting.sort(key=lambda row: row.due_at)
    return render(
        request,
        "exchange/index.html",
        {
            "services": services,
            "waiting": waiting,
            "overdue": sum(row.overdue for row in waiting),
            "mine": _own_requests(session, visible, labels, now),
        },
    )


@dataclass(frozen=True)
class OwnRequestRow:
    id: int
    consumer: str
    service: str
    status_label: str
    status: str
    due_at: datetime
    overdue: bool


def _own_requests(
    session: Session, visible: set[int] | None, labels: dict[int, tuple[str, str]], now: datetime
) -> list[OwnRequestRow]:
    """The latest requests made by the official's own systems (everyone's for platform
    admins), newest first, to follow their state and due date: two queries whatever the count."""
    query = repository.requests_query(consumer_system_ids=visible).limit(_OWN_ROWS)
    rows = list(session.scalars(query))
    services = repository.services_by_ids(session, {row.service_id for row in rows})
    found: list[OwnRequestRow] = []
    for row in rows:
        service = services.get(row.service_id)
        if service is None:
            continue
        found.append(
            OwnRequestRow(
                id=row.id,
                consumer="/".join(labels[row.consumer_system_id]),
                service="/".join(
                    (*labels[service.provider_system_id], service.code, service.version)
                ),
                status_label=request_status_label(row.status),
                status=row.status.value,
                due_at=row.due_at,
                overdue=is_overdue(row, now),
            )
        )
    return found


@router.get(
    "/exchange/statistics",
    summary="Exchange statistics per day and per service from the audit log (officials; counts only)",
)
def exchange_statistics_page(
    request: Request, session: DbSession, principal: PortalUser, days: int = 30
) -> Response:
    days = min(max(days, 1), 366)
    statistics = exchange_statistics(session, days)
    chart = {
        "days": [day.day.strftime("%d/%m") for day in statistics.days],
        "exchanges": [day.exchanges for day in statistics.days],
        "errors": [day.errors for day in statistics.days],
        "labels": {"exchanges": _("Exchanges"), "errors": _("Errors")},
    }
    return render(
        request,
        "exchange/statistics.html",
        {"statistics": statistics, "days": days, "chart": chart},
    )


@router.get(
    "/exchange/statistics.xlsx",
    summary="Exchange statistics as XLSX: per day and per service (officials; counts only)",
)
def exchange_statistics_workbook(
    session: DbSession, principal: PortalUser, days: int = 30
) -> Response:
    days = min(max(days, 1), 366)
    statistics = exchange_statistics(session, days)
    counts = [_("Exchanges"), _("Errors"), _("Error rate (%)")]
    content = table_workbook(
        _("Exchanges per day"),
        [_("Day"), *counts],
        [
            [format_date(d.day), d.exchanges, d.errors, round(d.error_rate, 1)]
            for d in statistics.days
        ],
        [
            (_("Since"), format_date(statistics.since)),
            (_("Days"), str(days)),
            (_("Source"), _("The audit log of the data-sharing platform (counts only).")),
        ],
        title=_("Exchange statistics"),
        widths=[14, 14, 14, 14],
        more=[
            (
                _("Exchanges per service"),
                [_("Service"), *counts, _("Mean latency (ms)")],
                [
                    [
                        s.service or _("(unknown service)"),
                        s.exchanges,
                        s.errors,
                        round(s.error_rate, 1),
                        round(s.mean_latency_ms, 1),
                    ]
                    for s in statistics.services
                ],
            )
        ],
    )
    return download(content, f"trao-doi-du-lieu-{days}-ngay.xlsx")
