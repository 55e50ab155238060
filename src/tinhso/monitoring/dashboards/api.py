"""Dashboards API under ``/api/v1/monitoring/dashboards``: every official reads them with
their panels' data; platform administrators and the province organisation's administrators
(``monitoring.auth.require_catalogue_manager``) create, change and delete them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, status
from starlette.responses import Response

from tinhso.core.web import DbSession
from tinhso.monitoring.auth import require_catalogue_manager
from tinhso.monitoring.dashboards.schemas import (
    SLUG_PATTERN,
    DashboardCreate,
    DashboardOut,
    DashboardSummary,
    DashboardUpdate,
    MessageOut,
    PanelOut,
    PanelsReplace,
)
from tinhso.monitoring.dashboards.service import DashboardView, dashboard_service
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.dashboards.models import Dashboard

router = APIRouter(prefix="/api/v1/monitoring/dashboards", tags=["monitoring"])

SlugPath = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]


def _summary(session: Session, dashboard: Dashboard) -> DashboardSummary:
    unit = dashboard_service.units(session, [dashboard])[dashboard.unit_id]
    owners = dashboard_service.owner_codes(session, [dashboard])
    return DashboardSummary(
        slug=dashboard.slug,
        title_vi=dashboard.title_vi,
        title_en=dashboard.title_en,
        unit=UnitRef(unit_set=UnitSet.CURRENT, code=unit.code),
        unit_name=unit.name,
        rotation_seconds=dashboard.rotation_seconds,
        owner_organisation=owners.get(dashboard.owner_organisation_id or 0),
        panel_count=len(dashboard_service.panels(session, dashboard)),
    )


def _out(dashboard: Dashboard, found: DashboardView, *, with_data: bool = True) -> DashboardOut:
    return DashboardOut(
        slug=dashboard.slug,
        title_vi=dashboard.title_vi,
        title_en=dashboard.title_en,
        unit=UnitRef(unit_set=UnitSet.CURRENT, code=found.unit.code),
        unit_name=found.unit.name,
        rotation_seconds=dashboard.rotation_seconds,
        owner_organisation=found.owner_code,
        panel_count=len(found.panels),
        selected_unit=UnitRef(unit_set=UnitSet.CURRENT, code=found.selected.code),
        selected_unit_name=found.selected.name,
        panels=[
            PanelOut(
                id=shown.panel.id,
                position=shown.panel.position,
                kind=shown.panel.kind,  # type: ignore[arg-type]
                title_vi=shown.title_vi,
                title_en=shown.title_en,
                settings=shown.panel.settings,
                data=shown.data if with_data else None,
                error=MessageOut(vi=shown.error.vi, en=shown.error.en) if shown.error else None,
            )
            for shown in found.panels
        ],
    )


def _view(session: Session, dashboard: Dashboard, unit: str | None) -> DashboardOut:
    return _out(dashboard, dashboard_service.view(session, dashboard, unit))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _view_bytes(session: Session, dashboard: Dashboard, unit: str | None) -> bytes:
    """The dashboard as ``_view`` encodes it, each panel's data put in as the JSON text the
    service keeps with it (a map's ~100 KB are not encoded again)."""
    found = dashboard_service.view(session, dashboard, unit)
    shell = _out(dashboard, found, with_data=False).model_dump(mode="json")
    panels = []
    for out, shown in zip(shell.pop("panels"), found.panels, strict=True):
        fields = ",".join(
            f"{_json(name)}:{shown.text if name == 'data' and shown.text is not None else _json(value)}"
            for name, value in out.items()
        )
        panels.append(f"{{{fields}}}")
    return f'{_json(shell)[:-1]},"panels":[{",".join(panels)}]}}'.encode()


@router.get("", summary="Bảng điều khiển / The dashboards (any official)")
def list_dashboards(session: DbSession, principal: CurrentUser) -> list[DashboardSummary]:
    dashboards = dashboard_service.all(session)
    units = dashboard_service.units(session, dashboards)
    owners = dashboard_service.owner_codes(session, dashboards)
    counts = dashboard_service.panel_counts(session)
    return [
        DashboardSummary(
            slug=d.slug,
            title_vi=d.title_vi,
            title_en=d.title_en,
            unit=UnitRef(unit_set=UnitSet.CURRENT, code=units[d.unit_id].code),
            unit_name=units[d.unit_id].name,
            rotation_seconds=d.rotation_seconds,
            owner_organisation=owners.get(d.owner_organisation_id or 0),
            panel_count=counts.get(d.id, 0),
        )
        for d in dashboards
    ]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Tạo bảng điều khiển / Create a dashboard (platform admin or province admin)",
)
def create_dashboard(
    session: DbSession, principal: CurrentUser, data: DashboardCreate
) -> DashboardSummary:
    require_catalogue_manager(session, principal)
    return _summary(session, dashboard_service.create(session, data))


@router.get(
    "/{slug}",
    response_model=DashboardOut,
    summary="Một bảng điều khiển với số liệu các ô / A dashboard with its panels' data (any official)",
)
def get_dashboard(
    session: DbSession,
    principal: CurrentUser,
    slug: SlugPath,
    unit: Annotated[
        str | None,
        Query(max_length=16, description="A unit inside the dashboard's (chosen on the map)"),
    ] = None,
) -> Response:
    body = _view_bytes(session, dashboard_service.get(session, slug), unit)
    return Response(body, media_type="application/json")


@router.patch(
    "/{slug}",
    summary="Sửa bảng điều khiển / Change a dashboard (platform admin or province admin)",
)
def update_dashboard(
    session: DbSession, principal: CurrentUser, slug: SlugPath, data: DashboardUpdate
) -> DashboardSummary:
    require_catalogue_manager(session, principal)
    dashboard = dashboard_service.update(session, dashboard_service.get(session, slug), data)
    return _summary(session, dashboard)


@router.put(
    "/{slug}/panels",
    summary="Thay các ô theo thứ tự / Replace the panels, in order (platform admin or province admin)",
)
def replace_panels(
    session: DbSession, principal: CurrentUser, slug: SlugPath, data: PanelsReplace
) -> DashboardOut:
    require_catalogue_manager(session, principal)
    dashboard = dashboard_service.get(session, slug)
    dashboard_service.replace_panels(session, dashboard, data.panels)
    return _view(session, dashboard, None)


@router.delete(
    "/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Xoá bảng điều khiển / Delete a dashboard (platform admin or province admin)",
)
def delete_dashboard(session: DbSession, principal: CurrentUser, slug: SlugPath) -> Response:
    require_catalogue_manager(session, principal)
    dashboard_service.delete(session, dashboard_service.get(session, slug))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
