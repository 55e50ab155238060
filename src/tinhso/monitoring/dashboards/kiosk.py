"""Kiosk links: a wall screen in a meeting room shows dashboards without an account.

A link names its dashboards (the playlist, in order) and one unit: the panels show that unit
and the screen cannot choose another. The link's token is 32 random bytes (URL-safe) given
once at creation; only its SHA-256 is stored (``core.security.token_digest``), so a read of
the database reveals no live link. Each request looks the token up again, so a revocation or
an expiry takes effect on the screen's next fetch (410, with the reason in both languages).

Who may create, list and revoke: the same officials who edit dashboards
(``monitoring.auth.require_catalogue_manager``; the callers check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.core.errors import (
    DomainError,
    FieldError,
    Forbidden,
    Gone,
    InvalidInput,
    Message,
    NotFound,
    Unauthenticated,
)
from tinhso.core.security import new_token, token_digest
from tinhso.monitoring.dashboards.models import Dashboard, KioskLink
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.registry.accounts import account_service
from tinhso.registry.models import UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from tinhso.monitoring.dashboards.schemas import KioskLinkCreate, KioskState
    from tinhso.monitoring.dashboards.service import DashboardView
    from tinhso.registry.units import UnitNode

# new_token(32): 43 URL-safe characters; anything else is not a token of ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# last_used_at is written at most once a minute per link (a screen fetches every refresh).
_USE_RESOLUTION = timedelta(seconds=60)

REVOKED = Message("Liên kết trình chiếu đã bị thu hồi", "This kiosk link has been revoked")
EXPIRED = Message("Liên kết trình chiếu đã hết hạn", "This kiosk link has expired")
UNKNOWN = Message(
    "Liên kết trình chiếu không hợp lệ hoặc không tồn tại",
    "This kiosk link is not valid or does not exist",
)


@dataclass
class KioskAccess:
    """What a valid token opens: its link, its dashboards in order, its unit."""

    link: KioskLink
    dashboards: list[Dashboard]
    unit: UnitNode


@dataclass
class KioskListed:
    link: KioskLink
    dashboards: list[str]
    unit: UnitNode
    created_by: str | None
    revoked_by: str | None
    state: KioskState


def state_of(link: KioskLink, now: datetime | None = None) -> KioskState:
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


class KioskService:
    # -- managing ------------------------------------------------------------------------------

    def create(
        self, session: Session, data: KioskLinkCreate, created_by_id: int | None
    ) -> tuple[KioskLink, str]:
        """A new link and its token (the token is returned this once and never stored)."""
        errors: list[FieldError] = []
        dashboards: list[Dashboard] = []
        for index, slug in enumerate(data.dashboards):
            try:
                dashboards.append(dashboard_service.get(session, slug))
            except NotFound as problem:
                errors.append(FieldError(f"dashboards.{index}", problem.message))
        if len({d.id for d in dashboards}) != len(dashboards):
            errors.append(
                FieldError(
                    "dashboards",
                    Message("Một bảng điều khiển được chọn hai lần", "A dashboard is chosen twice"),
                )
            )
        unit_id: int | None = None
        try:
            unit_id = unit_service.get(session, UnitSet.CURRENT, data.unit).id
        except NotFound as problem:
            errors.append(FieldError("unit", problem.message))
        if unit_id is not None and dashboards:
            ancestors = set(unit_service.ancestor_ids(session, unit_id)) | {unit_id}
            own = dashboard_service.units(session, dashboards)
            for dashboard in dashboards:
                if dashboard.unit_id not in ancestors:
                    name = own[dashboard.unit_id].name
                    errors.append(
                        FieldError(
                            "unit",
                            Message(
                                f"Đơn vị {data.unit} không thuộc {name} "
                                f"(bảng điều khiển {dashboard.slug})",
                                f"Unit {data.unit} is not in {name} (dashboard {dashboard.slug})",
                            ),
                        )
                    )
                    break
        if data.expires_at is not None and data.expires_at <= utcnow():
            errors.append(
                FieldError(
                    "expires_at",
                    Message("Thời hạn phải ở tương lai", "The expiry must be in the future"),
                )
            )
        if errors or unit_id is None:
            raise InvalidInput(
                "Liên kết trình chiếu không hợp lệ", "The kiosk link is not valid", errors=errors
            )
        token = new_token(32)
        link = KioskLink(
            token_digest=token_digest(token),
            label=data.label,
            dashboard_ids=[d.id for d in dashboards],
            unit_id=unit_id,
            refresh_seconds=data.refresh_seconds,
            created_at=utcnow(),
            created_by_id=created_by_id,
            expires_at=data.expires_at,
        )
        session.add(link)
        session.flush()
        return link, token

    def all(self, session: Session) -> list[KioskListed]:
        """Every link, newest first, with what the list shows (four queries)."""
        links = list(session.scalars(select(KioskLink).order_by(KioskLink.id.desc())))
        return self._listed(session, links)

    def listed(self, session: Session, link: KioskLink) -> KioskListed:
        return self._listed(session, [link])[0]

    def _listed(self, session: Session, links: list[KioskLink]) -> list[KioskListed]:
        dashboard_ids = {i for link in links for i in link.dashboard_ids}
        slugs: dict[int, str] = {}
        if dashboard_ids:
            rows = session.execute(
                select(Dashboard.id, Dashboard.slug).where(Dashboard.id.in_(sorted(dashboard_ids)))
            )
            slugs = {dashboard_id: slug for dashboard_id, slug in rows}  # noqa: C416
        units = unit_service.nodes(session, {link.unit_id for link in links})
        people = account_service.usernames(
            session,
            {i for link in links for i in (link.created_by_id, link.revoked_by_id) if i},
        )
        now = utcnow()
        return [
            KioskListed(
                link=link,
                dashboards=[slugs[i] for i in link.dashboard_ids if i in slugs],
                unit=units[link.unit_id],
                created_by=people.get(link.created_by_id or 0),
                revoked_by=people.get(link.revoked_by_id or 0),
                state=state_of(link, now),
            )
            for link in links
        ]

    def get(self, session: Session, link_id: int) -> KioskLink:
        link = session.get(KioskLink, link_id)
        if link is None:
            raise NotFound(
                "Không tìm thấy liên kết trình chiếu", "Kiosk link not found", field="id"
            )
        return link

    def revoke(self, session: Session, link: KioskLink, revoked_by_id: int | None) -> KioskLink:
        """Revoked from now on (a second revocation keeps the first one's time and person)."""
        if link.revoked_at is None:
            link.revoked_at = utcnow()
            link.revoked_by_id = revoked_by_id
            session.flush()
        return link

    # -- the screen ----------------------------------------------------------------------------

    def open(self, session: Session, token: str | None) -> KioskAccess:
        """What the token opens now; refused when unknown (401), revoked or expired (410)."""
        if not token or _TOKEN.fullmatch(token) is None:
            raise Unauthenticated(UNKNOWN.vi, UNKNOWN.en)
        link = session.scalars(
            select(KioskLink).where(KioskLink.token_digest == token_digest(token))
        ).first()
        if link is None:
            raise Unauthenticated(UNKNOWN.vi, UNKNOWN.en)
        now = utcnow()
        state = state_of(link, now)
        if state != "active":
            message = REVOKED if state == "revoked" else EXPIRED
            raise Gone(message.vi, message.en)
        found = {
            d.id: d
            for d in session.scalars(select(Dashboard).where(Dashboard.id.in_(link.dashboard_ids)))
        }
        dashboards = [found[i] for i in link.dashboard_ids if i in found]
        if not dashboards:
            raise NotFound(
                "Các bảng điều khiển của liên kết này đã bị xoá",
                "The dashboards of this link have been deleted",
            )
        if link.last_used_at is None or now - link.last_used_at >= _USE_RESOLUTION:
            link.last_used_at = now
            session.flush()
        unit = unit_service.nodes(session, [link.unit_id])[link.unit_id]
        return KioskAccess(link, dashboards, unit)

    def check_scope(self, access: KioskAccess, slugs: list[str] | None, unit: str | None) -> None:
        """A screen may not widen its link: other dashboards or another unit are refused."""
        allowed = [d.slug for d in access.dashboards]
        if slugs is not None and any(slug not in allowed for slug in slugs):
            raise Forbidden(
                "Liên kết trình chiếu này không mở bảng điều khiển đó",
                "This kiosk link does not open that dashboard",
                field="d",
            )
        if unit is not None and unit != access.unit.code:
            raise Forbidden(
                "Liên kết trình chiếu này chỉ hiển thị đơn vị của nó",
                "This kiosk link shows its own unit only",
                field="unit",
            )

    def views(self, session: Session, access: KioskAccess) -> list[DashboardView]:
        """Each dashboard's panels for the link's unit (a panel that fails shows its reason)."""
        found: list[DashboardView] = []
        for dashboard in access.dashboards:
            try:
                found.append(dashboard_service.view(session, dashboard, access.unit.code))
            except DomainError:  # the dashboard's unit changed since: the link's unit is no
                continue  # longer inside it, and the screen shows the others
        return found


kiosk_service = KioskService()
