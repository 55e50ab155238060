"""Dashboard tables: a dashboard (slug, titles, the unit it is about, how long a wall screen
shows it, the organisation that owns it) and its panels in order, each with the settings of
its kind as JSON (checked by ``schemas.py`` on every write)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow


class Dashboard(TimestampMixin, Base):
    __tablename__ = "monitoring_dashboard"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title_vi: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    # The unit the dashboard is about (a current province or commune).
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_unit.id", ondelete="RESTRICT"))
    rotation_seconds: Mapped[int] = mapped_column(Integer, default=30)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )


class DashboardPanel(Base):
    __tablename__ = "monitoring_dashboard_panel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_dashboard.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    title_vi: Mapped[str | None] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)


class KioskLink(Base):
    """A read-only link for a wall screen that has no account: the dashboards it rotates (in
    order, as ids) and the one unit their panels show. Only the token's SHA-256 is stored, so
    reading the table reveals no live link; revoked or past its expiry it opens nothing."""

    __tablename__ = "monitoring_kiosk_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    dashboard_ids: Mapped[list[int]] = mapped_column(JSON)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_unit.id", ondelete="RESTRICT"))
    refresh_seconds: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
