"""Alert rules and the alerts they open.

A rule watches one indicator (or, for ``reports_late_share``, the field reports) over a scope (a unit, or the units of a level below it) for
one period (or, without one, the current year). An alert is one (rule, unit, period) while
its condition holds: at most one open at a time (a partial unique index), resolved when the
condition clears, kept afterwards as history.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow, value_enum
from tinhso.monitoring.models import Comparison
from tinhso.registry.models import UnitLevel


class AlertKind(enum.StrEnum):
    # The indicator's target status for the unit is behind (chậm tiến độ) or not achieved.
    BEHIND_TRAJECTORY = "behind_trajectory"
    # The indicator's value for the unit crosses a threshold (operator + value).
    THRESHOLD = "threshold"
    # No value for the unit for some of the indicator's data elements once the period has
    # ended and ``due_days`` more working days have passed (the reporting calendar's "not
    # filled"; working days of core.calendar).
    MISSING_VALUE = "missing_value"
    # The share of the unit's field reports that are late, over a window (this month or the
    # last ``window_days`` days), above ``threshold`` % (no indicator: the reports domain's
    # live figures, through monitoring.field_reports).
    REPORTS_LATE_SHARE = "reports_late_share"


class AlertState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AlertRule(TimestampMixin, Base):
    __tablename__ = "monitoring_alert_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[AlertKind] = mapped_column(value_enum(AlertKind, "alert_kind"))
    # None only for reports_late_share (it watches field reports, not an indicator).
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    # The scope: a current unit, and optionally a level below it (its communes).
    scope_unit_id: Mapped[int] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="RESTRICT")
    )
    scope_level: Mapped[UnitLevel | None] = mapped_column(value_enum(UnitLevel, "unit_level"))
    period: Mapped[str | None] = mapped_column(String(10))  # None: the current year
    operator: Mapped[Comparison | None] = mapped_column(value_enum(Comparison, "comparison"))
    threshold: Mapped[float | None] = mapped_column(Float)
    cooldown_hours: Mapped[int] = mapped_column(Integer, default=24)
    # missing_value: working days after the period's end
    due_days: Mapped[int] = mapped_column(Integer, default=5)
    # reports_late_share: the last N days (None: the current month, Vietnam time)
    window_days: Mapped[int | None] = mapped_column(Integer)
    recipient_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Alert(Base):
    __tablename__ = "monitoring_alert"
    __table_args__ = (
        Index(
            "uq_monitoring_alert_open",
            "rule_id",
            "unit_id",
            "period",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_monitoring_alert_unit_state", "unit_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_alert_rule.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_unit.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10))
    state: Mapped[AlertState] = mapped_column(value_enum(AlertState, "alert_state"))
    value_seen: Mapped[float | None] = mapped_column(Float)
    status_seen: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified: Mapped[int] = mapped_column(Integer, default=0)  # e-mails queued at opening
