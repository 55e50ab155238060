"""Dashboard pages of the operations centre (issue 15).

- ``/monitoring/dashboards``: the dashboards (every official); managers create one there.
- ``/monitoring/dashboards/{slug}``: its panels; a click on a commune of the map (or the
  ranking's link) chooses it for the other panels (``?unit=``).
- ``/monitoring/dashboards/{slug}/edit``: add, remove, reorder panels and edit their settings,
  checked on the server with each error beside its field. Platform administrators and the
  province organisation's administrators (``monitoring.auth``), like the API; anyone else is
  refused with a page that says who may.
- ``/monitoring/wall?d=slug1,slug2``: the wall screen: no navigation, large type, dark; the
  dashboards rotate (each for its own seconds) and the data is fetched again every
  ``refresh`` seconds; when the server cannot be reached the last data stays with a notice
  saying since when (``static/monitoring/wall.js``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError, Forbidden, InvalidInput
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.monitoring.auth import can_manage_catalogue
from tinhso.monitoring.dashboards.schemas import (
    SLUG_PATTERN,
    DashboardCreate,
    PanelIn,
    PanelKind,
)
from tinhso.monitoring.dashboards.service import (
    KIND_NAMES,
    DashboardView,
    dashboard_service,
    field_errors,
)
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import localised, period_label
from tinhso.portal.monitoring.overview import (
    STATUS_CLASS,
    STATUS_ICON,
    map_texts,
    status_label,
)
from tinhso.portal.rendering import render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.dashboards.models import Dashboard
    from tinhso.registry.auth import Principal

router = APIRouter()

Slug = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
WALL_REFRESH_SECONDS = 60
MAX_WALL_DASHBOARDS = 8


def _refused() -> Forbidden:
    return Forbidden(
        "Chỉ quản trị viên nền tảng hoặc quản trị viên UBND tỉnh được sửa bảng điều khiển. "
        "Bạn vẫn xem được các bảng điều khiển.",
        "Only platform administrators and administrators of the province organisation may "
        "edit dashboards. You can still view them.",
    )


def _require_manager(session: Session, principal: Principal) -> None:
    if not can_manage_catalogue(session, principal):
        raise _refused()


def _said(message: Any) -> str:
    return str(message.vi if current_locale.get() == "vi" else message.en)


def _errors_by_field(error: DomainError) -> dict[str, str]:
    """``settings.indicator`` → ``indicator``: the message shown beside that field."""
    found: dict[str, str] = {}
    for item in error.errors:
        name = item.field.rsplit(".", 1)[-1] if item.field.startswith("settings.") else item.field
        if item.field.startswith("settings.unit"):
            name = "unit_code"
        found.setdefault(name, _said(item.message))
    if not found:
        found["_"] = _said(error.message)
    return found


# -- panels as the templates show them ------------------------------------------------------------


def _status(status: str | None) -> dict[str, str]:
    if not status:
        return {"label": "", "class": "status-unknown", "icon": ""}
    return {
        "label": status_label(status),
        "class": STATUS_CLASS.get(status, "status-unknown"),
        "icon": STATUS_ICON.get(status, ""),
    }


def _chart(kind: PanelKind, data: dict[str, Any], pick: bool) -> dict[str, Any] | None:
    """What the panel's script draws (a map or a series), in the page's language."""
    locale = current_locale.get()
    indicator = data.get("indicator") or {}
    unit = indicator.get("unit_vi" if locale == "vi" else "unit_en", "")
    if kind is PanelKind.MAP and data.get("geojson"):
        return {
            "type": "map",
            "mode": data["mode"],
            **map_texts(),
            "geojson": data["geojson"],
            "drill": False,
            "pick": "unit" if pick else None,
            "selected": data.get("selected"),
            "decimals": indicator.get("decimals", 2),
            "unit": unit,
            "locale": locale,
        }
    if kind is PanelKind.TIMESERIES and data.get("points"):
        return {
            "type": "timeseries",
            "periods": [period_label(p["period"]) for p in data["points"]],
            "values": [p["value"] for p in data["points"]],
            "target": data.get("target"),
            "target_label": _("Target %(year)s") % {"year": data["target_year"]}
            if data.get("target") is not None
            else "",
            "value_label": _("Value"),
            "decimals": indicator.get("decimals", 2),
            "unit": unit,
            "locale": locale,
        }
    if kind is PanelKind.FIELD_REPORTS and data.get("trend"):
        return {  # drawn as a series: reports received each month
            "type": "timeseries",
            "periods": [period_label(m["month"]) for m in data["trend"]],
            "values": [m["received"] for m in data["trend"]],
            "target": None,
            "target_label": "",
            "value_label": _("Received"),
            "decimals": 0,
            "unit": "",
            "locale": locale,
        }
    return None


def _panels(found: DashboardView, pick: bool) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for view in found.panels:
        kind = PanelKind(view.panel.kind)
        data = view.data or {}
        indicator = data.get("indicator")
        shown.append(
            {
                "id": view.panel.id,
                "kind": kind.value,
                # Untitled: the indicator's name, else the kind's.
                "title": localised(view.title_vi, view.title_en)
                if view.panel.title_vi or not indicator
                else localised(indicator["name_vi"], indicator["name_en"]),
                "error": _said(view.error) if view.error else "",
                "data": data,
                "indicator_name": localised(indicator["name_vi"], indicator["name_en"])
                if indicator and view.panel.title_vi
                else "",
                "unit_of_measure": (indicator or {}).get(
                    "unit_vi" if current_locale.get() == "vi" else "unit_en", ""
                ),
                "status": _status(data.get("status")),
                "chart": _chart(kind, data, pick) if data else None,
            }
        )
    return shown


def _dashboard_context(found: DashboardView) -> dict[str, Any]:
    dashboard = found.dashboard
    return {
        "slug": dashboard.slug,
        "title": localised(dashboard.title_vi, dashboard.title_en),
        "unit": found.unit,
        "selected": found.selected,
        "rotation_seconds": dashboard.rotation_seconds,
    }


def _common() -> dict[str, Any]:
    return {"period_label": period_label, "localised": localised}


# -- pages ----------------------------------------------------------------------------------------


@router.get("/monitoring/dashboards", summary="The dashboards (any official)")
def dashboards_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    return _list(request, session, principal)


def _list(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    dashboards = dashboard_service.all(session)
    units = dashboard_service.units(session, dashboards)
    counts = dashboard_service.panel_counts(session)
    return render(
        request,
        "monitoring/dashboards.html",
        {
            "dashboards": [
                {
                    "slug": d.slug,
                    "title": localised(d.title_vi, d.title_en),
                    "unit": units[d.unit_id].name,
                    "panels": counts.get(d.id, 0),
                    "rotation_seconds": d.rotation_seconds,
                }
                for d in dashboards
            ],
            "may_edit": can_manage_catalogue(session, principal),
            "form": form or {"rotation_seconds": "30"},
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.post(
    "/monitoring/dashboards",
    summary="Create a dashboard (platform admins, province admins; CSRF)",
)
async def create_dashboard(request: Request, session: DbSession, principal: PortalUser) -> Response:
    _require_manager(session, principal)
    received = await request.form()
    form = {
        name: str(received.get(name, ""))[:300].strip()
        for name in ("slug", "title_vi", "title_en", "unit", "rotation_seconds")
    }
    try:
        data = DashboardCreate.model_validate(
            {
                key: value
                for key, value in form.items()
                if value or key in {"slug", "title_vi", "unit"}
            }
        )
        dashboard_service.create(session, data)
        session.commit()
    except ValidationError as error:
        return _list(request, session, principal, form, _errors_by_field(_invalid(error)))
    except DomainError as error:
        session.rollback()
        return _list(request, session, principal, form, _errors_by_field(error))
    return RedirectResponse(f"/monitoring/dashboards/{data.slug}/edit", status_code=303)


def _invalid(error: ValidationError, prefix: str = "") -> InvalidInput:
    return InvalidInput(
        "Dữ liệu nhập không hợp lệ", "The form is not valid", errors=field_errors(error, prefix)
    )


@router.get("/monitoring/dashboards/{slug}", summary="A dashboard's panels (any official)")
def dashboard_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    unit: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    dashboard = dashboard_service.get(session, slug)
    found = dashboard_service.view(session, dashboard, (unit or "").strip() or None)
    return render(
        request,
        "monitoring/dashboard.html",
        {
            **_common(),
            "dashboard": _dashboard_context(found),
            "panels": _panels(found, pick=True),
            "may_edit": can_manage_catalogue(session, principal),
        },
    )


# -- the editor -----------------------------------------------------------------------------------

# The settings each kind's form shows: (name, input, label).
FIELDS: dict[PanelKind, list[tuple[str, str]]] = {
    PanelKind.MAP: [("indicator", "indicator"), ("period", "period"), ("mode", "mode")],
    PanelKind.KPI: [("indicator", "indicator"), ("period", "period"), ("unit_code", "unit")],
    PanelKind.TIMESERIES: [("indicator", "indicator"), ("last", "number"), ("unit_code", "unit")],
    PanelKind.RANKING: [
        ("indicator", "indicator"),
        ("period", "period"),
        ("level", "level"),
        ("limit", "number"),
    ],
    PanelKind.STATUS_COUNTS: [("plan", "plan"), ("as_of", "number")],
    PanelKind.EXCHANGE: [("days", "number"), ("limit", "number")],
    PanelKind.FIELD_REPORTS: [("months", "number")],
}


def _field_labels() -> dict[str, str]:
    return {
        "indicator": _("Indicator"),
        "period": _("Period (empty: the latest)"),
        "mode": _("Colour by"),
        "unit_code": _("Unit code (empty: the dashboard's)"),
        "unit_set": _("Unit set"),
        "last": _("Number of periods"),
        "level": _("Units ranked"),
        "limit": _("Rows shown"),
        "plan": _("Plan"),
        "as_of": _("Assessed in year (empty: this year)"),
        "days": _("Days"),
        "months": _("Months in the trend"),
        "title_vi": _("Title in Vietnamese (empty: the kind's name)"),
        "title_en": _("Title in English"),
        "percent_of_target": _("% of target"),
    }


def _settings_form(panel_kind: PanelKind, settings: dict[str, Any]) -> dict[str, str]:
    """A panel's stored settings as the form's text values."""
    values = {key: "" if value is None else str(value) for key, value in settings.items()}
    pinned = settings.get("unit")
    if isinstance(pinned, dict):
        values["unit_code"] = str(pinned.get("code", ""))
        values["unit_set"] = str(pinned.get("unit_set", "current"))
    values.pop("unit", None)
    return values


def _settings_from_form(kind: PanelKind, form: dict[str, str]) -> dict[str, Any]:
    """The form's non-empty fields as the kind's settings (numbers stay text: the settings'
    model reads them, and refuses what is not a number)."""
    names = [name for name, _input in FIELDS[kind]]
    settings: dict[str, Any] = {
        name: form[name] for name in names if name != "unit_code" and form.get(name)
    }
    if "unit_code" in names and form.get("unit_code"):
        settings["unit"] = {
            "code": form["unit_code"],
            "unit_set": form.get("unit_set") or "current",
        }
    return settings


def _edit(
    request: Request,
    session: Session,
    dashboard: Dashboard,
    *,
    problems: dict[int | str, dict[str, str]] | None = None,
    forms: dict[int | str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    panels = dashboard_service.panels(session, dashboard)
    indicators = sorted(
        catalogue.indicators(session, request.state.principal),
        key=lambda i: localised(i.name_vi, i.name_en),
    )
    plans = catalogue.plans(session, request.state.principal)
    unit = dashboard_service.units(session, [dashboard])[dashboard.unit_id]
    forms = forms or {}
    return render(
        request,
        "monitoring/dashboard_edit.html",
        {
            **_common(),
            "dashboard": {
                "slug": dashboard.slug,
                "title": localised(dashboard.title_vi, dashboard.title_en),
                "unit": unit,
            },
            "panels": [
                {
                    "id": panel.id,
                    "kind": panel.kind,
                    "kind_name": localised(*KIND_NAMES[PanelKind(panel.kind)]),
                    "fields": FIELDS[PanelKind(panel.kind)],
                    "values": forms.get(panel.id)
                    or {
                        **_settings_form(PanelKind(panel.kind), panel.settings),
                        "title_vi": panel.title_vi or "",
                        "title_en": panel.title_en or "",
                    },
                    "errors": (problems or {}).get(panel.id, {}),
                }
                for panel in panels
            ],
            "kinds": [(kind.value, localised(*KIND_NAMES[kind])) for kind in PanelKind],
            "indicators": indicators,
            "plans": plans,
            "labels": _field_labels(),
            "add": forms.get("new", {}),
            "add_errors": (problems or {}).get("new", {}),
        },
        status_code=status_code,
    )


def _form_text(received: Any, names: set[str]) -> dict[str, str]:
    return {name: str(received.get(name, ""))[:200].strip() for name in names}


_FORM_NAMES = {
    "kind", "title_vi", "title_en", "indicator", "period", "mode", "unit_code", "unit_set",
    "last", "level", "limit", "plan", "as_of", "days", "months",
}  # fmt: skip


def _panel_in(kind: PanelKind, form: dict[str, str]) -> PanelIn:
    try:
        return PanelIn(
            kind=kind,
            title_vi=form.get("title_vi") or None,
            title_en=form.get("title_en") or None,
            settings=_settings_from_form(kind, form),
        )
    except ValidationError as error:
        raise _invalid(error) from None


@router.get(
    "/monitoring/dashboards/{slug}/edit",
    summary="Edit a dashboard's panels (platform admins, province admins)",
)
def edit_page(request: Request, session: DbSession, principal: PortalUser, slug: Slug) -> Response:
    _require_manager(session, principal)
    return _edit(request, session, dashboard_service.get(session, slug))


@router.post(
    "/monitoring/dashboards/{slug}/panels",
    summary="Add a panel (platform admins, province admins; CSRF)",
)
async def add_panel(
    request: Request, session: DbSession, principal: PortalUser, slug: Slug
) -> Response:
    _require_manager(session, principal)
    dashboard = dashboard_service.get(session, slug)
    form = _form_text(await request.form(), _FORM_NAMES)
    try:
        kind = PanelKind(form["kind"])
    except ValueError:
        problem = {"kind": _("Choose a kind of panel")}
        return _edit(
            request, session, dashboard, problems={"new": problem}, forms={"new": form},
            status_code=422,
        )  # fmt: skip
    try:
        made = dashboard_service.add_panel(session, dashboard, _panel_in(kind, form))
        session.commit()
    except DomainError as error:
        session.rollback()
        return _edit(
            request, session, dashboard, problems={"new": _errors_by_field(error)},
            forms={"new": form}, status_code=422,
        )  # fmt: skip
    return RedirectResponse(f"/monitoring/dashboards/{slug}/edit#panel-{made.id}", status_code=303)


@router.post(
    "/monitoring/dashboards/{slug}/panels/{panel_id}",
    summary="Change a panel's settings (platform admins, province admins; CSRF)",
)
async def update_panel(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    panel_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
) -> Response:
    _require_manager(session, principal)
    dashboard = dashboard_service.get(session, slug)
    form = _form_text(await request.form(), _FORM_NAMES)
    panels = {panel.id: panel for panel in dashboard_service.panels(session, dashboard)}
    kind = PanelKind(panels[panel_id].kind) if panel_id in panels else PanelKind.EXCHANGE
    try:
        dashboard_service.update_panel(session, dashboard, panel_id, _panel_in(kind, form))
        session.commit()
    except DomainError as error:
        session.rollback()
        if panel_id not in panels:
            raise
        return _edit(
            request, session, dashboard, problems={panel_id: _errors_by_field(error)},
            forms={panel_id: form}, status_code=422,
        )  # fmt: skip
    return RedirectResponse(f"/monitoring/dashboards/{slug}/edit#panel-{panel_id}", status_code=303)


@router.post(
    "/monitoring/dashboards/{slug}/panels/{panel_id}/move",
    summary="Move a panel up or down (platform admins, province admins; CSRF)",
)
async def move_panel(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    panel_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
) -> Response:
    _require_manager(session, principal)
    dashboard = dashboard_service.get(session, slug)
    direction = str((await request.form()).get("direction", ""))
    dashboard_service.move_panel(session, dashboard, panel_id, -1 if direction == "up" else 1)
    session.commit()
    return RedirectResponse(f"/monitoring/dashboards/{slug}/edit#panel-{panel_id}", status_code=303)


@router.post(
    "/monitoring/dashboards/{slug}/panels/{panel_id}/delete",
    summary="Remove a panel (platform admins, province admins; CSRF)",
)
def remove_panel(
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    panel_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
) -> Response:
    _require_manager(session, principal)
    dashboard = dashboard_service.get(session, slug)
    dashboard_service.remove_panel(session, dashboard, panel_id)
    session.commit()
    return RedirectResponse(f"/monitoring/dashboards/{slug}/edit", status_code=303)


# -- the wall screen ------------------------------------------------------------------------------


@router.get(
    "/monitoring/wall",
    summary="Wall screen: dashboards rotating full-screen, data refreshed (any official)",
)
def wall_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    d: Annotated[str | None, Query(max_length=600, description="slug1,slug2")] = None,
    refresh: Annotated[int, Query(ge=5, le=3600)] = WALL_REFRESH_SECONDS,
) -> Response:
    slugs = [s.strip() for s in (d or "").split(",") if s.strip()][:MAX_WALL_DASHBOARDS]
    if not slugs:
        slugs = [dashboard.slug for dashboard in dashboard_service.all(session)][:1]
    screens = []
    for slug in slugs:
        found = dashboard_service.view(session, dashboard_service.get(session, slug))
        screens.append({**_dashboard_context(found), "panels": _panels(found, pick=False)})
    now = utcnow()
    return render(
        request,
        "monitoring/wall.html",
        {
            **_common(),
            **wall_texts(),
            "kiosk": False,
            "screens": screens,
            "refresh": refresh,
            "updated_at": now.isoformat(),
        },
    )


def wall_texts() -> dict[str, str]:
    """What the wall's script says when the data is old, the server away, or a kiosk link
    has ended (revoked or expired: the server's own reason is shown when it gives one)."""
    return {
        "stale_text": _("Data not updated since %(time)s") % {"time": "{time}"},
        "offline_text": _("The server cannot be reached; the data shown is the last received."),
        "ended_text": _("This kiosk link has been revoked"),
    }
