"""Maps API under ``/api/v1/monitoring``: an indicator over a unit's children as GeoJSON
(any official, like the rankings), and the boundaries operators upload (platform admins).

A map's answer is kept as the bytes sent, per question, until a commit writes the units, the
figures or the boundaries (``core.generations``): a question asked again costs one small
read and the bytes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tinhso.core.generations import GenerationCache
from tinhso.core.web import DbSession
from tinhso.monitoring.maps.boundaries import load_upload, unit_map
from tinhso.monitoring.maps.boundary_upload import MAX_UPLOAD_BYTES
from tinhso.monitoring.models import BOUNDARIES_GENERATION, FIGURES_GENERATION
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.auth import CurrentUser, PlatformAdmin
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])

# The answers' bytes per question (a 1-tuple weighs 1): at most 500 maps (~100 KB each for a
# province's communes) per process.
MAPS: GenerationCache[tuple[bytes]] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION, BOUNDARIES_GENERATION), max_weight=500
)

Code = Annotated[str, Query(max_length=64)]


@router.get(
    "/map",
    response_model=dict[str, Any],
    summary="Bản đồ chỉ số / An indicator over a province's communes, or over the provinces, as GeoJSON (any official)",
    description=(
        "Each child unit is a feature with its value for the period, the target that applies "
        "to it (the indicator's target on the current set of the earliest year not before "
        "the period's), the value as % of that target and its status (achieved, on_track, "
        "behind, not_achieved, insufficient_data, no_data; status_vi / status_en). A unit "
        "with no stored boundary is a Point at its centroid (`boundary`: point)."
    ),
)
def indicator_map(
    session: DbSession,
    principal: CurrentUser,
    indicator: Code,
    period: Annotated[str, Query(max_length=10, description="2024, 2024-Q3, 2024-03")],
    parent: Annotated[str | None, Query(max_length=16, description="A province's code")] = None,
) -> Response:
    found = catalogue_service.indicator(session, indicator)

    def encode() -> tuple[bytes]:
        drawn = unit_map(session, found, period, parent)
        rest = json.dumps(
            {
                "indicator": indicator,
                "period": period,
                "parent": drawn.parent[0] if drawn.parent else None,
                "unit_set": "current",
                "synthetic": drawn.synthetic,
                "without_boundary": drawn.without_boundary,
                "with_target": drawn.with_target,
            },
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        )
        # the collection's own keys first, then the map's: one JSON object
        return (f"{drawn.collection_text[:-1]},{rest[1:]}".encode(),)

    body = MAPS.get(session, (found.id, indicator, period, parent), encode)[0]
    return Response(body, media_type="application/json")


@router.put(
    "/boundaries",
    summary="Tải lên ranh giới / Upload the boundaries of a level's units (platform admins)",
)
async def upload_boundaries(
    session: DbSession,
    principal: PlatformAdmin,
    file: Annotated[UploadFile, File(description="GeoJSON FeatureCollection keyed by unit code")],
    level: Annotated[UnitLevel, Query()] = UnitLevel.PROVINCE,
    parent: Annotated[str | None, Query(max_length=16)] = None,
    unit_set: Annotated[UnitSet, Query()] = UnitSet.CURRENT,
) -> dict[str, Any]:
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    stored = await run_in_threadpool(
        lambda: load_upload(
            session,
            content,
            file.filename or "",
            level,
            parent,
            unit_set=unit_set,
            uploaded_by_id=principal.user_id,
        )
    )
    return {
        "stored": stored.stored,
        "messages": [{"vi": vi, "en": en} for vi, en in stored.messages],
    }
