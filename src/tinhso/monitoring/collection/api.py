"""Monitoring API: automatic collection sources (exchange service -> data element) and runs.

Platform administrators and administrators of the province organisation manage and read
them (the same people who manage the catalogue, see `tinhso.monitoring.auth`); the values
collected are read through the values API like any other, with source ``automatic`` and
the exchange audit record they cite.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from tinhso.core.pagination import Page, Pagination
from tinhso.core.web import DbSession
from tinhso.monitoring import repository
from tinhso.monitoring.auth import require_catalogue_manager
from tinhso.monitoring.collection.models import CollectionSource
from tinhso.monitoring.collection.schemas import (
    CollectionRunOut,
    CollectionSourceCreate,
    CollectionSourceOut,
    CollectionSourceUpdate,
    SourceService,
    run_out,
)
from tinhso.monitoring.collection.sources import collection_service
from tinhso.registry.auth import CurrentUser

router = APIRouter(prefix="/api/v1/monitoring/collection", tags=["monitoring: collection"])
_MANAGERS = "platform administrators and province-organisation administrators"


def _out(session: DbSession, sources: list[CollectionSource]) -> list[CollectionSourceOut]:
    codes = repository.element_codes(session, {source.data_element_id for source in sources})
    return [
        CollectionSourceOut(
            code=source.code,
            name_vi=source.name_vi,
            name_en=source.name_en,
            element_code=codes[source.data_element_id],
            service=SourceService(
                organisation_code=source.service_organisation_code,
                system_code=source.service_system_code,
                code=source.service_code,
                version=source.service_version,
            ),
            request_path=source.request_path,
            query=dict(source.query or {}),
            rows_path=source.rows_path,
            value_path=source.value_path,
            unit_set=source.unit_set,
            unit_code=source.unit_code,
            unit_code_path=source.unit_code_path,
            period_rule=source.period_rule,
            interval_minutes=source.interval_minutes,
            enabled=source.enabled,
            next_run_at=source.next_run_at,
            last_run_at=source.last_run_at,
            consecutive_failures=source.consecutive_failures,
        )
        for source in sources
    ]


@router.get("/sources", summary=f"List collection sources ({_MANAGERS})")
def list_sources(
    session: DbSession, principal: CurrentUser, page: Pagination
) -> Page[CollectionSourceOut]:
    require_catalogue_manager(session, principal)
    rows, total = collection_service.page(session, page)
    return Page(items=_out(session, rows), total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/sources",
    status_code=status.HTTP_201_CREATED,
    summary=f"Create a collection source: an exchange service feeds a data element ({_MANAGERS})",
)
def create_source(
    session: DbSession, principal: CurrentUser, data: CollectionSourceCreate
) -> CollectionSourceOut:
    require_catalogue_manager(session, principal)
    return _out(session, [collection_service.create(session, data)])[0]


@router.get("/sources/{code}", summary=f"A collection source ({_MANAGERS})")
def get_source(session: DbSession, principal: CurrentUser, code: str) -> CollectionSourceOut:
    require_catalogue_manager(session, principal)
    return _out(session, [collection_service.get(session, code)])[0]


@router.patch(
    "/sources/{code}",
    summary=f"Change, enable or disable a collection source ({_MANAGERS})",
)
def update_source(
    session: DbSession, principal: CurrentUser, code: str, data: CollectionSourceUpdate
) -> CollectionSourceOut:
    require_catalogue_manager(session, principal)
    source = collection_service.update(session, collection_service.get(session, code), data)
    return _out(session, [source])[0]


@router.post(
    "/sources/{code}/run",
    summary=f"Make a source due now; the worker collects it on its next cycle ({_MANAGERS})",
)
def run_source_now(session: DbSession, principal: CurrentUser, code: str) -> CollectionSourceOut:
    require_catalogue_manager(session, principal)
    source = collection_service.run_now(session, collection_service.get(session, code))
    return _out(session, [source])[0]


@router.get(
    "/sources/{code}/runs",
    summary=f"A source's runs, newest first, with errors and audit request ids ({_MANAGERS})",
)
def list_runs(
    session: DbSession, principal: CurrentUser, code: str, page: Pagination
) -> Page[CollectionRunOut]:
    require_catalogue_manager(session, principal)
    source = collection_service.get(session, code)
    rows, total = collection_service.runs(session, source, page)
    return Page(
        items=[run_out(run, source.code) for run in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
