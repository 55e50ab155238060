"""The public map of field reports (``/reports/map``): the province's communes (the
boundaries monitoring stores; said when synthetic) with the recent public reports that have a
point, open and closed in two colours, filtered like the public list; a click on a point opens
the report. The boundaries are also what the form's map is drawn on
(``/reports/map/communes.json``): the reporter taps a place to give the point."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from tinhso.core.errors import DomainError
from tinhso.core.web import DbSession
from tinhso.monitoring.maps.boundaries import province_communes
from tinhso.portal.rendering import render
from tinhso.portal.reports.citizen import (
    ListFilters,
    public_reports,
    say,
    say_category,
)
from tinhso.reports.handling.states import CLOSED_STATES
from tinhso.reports.service import report_service

router = APIRouter()
MAP_POINTS = 2000  # the newest public reports drawn


def _points(session: DbSession, filters: ListFilters) -> list[dict[str, Any]]:
    categories = {c.id: c for c in report_service.categories(session, active_only=False)}
    return [
        {
            "code": report.code,
            "value": [report.longitude, report.latitude],
            "category": say_category(categories[report.category_id]),
            "closed": report.state in CLOSED_STATES,
        }
        for report in public_reports(session, filters, MAP_POINTS)
        if report.latitude is not None and report.longitude is not None
    ]


@router.get("/reports/map", summary="Field reports on the map of the province (public)")
def reports_map(
    request: Request,
    session: DbSession,
    category: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    settings = request.app.state.settings
    boundaries = province_communes(session, settings.reports.map_province)
    filters = ListFilters(category=category, status=status)
    try:
        points, error = _points(session, filters), ""
    except DomainError as problem:
        points, error = [], say(problem.message)
    return render(
        request,
        "reports/map.html",
        {
            "boundaries": boundaries,
            "points": points,
            "error": error,
            "filters": filters,
            "categories": [(c.code, say_category(c)) for c in report_service.categories(session)],
            "chart": {"geojson": boundaries.collection, "points": points},
        },
        status_code=422 if error else 200,
    )


@router.get(
    "/reports/map/communes.json",
    summary="The province's communes as GeoJSON, for the form's map (public)",
)
def communes(request: Request, session: DbSession) -> Response:
    found = province_communes(session, request.app.state.settings.reports.map_province)
    return JSONResponse(
        {**found.collection, "synthetic": found.synthetic},
        headers={"Cache-Control": "public, max-age=3600"},
    )
