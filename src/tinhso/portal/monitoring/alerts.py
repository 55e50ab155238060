"""The alert pages: ``/monitoring/alerts`` (open and resolved alerts with their history,
filtered by unit, indicator and state; any official) and ``/monitoring/alerts/rules`` (the
rules; platform and province admins add one, enable or disable it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.pagination import PageParams
from tinhso.core.web import DbSession
from tinhso.monitoring.alerts.models import AlertKind, AlertState
from tinhso.monitoring.alerts.schemas import RuleCreate, RuleUpdate
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.auth import can_manage_catalogue, require_catalogue_manager
from tinhso.monitoring.models import Comparison
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import localised, period_label
from tinhso.portal.monitoring.overview import STATUS_CLASS, STATUS_ICON, status_label
from tinhso.portal.rendering import render
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

router = APIRouter()

PAGE_SIZE = 100
FORM_FIELDS = (
    "code",
    "name_vi",
    "name_en",
    "kind",
    "indicator",
    "scope",
    "communes",
    "period",
    "operator",
    "threshold",
    "cooldown_hours",
    "due_days",
    "window_days",
)


def kind_label(kind: AlertKind) -> str:
    labels = {
        AlertKind.BEHIND_TRAJECTORY: _("Behind schedule or not achieved"),
        AlertKind.THRESHOLD: _("Crosses a threshold"),
        AlertKind.MISSING_VALUE: _("No value by the due date"),
        AlertKind.REPORTS_LATE_SHARE: _("Late share of field reports above a threshold"),
    }
    return labels[kind]


def state_label(state: AlertState) -> str:
    return _("Open") if state is AlertState.OPEN else _("Resolved")


def _message(error: DomainError) -> list[str]:
    vietnamese = current_locale.get() == "vi"
    said = [
        f"{item.field}: {item.message.vi if vietnamese else item.message.en}"
        for item in error.errors
    ]
    return said or [error.message.vi if vietnamese else error.message.en]


@router.get(
    "/monitoring/alerts",
    summary="Alerts, open and resolved, with filters (any official)",
)
def alerts_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    unit: Annotated[str | None, Query(max_length=16)] = None,
    indicator: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    chosen_state = AlertState(state) if state in {s.value for s in AlertState} else None
    code = (unit or "").strip().removeprefix("current:") or None
    problems: list[str] = []
    items: list[Any] = []
    total = 0
    try:
        items, total = alert_service.alerts(
            session,
            PageParams(limit=PAGE_SIZE, offset=0),
            UnitRef(unit_set=UnitSet.CURRENT, code=code) if code else None,
            (indicator or "").strip() or None,
            chosen_state,
        )
    except DomainError as error:
        problems = _message(error)
    except ValidationError:
        problems = [_("Not an administrative unit code.")]
    indicators = sorted(
        catalogue.indicators(session, principal), key=lambda i: localised(i.name_vi, i.name_en)
    )
    return render(
        request,
        "monitoring/alerts.html",
        {
            "items": items,
            "total": total,
            "shown": PAGE_SIZE,
            "unit": code or "",
            "indicator": indicator or "",
            "state": chosen_state.value if chosen_state else "",
            "states": [(s.value, state_label(s)) for s in AlertState],
            "indicators": indicators,
            "problems": problems,
            "localised": localised,
            "period_label": period_label,
            "kind_label": kind_label,
            "state_label": state_label,
            "status_label": status_label,
            "status_class": STATUS_CLASS,
            "status_icon": STATUS_ICON,
            "can_manage": can_manage_catalogue(session, principal),
        },
        status_code=422 if problems else 200,
    )


def _rules_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    problems: list[str],
    form: dict[str, str],
    status_code: int = 200,
) -> Response:
    indicators = sorted(
        catalogue.indicators(session, principal), key=lambda i: localised(i.name_vi, i.name_en)
    )
    return render(
        request,
        "monitoring/alert_rules.html",
        {
            "rules": alert_service.rules(session),
            "indicators": indicators,
            "kinds": [(k.value, kind_label(k)) for k in AlertKind],
            "operators": [c.value for c in Comparison],
            "problems": problems,
            "form": dict.fromkeys(FORM_FIELDS, "") | form,
            "localised": localised,
            "kind_label": kind_label,
            "can_manage": can_manage_catalogue(session, principal),
        },
        status_code=status_code,
    )


@router.get("/monitoring/alerts/rules", summary="Alert rules (any official reads)")
def rules_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    return _rules_page(request, session, principal, [], {})


@router.post(
    "/monitoring/alerts/rules",
    summary="Add an alert rule (platform and province admins; CSRF)",
)
def add_rule(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: Annotated[str, Form(max_length=64)] = "",
    name_vi: Annotated[str, Form(max_length=300)] = "",
    name_en: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    indicator: Annotated[str, Form(max_length=64)] = "",
    scope: Annotated[str, Form(max_length=16)] = "",
    communes: Annotated[str, Form(max_length=8)] = "",
    period: Annotated[str, Form(max_length=10)] = "",
    operator: Annotated[str, Form(max_length=4)] = "",
    threshold: Annotated[str, Form(max_length=32)] = "",
    cooldown_hours: Annotated[str, Form(max_length=8)] = "24",
    due_days: Annotated[str, Form(max_length=8)] = "5",
    window_days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    require_catalogue_manager(session, principal)
    form = {
        "code": code,
        "name_vi": name_vi,
        "name_en": name_en,
        "kind": kind,
        "indicator": indicator,
        "scope": scope,
        "communes": communes,
        "period": period,
        "operator": operator,
        "threshold": threshold,
        "cooldown_hours": cooldown_hours,
        "due_days": due_days,
        "window_days": window_days,
    }
    try:
        data = RuleCreate.model_validate(
            {
                "code": code.strip(),
                "name_vi": name_vi,
                "name_en": name_en.strip() or None,
                "kind": kind,
                "indicator_code": indicator.strip() or None,
                "scope_unit": {"unit_set": "current", "code": scope.strip()},
                "scope_level": "commune" if communes else None,
                "period": period.strip() or None,
                "operator": operator or None,
                "threshold": threshold.strip().replace(",", ".") or None,
                "cooldown_hours": cooldown_hours.strip() or "24",
                "due_days": due_days.strip() or "5",
                "window_days": window_days.strip() or None,
            }
        )
        alert_service.create_rule(session, data)
        session.commit()
    except ValidationError as error:
        session.rollback()
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        said = [_("Check these fields: %(fields)s") % {"fields": ", ".join(fields)}]
        return _rules_page(request, session, principal, said, form, 422)
    except DomainError as error:
        session.rollback()
        return _rules_page(request, session, principal, _message(error), form, 422)
    return RedirectResponse("/monitoring/alerts/rules", status_code=303)


@router.post(
    "/monitoring/alerts/rules/{code}/enabled",
    summary="Enable or disable an alert rule (platform and province admins; CSRF)",
)
def set_enabled(
    session: DbSession,
    principal: PortalUser,
    code: Annotated[str, Path(max_length=64)],
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    require_catalogue_manager(session, principal)
    rule = alert_service.rule(session, code)
    alert_service.update_rule(session, rule, RuleUpdate(enabled=enabled == "yes"))
    return RedirectResponse("/monitoring/alerts/rules", status_code=303)
