"""The map page (``/monitoring/map``): an indicator over the provinces, or over one
province's communes, as a choropleth by value; a click on a province drills into its
communes, and the breadcrumb goes back. The page says which unit tree it shows and when the
boundaries are synthetic; a table beside the map holds the same values for every reader."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tinhso.core.errors import DomainError
from tinhso.core.i18n import current_locale
from tinhso.core.web import DbSession
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.maps.boundaries import unit_map
from tinhso.monitoring.service import catalogue_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import localised, period_label, tree_note
from tinhso.portal.rendering import render

router = APIRouter()


@router.get(
    "/monitoring/map",
    summary="An indicator on the map: provinces, or a province's communes (any official)",
)
def map_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    indicator: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    parent: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    indicators = sorted(
        catalogue.indicators(session, principal), key=lambda i: localised(i.name_vi, i.name_en)
    )
    chosen = next((i for i in indicators if i.code == indicator), None) or next(
        iter(indicators), None
    )
    periods: list[str] = []
    found = None
    error = ""
    if chosen is not None:
        model = catalogue_service.indicator(session, chosen.code)
        periods = list(reversed(catalogue.indicator_periods(session, model)))
        period = period if period in periods else (periods[0] if periods else None)
        if period:
            try:
                found = unit_map(session, model, period, (parent or "").strip() or None)
            except DomainError as problem:
                error = problem.message.vi if current_locale.get() == "vi" else problem.message.en
    features = found.collection["features"] if found else []
    rows = sorted(
        (f["properties"] for f in features),
        key=lambda p: (p["value"] is None, -(p["value"] or 0), p["name"]),
    )
    return render(
        request,
        "monitoring/map.html",
        {
            "indicators": indicators,
            "indicator": chosen,
            "localised": localised,
            "periods": periods,
            "period": period,
            "period_label": period_label,
            "map": found,
            "rows": rows,
            "error": error,
            "tree_note": tree_note(Tree.CURRENT),
            "chart": {
                "geojson": found.collection if found else None,
                "drill": found is not None and found.parent is None,
                "decimals": chosen.decimals if chosen else 2,
                "unit": localised(chosen.unit_of_measure, chosen.unit_of_measure_en)
                if chosen
                else "",
                "locale": current_locale.get(),
            },
        },
        status_code=422 if error else 200,
    )
