"""Alerts API under ``/api/v1/monitoring``: the alerts with their history (any official,
like the progress and the maps) and the alert rules (read by any official, managed by
platform admins and administrators of the province organisation, like the catalogue)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from tinhso.core.pagination import Pagination
from tinhso.core.web import DbSession
from tinhso.monitoring.alerts.models import AlertState
from tinhso.monitoring.alerts.schemas import AlertPage, RuleCreate, RuleOut, RuleUpdate
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.auth import require_catalogue_manager
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])

Code = Annotated[str, Path(max_length=64)]


@router.get(
    "/alerts",
    summary="Cảnh báo / Alerts, open and resolved, newest first (any official)",
)
def list_alerts(
    session: DbSession,
    principal: CurrentUser,
    page: Pagination,
    unit: Annotated[
        str | None,
        Query(
            max_length=16,
            description="A current unit's code: its alerts and those of the units below it",
        ),
    ] = None,
    indicator: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[AlertState | None, Query()] = None,
) -> AlertPage:
    ref = UnitRef(unit_set=UnitSet.CURRENT, code=unit) if unit else None
    items, total = alert_service.alerts(session, page, ref, indicator, state)
    return AlertPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/alert-rules", summary="Quy tắc cảnh báo / Alert rules (any official)")
def list_rules(session: DbSession, principal: CurrentUser) -> list[RuleOut]:
    return alert_service.rules(session)


@router.post(
    "/alert-rules",
    status_code=status.HTTP_201_CREATED,
    summary="Thêm quy tắc cảnh báo / Add an alert rule (platform and province admins)",
)
def create_rule(session: DbSession, principal: CurrentUser, data: RuleCreate) -> RuleOut:
    require_catalogue_manager(session, principal)
    return alert_service.rule_out(session, alert_service.create_rule(session, data))


@router.get("/alert-rules/{code}", summary="Một quy tắc cảnh báo / An alert rule (any official)")
def get_rule(session: DbSession, principal: CurrentUser, code: Code) -> RuleOut:
    return alert_service.rule_out(session, alert_service.rule(session, code))


@router.patch(
    "/alert-rules/{code}",
    summary="Sửa, bật hoặc tắt quy tắc / Change, enable or disable a rule (platform and province admins)",
)
def update_rule(
    session: DbSession, principal: CurrentUser, code: Code, data: RuleUpdate
) -> RuleOut:
    require_catalogue_manager(session, principal)
    rule = alert_service.update_rule(session, alert_service.rule(session, code), data)
    return alert_service.rule_out(session, rule)


@router.delete(
    "/alert-rules/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Xoá quy tắc và lịch sử cảnh báo của nó / Delete a rule and its alerts (platform and province admins)",
)
def delete_rule(session: DbSession, principal: CurrentUser, code: Code) -> Response:
    require_catalogue_manager(session, principal)
    alert_service.delete_rule(session, alert_service.rule(session, code))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
