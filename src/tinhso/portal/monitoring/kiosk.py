"""Kiosk links (issue 15): wall screens in meeting rooms without an account.

- ``/monitoring/kiosk?k=TOKEN`` (public, the token is the key): the wall screen of the link's
  dashboards for the link's unit, read-only. The token is in the query string, which the
  request log and the terminator's access log leave out (a path would be logged). The screen
  fetches the same address every ``refresh`` seconds; once the link is revoked or expired the
  answer is 410 and the screen keeps its last picture under "Liên kết trình chiếu đã bị thu
  hồi". ``d`` or ``unit`` other than the link's are refused (403): a screen cannot widen it.
  Every answer carries ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.
- ``/monitoring/kiosk-links``: platform administrators and the province organisation's
  administrators create a link (its address shown once), see the links with their last use,
  and revoke them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.monitoring.dashboards.kiosk import kiosk_service
from tinhso.monitoring.dashboards.kiosk_api import KIOSK_PATH, kiosk_url
from tinhso.monitoring.dashboards.schemas import MAX_KIOSK_DASHBOARDS, KioskLinkCreate
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring.catalogue import localised
from tinhso.portal.monitoring.dashboards import (
    _common,
    _dashboard_context,
    _errors_by_field,
    _invalid,
    _panels,
    _require_manager,
    _said,
    wall_texts,
)
from tinhso.portal.rendering import render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

router = APIRouter()

KIOSK_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
_VIETNAM = timedelta(hours=7)


def _ended(request: Request, error: DomainError) -> Response:
    return render(
        request,
        "monitoring/kiosk_ended.html",
        {"message": _said(error.message)},
        status_code=error.status,
        headers=KIOSK_HEADERS,
    )


@router.get(
    KIOSK_PATH,
    summary="Kiosk wall screen: a link's dashboards for its unit, read-only (public, the "
    "link's token is the key)",
)
def kiosk_page(
    request: Request,
    session: DbSession,
    k: Annotated[str | None, Query(max_length=100)] = None,
    d: Annotated[str | None, Query(max_length=600)] = None,
    unit: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    try:
        access = kiosk_service.open(session, k)
        slugs = [s.strip() for s in d.split(",") if s.strip()] if d is not None else None
        kiosk_service.check_scope(access, slugs, (unit or "").strip() or None)
    except DomainError as error:
        return _ended(request, error)
    screens = [
        {**_dashboard_context(found), "panels": _panels(found, pick=False)}
        for found in kiosk_service.views(session, access)
    ]
    return render(
        request,
        "monitoring/wall.html",
        {
            **_common(),
            **wall_texts(),
            "screens": screens,
            "refresh": access.link.refresh_seconds,
            "updated_at": utcnow().isoformat(),
            "kiosk": True,
            "kiosk_label": access.link.label,
            "kiosk_unit": access.unit.name,
        },
        headers=KIOSK_HEADERS,
    )


# -- managing the links ---------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return (value + _VIETNAM).strftime("%H:%M %d/%m/%Y")


def _state_label(state: str) -> str:
    return {
        "active": _("Active"),
        "expired": _("Expired"),
        "revoked": _("Revoked"),
    }[state]


def _links_page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    created: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    dashboards = dashboard_service.all(session)
    return render(
        request,
        "monitoring/kiosk_links.html",
        {
            "links": [
                {
                    "id": found.link.id,
                    "label": found.link.label,
                    "dashboards": found.dashboards,
                    "unit": found.unit.name,
                    "refresh": found.link.refresh_seconds,
                    "created": _when(found.link.created_at),
                    "created_by": found.created_by or "",
                    "expires": _when(found.link.expires_at),
                    "last_used": _when(found.link.last_used_at),
                    "revoked": _when(found.link.revoked_at),
                    "revoked_by": found.revoked_by or "",
                    "state": found.state,
                    "state_label": _state_label(found.state),
                }
                for found in kiosk_service.all(session)
            ],
            "dashboards": [
                {"slug": d.slug, "title": localised(d.title_vi, d.title_en)} for d in dashboards
            ],
            "form": form or {"refresh_seconds": "60", "dashboards": []},
            "errors": errors or {},
            "created": created,
            "max_dashboards": MAX_KIOSK_DASHBOARDS,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get(
    "/monitoring/kiosk-links",
    summary="Kiosk links: create, list, revoke (platform admins, province admins)",
)
def kiosk_links_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    _require_manager(session, principal)
    return _links_page(request, session, principal)


def _expiry(text: str) -> datetime | str | None:
    """dd/mm/yyyy (the end of that day, Vietnam time) or the browser's yyyy-mm-dd."""
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, pattern)  # noqa: DTZ007 - a calendar day, placed below
        except ValueError:
            continue
        end = day.replace(hour=23, minute=59, second=59) - _VIETNAM
        return end.replace(tzinfo=utcnow().tzinfo)
    return text  # refused by the model with the field named


@router.post(
    "/monitoring/kiosk-links",
    summary="Create a kiosk link, its address shown once (platform admins, province admins; CSRF)",
)
async def create_kiosk_link(
    request: Request, session: DbSession, principal: PortalUser
) -> Response:
    _require_manager(session, principal)
    received = await request.form()
    form: dict[str, Any] = {
        name: str(received.get(name, ""))[:300].strip()
        for name in ("label", "unit", "refresh_seconds", "expires")
    }
    form["dashboards"] = [str(v)[:64] for v in received.getlist("dashboards")][:20]
    try:
        data = KioskLinkCreate.model_validate(
            {
                "label": form["label"],
                "unit": form["unit"],
                "dashboards": form["dashboards"],
                "refresh_seconds": form["refresh_seconds"] or 60,
                "expires_at": _expiry(form["expires"]),
            }
        )
        link, token = kiosk_service.create(session, data, principal.user_id)
        session.commit()
    except ValidationError as error:
        problems = _errors_by_field(_invalid(error))
        if "expires_at" in problems:
            problems["expires"] = problems.pop("expires_at")
        return _links_page(request, session, principal, form=form, errors=problems, status_code=422)
    except DomainError as error:
        session.rollback()
        problems = {
            item.field.split(".")[0].replace("expires_at", "expires"): _said(item.message)
            for item in error.errors
        } or _errors_by_field(error)
        return _links_page(request, session, principal, form=form, errors=problems, status_code=422)
    created = {"label": link.label, "url": kiosk_url(request.app.state.settings, token)}
    return _links_page(request, session, principal, created=created)


@router.post(
    "/monitoring/kiosk-links/{link_id}/revoke",
    summary="Revoke a kiosk link (platform admins, province admins; CSRF)",
)
def revoke_kiosk_link(
    session: DbSession,
    principal: PortalUser,
    link_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
) -> Response:
    _require_manager(session, principal)
    kiosk_service.revoke(session, kiosk_service.get(session, link_id), principal.user_id)
    session.commit()
    return RedirectResponse(f"/monitoring/kiosk-links#link-{link_id}", status_code=303)
