"""Monitoring API: computed results — indicator values per unit and period (on the legacy
or the current unit tree), rankings, plan progress and the composite index.

Open to every logged-in official; not public (see `tinhso.monitoring.auth`).

The rankings' and plan progress' answers are kept as the bytes sent, per question and page,
until a commit writes the units or the figures (``core.generations``): a question asked again
costs one small read and the bytes, not the figures' encoding again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from tinhso.core.db import utcnow
from tinhso.core.generations import GenerationCache
from tinhso.core.pagination import Pagination
from tinhso.core.web import DbSession
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import FIGURES_GENERATION
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import TREE_NOTES, progress_service
from tinhso.monitoring.schemas import (
    ComputedPage,
    IndexPage,
    PlanProgress,
    RankingPage,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from pydantic import BaseModel
    from sqlalchemy.orm import Session

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])

# The answers' bytes per question and page (a 1-tuple weighs 1: at most 2,000 answers, a
# plan's page of 100 rows is ~30 KB).
ANSWERS: GenerationCache[tuple[bytes]] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION), max_weight=2_000
)


def _sent(session: Session, key: Hashable, build: Callable[[], BaseModel]) -> Response:
    """The answer for ``key`` as FastAPI would have encoded ``build()``'s model, kept."""

    def encode() -> tuple[bytes]:
        return (bytes(JSONResponse(build().model_dump(mode="json")).body),)

    return Response(ANSWERS.get(session, key, encode)[0], media_type="application/json")


TreeQuery = Annotated[
    Tree,
    Query(description="legacy: units before 01/07/2025; current: legacy values re-aggregated"),
]


def _unit_ref(unit_set: UnitSet, code: str | None) -> UnitRef | None:
    return UnitRef(unit_set=unit_set, code=code) if code else None


@router.get(
    "/indicators/{code}/values",
    summary="Computed indicator values per unit and period (any official)",
)
def indicator_values(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    page: Pagination,
    period: Annotated[list[str], Query(description="Periods: 2024, 2024-Q3, 2024-03")],
    tree: TreeQuery = Tree.CURRENT,
    level: UnitLevel | None = None,
    parent: Annotated[str | None, Query(description="Parent unit code in the tree")] = None,
    unit: Annotated[list[str] | None, Query(description="Unit codes in the tree")] = None,
) -> ComputedPage:
    indicator = catalogue_service.indicator(session, code)
    unit_set = UnitSet(tree.value)
    found = progress_service.indicator_values(
        session,
        indicator,
        period,
        tree,
        level=level,
        parent=_unit_ref(unit_set, parent),
        units=[UnitRef(unit_set=unit_set, code=c) for c in unit] if unit else None,
    )
    vi, en = TREE_NOTES[tree]
    return ComputedPage(
        tree=tree.value,
        note_vi=vi,
        note_en=en,
        items=found[page.offset : page.offset + page.limit],
        total=len(found),
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/indicators/{code}/ranking",
    response_model=RankingPage,
    summary="Units ranked on an indicator (any official)",
)
def indicator_ranking(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    page: Pagination,
    period: str,
    tree: TreeQuery = Tree.CURRENT,
    level: UnitLevel = UnitLevel.PROVINCE,
    parent: Annotated[str | None, Query(description="Parent unit code in the tree")] = None,
) -> Response:
    indicator = catalogue_service.indicator(session, code)

    def build() -> RankingPage:
        ranked = progress_service.ranking(
            session, indicator, period, tree, level, _unit_ref(UnitSet(tree.value), parent)
        )
        vi, en = TREE_NOTES[tree]
        return RankingPage(
            tree=tree.value,
            note_vi=vi,
            note_en=en,
            indicator_code=indicator.code,
            direction=indicator.direction,
            period=period,
            items=ranked[page.offset : page.offset + page.limit],
            total=len(ranked),
            limit=page.limit,
            offset=page.offset,
        )

    key = (
        "ranking",
        indicator.id,
        period,
        tree.value,
        level.value,
        parent,
        page.offset,
        page.limit,
    )
    return _sent(session, key, build)


@router.get(
    "/plans/{code}/progress",
    response_model=PlanProgress,
    summary="Achievement and trajectory of a plan's targets (any official)",
)
def plan_progress(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    page: Pagination,
    as_of: Annotated[
        int | None, Query(ge=1990, le=2100, description="Year of the assessment")
    ] = None,
) -> Response:
    plan = plan_service.get(session, code)

    def build() -> PlanProgress:
        items = progress_service.plan_progress(session, plan, as_of)
        return PlanProgress(
            tree="legacy" if items and items[0].unit.unit_set is UnitSet.LEGACY else "current",
            note_vi="Mỗi mục tiêu được đánh giá trên bộ đơn vị hành chính của phạm vi mục tiêu "
            "(đơn vị cũ hoặc hiện hành).",
            note_en="Each target is assessed on the unit set of its scope (legacy or current "
            "units).",
            plan_code=plan.code,
            plan_number=plan.number,
            as_of_year=as_of,
            items=items[page.offset : page.offset + page.limit],
            total=len(items),
            limit=page.limit,
            offset=page.offset,
        )

    # without a year the assessment is this year's: a new year is a new question
    year = as_of if as_of is not None else -utcnow().year
    return _sent(session, ("progress", plan.id, year, page.offset, page.limit), build)


@router.get(
    "/methodologies/{code}/index",
    summary="The composite index per unit with pillar points (any official)",
)
def methodology_index(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    page: Pagination,
    period: str,
    tree: TreeQuery = Tree.CURRENT,
    parent: Annotated[str | None, Query(description="Parent unit code in the tree")] = None,
) -> IndexPage:
    methodology = methodology_service.get(session, code)
    scores = progress_service.index(
        session, methodology, period, tree, _unit_ref(UnitSet(tree.value), parent)
    )
    vi, en = TREE_NOTES[tree]
    return IndexPage(
        tree=tree.value,
        note_vi=vi,
        note_en=en,
        methodology_code=methodology.code,
        period=period,
        max_points=methodology.max_points,
        normalisation=methodology.normalisation,
        items=scores[page.offset : page.offset + page.limit],
        total=len(scores),
        limit=page.limit,
        offset=page.offset,
    )
