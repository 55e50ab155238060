"""Kiosk links API under ``/api/v1/monitoring/kiosk-links``: the officials who edit
dashboards (platform administrators, the province organisation's administrators) list, create
and revoke the read-only links of wall screens. The link itself is in the creation's answer
only (``url``); the list never shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Request, status

from tinhso.core.web import DbSession
from tinhso.monitoring.auth import require_catalogue_manager
from tinhso.monitoring.dashboards.kiosk import KioskListed, kiosk_service
from tinhso.monitoring.dashboards.schemas import KioskLinkCreate, KioskLinkCreated, KioskLinkOut
from tinhso.registry.auth import CurrentUser
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from tinhso.core.config import Settings

router = APIRouter(prefix="/api/v1/monitoring/kiosk-links", tags=["monitoring"])

KIOSK_PATH = "/monitoring/kiosk"


def kiosk_url(settings: Settings, token: str) -> str:
    """The screen's address. The token rides in the query string, which neither the request
    log nor the terminator's access log keeps (docs/operations.md)."""
    return f"{settings.base_url.rstrip('/')}{KIOSK_PATH}?k={token}"


def link_out(found: KioskListed) -> KioskLinkOut:
    link = found.link
    return KioskLinkOut(
        id=link.id,
        label=link.label,
        dashboards=found.dashboards,
        unit=UnitRef(unit_set=UnitSet.CURRENT, code=found.unit.code),
        unit_name=found.unit.name,
        refresh_seconds=link.refresh_seconds,
        created_at=link.created_at,
        created_by=found.created_by,
        expires_at=link.expires_at,
        last_used_at=link.last_used_at,
        revoked_at=link.revoked_at,
        revoked_by=found.revoked_by,
        state=found.state,
    )


@router.get(
    "",
    summary="Liên kết trình chiếu / The kiosk links (platform admin or province admin)",
)
def list_kiosk_links(session: DbSession, principal: CurrentUser) -> list[KioskLinkOut]:
    require_catalogue_manager(session, principal)
    return [link_out(found) for found in kiosk_service.all(session)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Tạo liên kết trình chiếu / Create a kiosk link, its URL shown once "
    "(platform admin or province admin)",
)
def create_kiosk_link(
    request: Request, session: DbSession, principal: CurrentUser, data: KioskLinkCreate
) -> KioskLinkCreated:
    require_catalogue_manager(session, principal)
    link, token = kiosk_service.create(session, data, principal.user_id)
    shown = link_out(kiosk_service.listed(session, link))
    return KioskLinkCreated(**shown.model_dump(), url=kiosk_url(request.app.state.settings, token))


@router.post(
    "/{link_id}/revoke",
    summary="Thu hồi liên kết trình chiếu / Revoke a kiosk link, from the screen's next "
    "request (platform admin or province admin)",
)
def revoke_kiosk_link(
    session: DbSession,
    principal: CurrentUser,
    link_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
) -> KioskLinkOut:
    require_catalogue_manager(session, principal)
    link = kiosk_service.revoke(session, kiosk_service.get(session, link_id), principal.user_id)
    return link_out(kiosk_service.listed(session, link))
