"""Monitoring JSON API under /api/v1/monitoring: the catalogue (pillars, data elements,
indicators, validation rules, plans and targets, methodologies). Values are in
`values/api.py`, computed results in `progress/api.py`, import/export in `transfer/api.py`.

Owners and rules (see `tinhso.monitoring.auth`): the catalogue is managed by platform
admins and admins of the province organisation; values are entered by officers for
their organisation's unit and the units below it; every logged-in official reads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from tinhso.core.pagination import Page, Pagination, RowId, fetch_page
from tinhso.core.web import DbSession
from tinhso.monitoring import repository
from tinhso.monitoring.alerts.api import router as alerts_router
from tinhso.monitoring.auth import require_catalogue_manager
from tinhso.monitoring.dashboards.api import router as dashboards_router
from tinhso.monitoring.dashboards.kiosk_api import router as kiosk_links_router
from tinhso.monitoring.maps.api import router as maps_router
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import (
    DataElement,
    Indicator,
    Methodology,
    Pillar,
    Plan,
    ValidationRule,
)
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.api import router as progress_router
from tinhso.monitoring.read_models import (
    elements_out,
    indicators_out,
    methodologies_out,
    methodology_out,
    plans_out,
    targets_out,
)
from tinhso.monitoring.schemas import (
    ElementCreate,
    ElementOut,
    ElementUpdate,
    IndicatorCreate,
    IndicatorOut,
    IndicatorUpdate,
    MethodologyCreate,
    MethodologyOut,
    PillarCreate,
    PillarOut,
    PlanCreate,
    PlanOut,
    PlanUpdate,
    RuleCreate,
    RuleOut,
    TargetCreate,
    TargetOut,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.api import router as values_router
from tinhso.registry.auth import CurrentUser

catalogue_router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])


# --- pillars -------------------------------------------------------------------------


@catalogue_router.get("/pillars", summary="List pillars (any official)")
def list_pillars(session: DbSession, principal: CurrentUser, page: Pagination) -> Page[PillarOut]:
    rows, total = fetch_page(session, select(Pillar).order_by(Pillar.position, Pillar.code), page)
    return Page(
        items=[PillarOut.model_validate(p, from_attributes=True) for p in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@catalogue_router.post(
    "/pillars",
    status_code=status.HTTP_201_CREATED,
    summary="Create a pillar (platform admin or province admin)",
)
def create_pillar(session: DbSession, principal: CurrentUser, data: PillarCreate) -> PillarOut:
    require_catalogue_manager(session, principal)
    return PillarOut.model_validate(
        catalogue_service.create_pillar(session, data), from_attributes=True
    )


# --- data elements ---------------------------------------------------------------------


@catalogue_router.get("/elements", summary="List data elements (any official)")
def list_elements(session: DbSession, principal: CurrentUser, page: Pagination) -> Page[ElementOut]:
    rows, total = fetch_page(session, select(DataElement).order_by(DataElement.code), page)
    return Page(
        items=elements_out(session, rows), total=total, limit=page.limit, offset=page.offset
    )


@catalogue_router.post(
    "/elements",
    status_code=status.HTTP_201_CREATED,
    summary="Create a data element (platform admin or province admin)",
)
def create_element(session: DbSession, principal: CurrentUser, data: ElementCreate) -> ElementOut:
    require_catalogue_manager(session, principal)
    return elements_out(session, [catalogue_service.create_element(session, data)])[0]


@catalogue_router.get("/elements/{code}", summary="One data element (any official)")
def get_element(session: DbSession, principal: CurrentUser, code: str) -> ElementOut:
    return elements_out(session, [catalogue_service.element(session, code)])[0]


@catalogue_router.patch(
    "/elements/{code}", summary="Update a data element (platform admin or province admin)"
)
def update_element(
    session: DbSession, principal: CurrentUser, code: str, data: ElementUpdate
) -> ElementOut:
    require_catalogue_manager(session, principal)
    element = catalogue_service.element(session, code)
    return elements_out(session, [catalogue_service.update_element(session, element, data)])[0]


@catalogue_router.delete(
    "/elements/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an unused data element (platform admin or province admin)",
)
def delete_element(session: DbSession, principal: CurrentUser, code: str) -> Response:
    require_catalogue_manager(session, principal)
    catalogue_service.delete_element(session, catalogue_service.element(session, code))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- indicators ------------------------------------------------------------------------


@catalogue_router.get("/indicators", summary="List indicators (any official)")
def list_indicators(
    session: DbSession,
    principal: CurrentUser,
    page: Pagination,
    pillar: Annotated[str | None, Query(description="Pillar code")] = None,
) -> Page[IndicatorOut]:
    query = select(Indicator).order_by(Indicator.code)
    if pillar:
        query = query.where(
            Indicator.pillar_id == catalogue_service.pillar(session, pillar, "pillar").id
        )
    rows, total = fetch_page(session, query, page)
    return Page(
        items=indicators_out(session, rows), total=total, limit=page.limit, offset=page.offset
    )


@catalogue_router.post(
    "/indicators",
    status_code=status.HTTP_201_CREATED,
    summary="Create an indicator (platform admin or province admin)",
)
def create_indicator(
    session: DbSession, principal: CurrentUser, data: IndicatorCreate
) -> IndicatorOut:
    require_catalogue_manager(session, principal)
    return indicators_out(session, [catalogue_service.create_indicator(session, data)])[0]


@catalogue_router.get("/indicators/{code}", summary="One indicator (any official)")
def get_indicator(session: DbSession, principal: CurrentUser, code: str) -> IndicatorOut:
    return indicators_out(session, [catalogue_service.indicator(session, code)])[0]


@catalogue_router.patch(
    "/indicators/{code}", summary="Update an indicator (platform admin or province admin)"
)
def update_indicator(
    session: DbSession, principal: CurrentUser, code: str, data: IndicatorUpdate
) -> IndicatorOut:
    require_catalogue_manager(session, principal)
    indicator = catalogue_service.indicator(session, code)
    return indicators_out(session, [catalogue_service.update_indicator(session, indicator, data)])[
        0
    ]


@catalogue_router.delete(
    "/indicators/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an indicator without targets (platform admin or province admin)",
)
def delete_indicator(session: DbSession, principal: CurrentUser, code: str) -> Response:
    require_catalogue_manager(session, principal)
    catalogue_service.delete_indicator(session, catalogue_service.indicator(session, code))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- validation rules ------------------------------------------------------------------


@catalogue_router.get("/validation-rules", summary="List validation rules (any official)")
def list_rules(session: DbSession, principal: CurrentUser, page: Pagination) -> Page[RuleOut]:
    rows, total = fetch_page(session, select(ValidationRule).order_by(ValidationRule.code), page)
    return Page(
        items=[RuleOut.model_validate(rule, from_attributes=True) for rule in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@catalogue_router.post(
    "/validation-rules",
    status_code=status.HTTP_201_CREATED,
    summary="Create a validation rule (platform admin or province admin)",
)
def create_rule(session: DbSession, principal: CurrentUser, data: RuleCreate) -> RuleOut:
    require_catalogue_manager(session, principal)
    return RuleOut.model_validate(
        catalogue_service.create_rule(session, data), from_attributes=True
    )


@catalogue_router.delete(
    "/validation-rules/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a validation rule (platform admin or province admin)",
)
def delete_rule(session: DbSession, principal: CurrentUser, code: str) -> Response:
    require_catalogue_manager(session, principal)
    rule: ValidationRule = catalogue_service.rule(session, code)
    session.delete(rule)
    session.flush()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- plans and targets -----------------------------------------------------------------


@catalogue_router.get("/plans", summary="List plans (any official)")
def list_plans(session: DbSession, principal: CurrentUser, page: Pagination) -> Page[PlanOut]:
    rows, total = fetch_page(session, select(Plan).order_by(Plan.code), page)
    return Page(items=plans_out(session, rows), total=total, limit=page.limit, offset=page.offset)


@catalogue_router.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    summary="Create a plan (platform admin or province admin)",
)
def create_plan(session: DbSession, principal: CurrentUser, data: PlanCreate) -> PlanOut:
    require_catalogue_manager(session, principal)
    return plans_out(session, [plan_service.create(session, data)])[0]


@catalogue_router.get("/plans/{code}", summary="One plan (any official)")
def get_plan(session: DbSession, principal: CurrentUser, code: str) -> PlanOut:
    return plans_out(session, [plan_service.get(session, code)])[0]


@catalogue_router.patch("/plans/{code}", summary="Update a plan (platform admin or province admin)")
def update_plan(session: DbSession, principal: CurrentUser, code: str, data: PlanUpdate) -> PlanOut:
    require_catalogue_manager(session, principal)
    return plans_out(
        session, [plan_service.update(session, plan_service.get(session, code), data)]
    )[0]


@catalogue_router.delete(
    "/plans/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a plan and its targets (platform admin or province admin)",
)
def delete_plan(session: DbSession, principal: CurrentUser, code: str) -> Response:
    require_catalogue_manager(session, principal)
    plan_service.delete(session, plan_service.get(session, code))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@catalogue_router.get("/plans/{code}/targets", summary="A plan's targets (any official)")
def list_targets(
    session: DbSession, principal: CurrentUser, code: str, page: Pagination
) -> Page[TargetOut]:
    plan = plan_service.get(session, code)
    targets = list(repository.targets_of(session, plan.id))
    return Page(
        items=targets_out(session, plan, targets[page.offset : page.offset + page.limit]),
        total=len(targets),
        limit=page.limit,
        offset=page.offset,
    )


@catalogue_router.post(
    "/plans/{code}/targets",
    status_code=status.HTTP_201_CREATED,
    summary="Add a target to a plan (platform admin or province admin)",
)
def create_target(
    session: DbSession, principal: CurrentUser, code: str, data: TargetCreate
) -> TargetOut:
    require_catalogue_manager(session, principal)
    plan = plan_service.get(session, code)
    return targets_out(session, plan, [plan_service.add_target(session, plan, data)])[0]


@catalogue_router.delete(
    "/plans/{code}/targets/{target_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a target (platform admin or province admin)",
)
def delete_target(
    session: DbSession, principal: CurrentUser, code: str, target_id: RowId
) -> Response:
    require_catalogue_manager(session, principal)
    plan = plan_service.get(session, code)
    plan_service.delete_target(session, plan_service.target(session, plan, target_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- methodologies and the index -------------------------------------------------------


@catalogue_router.get("/methodologies", summary="List index methodologies (any official)")
def list_methodologies(
    session: DbSession, principal: CurrentUser, page: Pagination
) -> Page[MethodologyOut]:
    rows, total = fetch_page(session, select(Methodology).order_by(Methodology.code), page)
    return Page(
        items=methodologies_out(session, list(rows)),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@catalogue_router.post(
    "/methodologies",
    status_code=status.HTTP_201_CREATED,
    summary="Create an index methodology version (platform admin or province admin)",
)
def create_methodology(
    session: DbSession, principal: CurrentUser, data: MethodologyCreate
) -> MethodologyOut:
    require_catalogue_manager(session, principal)
    return methodology_out(session, methodology_service.create(session, data))


@catalogue_router.get(
    "/methodologies/{code}", summary="One methodology with its components (any official)"
)
def get_methodology(session: DbSession, principal: CurrentUser, code: str) -> MethodologyOut:
    return methodology_out(session, methodology_service.get(session, code))


@catalogue_router.delete(
    "/methodologies/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a methodology (platform admin or province admin)",
)
def delete_methodology(session: DbSession, principal: CurrentUser, code: str) -> Response:
    require_catalogue_manager(session, principal)
    methodology_service.delete(session, methodology_service.get(session, code))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Values and computed results live in their own modules, under the same prefix.
router = APIRouter()
router.include_router(catalogue_router)
router.include_router(values_router)
router.include_router(progress_router)
router.include_router(maps_router)
router.include_router(dashboards_router)
router.include_router(kiosk_links_router)
router.include_router(alerts_router)
