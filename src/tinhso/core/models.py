"""Tables of the core: the decided days of the working-day calendar."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, UTCDateTime, utcnow


class CalendarDecidedDay(Base):
    """An extra day off or a make-up working day the government decided, with its source."""

    __tablename__ = "calendar_decided_day"
    __table_args__ = (CheckConstraint("kind IN ('off', 'working')", name="kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    url: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
