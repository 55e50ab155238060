"""Administrative unit routes under /api/v1/units: public reference data (both unit sets)
and the succession of legacy units into current ones (01/07/2025). Mounted by
`tinhso.registry.api`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tinhso.core.pagination import Page, Pagination, fetch_page
from tinhso.core.web import DbSession
from tinhso.registry import repository
from tinhso.registry.models import AdministrativeUnit, UnitLevel, UnitSet
from tinhso.registry.schemas import SuccessionOut, UnitOut
from tinhso.registry.units import unit_service

router = APIRouter(prefix="/api/v1")


def _unit_out(unit: AdministrativeUnit, parent_code: str | None) -> UnitOut:
    return UnitOut(
        unit_set=unit.unit_set,
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        level=unit.level,
        parent_code=parent_code,
        valid_from=unit.valid_from,
        valid_to=unit.valid_to,
    )


def _units_out(session: DbSession, units: list[AdministrativeUnit]) -> list[UnitOut]:
    parents = repository.unit_codes(session, {u.parent_id for u in units if u.parent_id})
    return [_unit_out(u, parents[u.parent_id][1] if u.parent_id else None) for u in units]


@router.get("/units", tags=["units"], summary="List administrative units (public)")
def list_units(
    session: DbSession,
    pagination: Pagination,
    unit_set: Annotated[UnitSet, Query(alias="set")] = UnitSet.CURRENT,
    level: UnitLevel | None = None,
    parent: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[UnitOut]:
    unit_service.check_level(unit_set, level)
    parent_id = None
    if parent:
        parent_id = unit_service.get(session, unit_set, parent).id
    query = repository.units_query(unit_set, level, parent_id, q)
    rows, total = fetch_page(session, query, pagination)
    units = [row for row in rows if isinstance(row, AdministrativeUnit)]
    return Page(
        items=_units_out(session, units),
        total=total,
        limit=pagination.limit,
        offset=pagination.offset,
    )


@router.get("/units/{unit_set}/{code}", tags=["units"], summary="One administrative unit (public)")
def get_unit(session: DbSession, unit_set: UnitSet, code: str) -> UnitOut:
    return _units_out(session, [unit_service.get(session, unit_set, code)])[0]


@router.get(
    "/units/legacy/{code}/successors",
    tags=["units"],
    summary="What a legacy unit became on 01/07/2025 (public)",
)
def unit_successors(session: DbSession, code: str) -> list[SuccessionOut]:
    return _successions_out(session, unit_service.successors(session, code))


@router.get(
    "/units/current/{code}/predecessors",
    tags=["units"],
    summary="Which legacy units make up a current unit (public)",
)
def unit_predecessors(session: DbSession, code: str) -> list[SuccessionOut]:
    return _successions_out(session, unit_service.predecessors(session, code))


def _successions_out(
    session: DbSession, rows: list[tuple[AdministrativeUnit, AdministrativeUnit, bool]]
) -> list[SuccessionOut]:
    legacy = _units_out(session, [row[0] for row in rows])
    current = _units_out(session, [row[1] for row in rows])
    return [
        SuccessionOut(legacy=old, current=new, partial=row[2])
        for old, new, row in zip(legacy, current, rows, strict=True)
    ]
