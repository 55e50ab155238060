"""Which organisation handles a report: category × administrative unit → organisation.

The most specific route wins: the category in the report's unit or a unit above it; then the
category's own default (a department for the whole province); then the unit's default (its
commune People's Committee), in the unit or above. No route: the report waits in the
operations centre's triage queue (no responsible organisation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.registry.units import unit_service
from tinhso.reports.models import ReportRoute

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def route(session: Session, category_id: int, unit_id: int | None) -> int | None:
    """The organisation responsible for a report (None: the triage queue)."""
    chain = unit_service.ancestor_ids(session, unit_id) if unit_id is not None else []
    rows = session.execute(
        select(ReportRoute.category_id, ReportRoute.unit_id, ReportRoute.organisation_id).where(
            (ReportRoute.category_id == category_id) | ReportRoute.category_id.is_(None)
        )
    ).all()
    routes: dict[tuple[int | None, int | None], int] = {
        (row.category_id, row.unit_id): row.organisation_id for row in rows
    }
    candidates = [
        *((category_id, unit) for unit in chain),
        (category_id, None),
        *((None, unit) for unit in chain),
    ]
    for key in candidates:
        if key in routes:
            return routes[key]
    return None


def set_route(
    session: Session, category_id: int | None, unit_id: int | None, organisation_id: int
) -> ReportRoute:
    """Add or change the route of a category in a unit (either may be None, not both)."""
    found = session.scalars(
        select(ReportRoute).where(
            ReportRoute.category_id.is_(None)
            if category_id is None
            else ReportRoute.category_id == category_id,
            ReportRoute.unit_id.is_(None) if unit_id is None else ReportRoute.unit_id == unit_id,
        )
    ).one_or_none()
    if found is None:
        found = ReportRoute(category_id=category_id, unit_id=unit_id)
        session.add(found)
    found.organisation_id = organisation_id
    session.flush()
    return found


def routed_unit_ids(session: Session) -> set[int]:
    """The units some route names."""
    found = session.scalars(select(ReportRoute.unit_id).where(ReportRoute.unit_id.is_not(None)))
    return {unit_id for unit_id in found if unit_id is not None}


def routes(session: Session) -> list[ReportRoute]:
    return list(
        session.scalars(select(ReportRoute).order_by(ReportRoute.category_id, ReportRoute.unit_id))
    )
