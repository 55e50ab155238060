"""Monitoring API: values with provenance, batches, corrections and their history.

Officers enter values for their organisation's unit and the units below it; every
logged-in official reads them (see `tinhso.monitoring.auth`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from tinhso.core.errors import InvalidInput
from tinhso.core.pagination import Page, Pagination, RowId, fetch_page
from tinhso.core.web import DbSession
from tinhso.monitoring import repository
from tinhso.monitoring.auth import require_value_writer, value_writer
from tinhso.monitoring.models import DataValue
from tinhso.monitoring.schemas import (
    BatchResult,
    CorrectionOut,
    ValueBatch,
    ValueCorrection,
    ValueIn,
    ValueOut,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import UnitSet, User
from tinhso.registry.schemas import UnitRef

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])


# --- values ----------------------------------------------------------------------------


def _values_out(session: DbSession, rows: list[DataValue]) -> list[ValueOut]:
    elements = repository.element_codes(session, {r.data_element_id for r in rows})
    units = repository.unit_rows(session, {r.unit_id for r in rows})
    users = _usernames(session, {r.entered_by_id for r in rows if r.entered_by_id})
    return [
        ValueOut(
            id=r.id,
            element_code=elements[r.data_element_id],
            unit=UnitRef(unit_set=units[r.unit_id][0], code=units[r.unit_id][1]),
            period=r.period,
            value=r.value,
            qualifier=r.qualifier,
            source=r.source,
            source_reference=r.source_reference,
            audit_record_id=r.audit_record_id,
            comment=r.comment,
            entered_by=users.get(r.entered_by_id or 0),
            entered_at=r.entered_at,
            version=r.version,
        )
        for r in rows
    ]


def _usernames(session: DbSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        row.id: row.username
        for row in session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    }


@router.get("/values", summary="Recorded values with provenance (any official)")
def list_values(
    session: DbSession,
    principal: CurrentUser,
    page: Pagination,
    element: str | None = None,
    unit_set: UnitSet | None = None,
    unit: str | None = None,
    period: str | None = None,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> Page[ValueOut]:
    query = select(DataValue).order_by(DataValue.id)
    if element:
        query = query.where(
            DataValue.data_element_id == catalogue_service.element(session, element).id
        )
    if unit:
        found = repository.unit_ids_by_ref(session, [(unit_set or UnitSet.CURRENT, unit)])
        if not found:
            raise InvalidInput(
                f"Đơn vị hành chính {unit} không tồn tại",
                f"Administrative unit {unit} does not exist",
                field="unit",
            )
        query = query.where(DataValue.unit_id.in_(found.values()))
    if period:
        query = query.where(DataValue.period == period)
    if year:
        query = query.where(DataValue.year == year)
    rows, total = fetch_page(session, query, page)
    return Page(items=_values_out(session, rows), total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/values",
    status_code=status.HTTP_201_CREATED,
    summary="Record one value (officers of the unit's organisation, or above)",
)
def record_value(session: DbSession, principal: CurrentUser, data: ValueIn) -> ValueOut:
    result = value_service.record_many(
        session,
        [data],
        Provenance(entered_by_id=principal.user_id),
        field_prefix="",
        authorise=value_writer(session, principal),
    )
    return _values_out(session, result.values)[0]


@router.post(
    "/values/batch",
    summary="Record many values, all or nothing (officers of each unit's organisation)",
)
def record_values(session: DbSession, principal: CurrentUser, data: ValueBatch) -> BatchResult:
    result = value_service.record_many(
        session,
        data.values,
        Provenance(entered_by_id=principal.user_id),
        authorise=value_writer(session, principal),
    )
    return BatchResult(
        inserted=result.inserted, corrected=result.corrected, unchanged=result.unchanged
    )


@router.get("/values/{value_id}", summary="One value with its provenance (any official)")
def get_value(session: DbSession, principal: CurrentUser, value_id: RowId) -> ValueOut:
    return _values_out(session, [value_service.get(session, value_id)])[0]


@router.put(
    "/values/{value_id}",
    summary="Correct a value, keeping its history (officers of the unit's organisation)",
)
def correct_value(
    session: DbSession, principal: CurrentUser, value_id: RowId, data: ValueCorrection
) -> ValueOut:
    current = value_service.get(session, value_id)
    units = repository.unit_rows(session, [current.unit_id])
    unit_set, unit_code, _, _ = units[current.unit_id]
    require_value_writer(
        session, principal, current.unit_id, f"{unit_code} ({unit_set.value})", "unit"
    )
    corrected = value_service.correct(
        session,
        current,
        data.value,
        data.reason,
        principal.user_id,
        qualifier=data.qualifier,
        source=data.source,
        source_reference=data.source_reference,
        comment=data.comment,
    )
    return _values_out(session, [corrected])[0]


@router.get(
    "/values/{value_id}/corrections",
    summary="The corrections history of a value, oldest first (any official)",
)
def value_corrections(
    session: DbSession, principal: CurrentUser, value_id: RowId
) -> list[CorrectionOut]:
    value_service.get(session, value_id)
    rows = list(repository.corrections_of(session, value_id))
    users = _usernames(
        session,
        {r.previous_entered_by_id for r in rows if r.previous_entered_by_id}
        | {r.corrected_by_id for r in rows if r.corrected_by_id},
    )
    return [
        CorrectionOut(
            version=r.version,
            previous_value=r.previous_value,
            previous_source=r.previous_source,
            previous_source_reference=r.previous_source_reference,
            previous_audit_record_id=r.previous_audit_record_id,
            previous_entered_by=users.get(r.previous_entered_by_id or 0),
            previous_entered_at=r.previous_entered_at,
            new_value=r.new_value,
            corrected_by=users.get(r.corrected_by_id or 0),
            corrected_at=r.corrected_at,
            reason=r.reason,
        )
        for r in rows
    ]
