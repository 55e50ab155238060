"""The map page (``/monitoring/map``): an indicator over the provinces, or over one
province's communes, as a choropleth by value or by % of the target (in its status'
colours: đạt / đúng tiến độ / chậm tiến độ / không đạt); a click on a province drills into
its communes, and the breadcrumb goes back. Units with no stored boundary are points at
their centroids. The page says which unit tree it shows and when the boundaries are
synthetic; a table beside the map holds the same values, targets and statuses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.web import DbSession
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.maps.boundaries import UnitMap, load_upload, unit_map
from tinhso.monitoring.maps.boundary_upload import MAX_UPLOAD_BYTES
from tinhso.monitoring.models import Comparison
from tinhso.monitoring.schemas import IndicatorOut
from tinhso.monitoring.service import catalogue_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import localised, period_label, tree_note
from tinhso.portal.monitoring.overview import (
    COMPARISON_TEXT,
    STATUS_CLASS,
    STATUS_ICON,
    map_texts,
    status_label,
)
from tinhso.portal.rendering import JSONText, render
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef

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
    uploaded: Annotated[str | None, Query(max_length=8)] = None,
    mode: Annotated[str | None, Query(max_length=8, description="value | target")] = None,
) -> Response:
    return _page(
        request,
        session,
        principal,
        indicator,
        period,
        parent,
        {"uploaded": uploaded if uploaded and uploaded.isdigit() else ""},
        mode=MODE_TARGET if mode == MODE_TARGET else MODE_VALUE,
    )


MODE_VALUE, MODE_TARGET = "value", "target"


def _row(properties: dict[str, Any]) -> dict[str, Any]:
    """A table row: the feature's properties with its status and target as shown."""
    status = properties.get("status")
    comparison = properties.get("comparison")
    return {
        **properties,
        "status_label": status_label(status) if status else "",
        "status_class": STATUS_CLASS.get(status or "", ""),
        "status_icon": STATUS_ICON.get(status or "", ""),
        "comparison_text": COMPARISON_TEXT[Comparison(comparison)] if comparison else "",
    }


def _page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    indicator: str | None,
    period: str | None,
    parent: str | None,
    upload: dict[str, Any],
    status_code: int = 200,
    mode: str = MODE_VALUE,
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
    features = [properties for _code, properties, _geometry in found.units] if found else []
    shown = found.parent[0] if found and found.parent else None
    try:  # the badge: open alerts of the shown province and its communes, or everywhere
        open_alerts = alert_service.open_count(
            session, UnitRef(unit_set=UnitSet.CURRENT, code=shown) if shown else None
        )
    except DomainError:
        open_alerts = 0
    measure = "percent" if mode == MODE_TARGET else "value"
    rows = sorted(
        (_row(properties) for properties in features),
        key=lambda p: (p[measure] is None, -(p[measure] or 0), p["name"]),
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
            "upload": upload,
            "open_alerts": open_alerts,
            "alerts_unit": shown or "",
            "mode": mode,
            "points": sum(1 for properties in features if properties["boundary"] == "point"),
            "chart": _chart(found, chosen, mode),
        },
        status_code=422 if error else status_code,
    )


def _chart(found: UnitMap | None, chosen: IndicatorOut | None, mode: str) -> dict[str, Any]:
    """What the map's script needs: the features, the labels and the number format."""
    return {
        "mode": mode,
        **map_texts(),
        "geojson": JSONText(found.collection_text) if found else None,
        "drill": found is not None and found.parent is None,
        "decimals": chosen.decimals if chosen else 2,
        "unit": localised(chosen.unit_of_measure, chosen.unit_of_measure_en) if chosen else "",
        "locale": current_locale.get(),
    }


def _say(error: DomainError) -> list[str]:
    vietnamese = current_locale.get() == "vi"
    said = [
        f"{item.field}: {item.message.vi if vietnamese else item.message.en}"
        for item in error.errors
    ]
    return said or [error.message.vi if vietnamese else error.message.en]


@router.post(
    "/monitoring/map/boundaries",
    summary="Upload the boundaries of a level's units (platform admins; CSRF)",
)
async def upload_boundaries(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    file: Annotated[UploadFile | None, File()] = None,
    level: Annotated[str, Form(max_length=16)] = "province",
    parent: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng được tải lên ranh giới",
            "Only platform administrators upload boundaries",
        )
    content = await file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    name = (file.filename if file is not None else "") or ""
    chosen = UnitLevel.COMMUNE if level == "commune" else UnitLevel.PROVINCE
    scope = parent.strip() or None if chosen is UnitLevel.COMMUNE else None

    def store() -> Response:
        try:
            stored = load_upload(
                session, content, name, chosen, scope, uploaded_by_id=principal.user_id
            )
            session.commit()
        except DomainError as error:
            session.rollback()
            return _page(
                request, session, principal, None, None, scope, {"problems": _say(error)}, 422
            )
        return RedirectResponse(
            f"/monitoring/map?parent={scope or ''}&uploaded={stored.stored}", status_code=303
        )

    return await run_in_threadpool(store)
