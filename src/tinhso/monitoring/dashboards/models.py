"""Dashboard tables: a dashboard (slug, titles, the unit it is about, how long a wall screen
shows it, the organisation that owns it) and its panels in order, each with the settings of
its kind as JSON (checked by ``schemas.py`` on every write)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin


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
