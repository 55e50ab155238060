"""Automatic collection tables: where a data element's values come from, and each run.

A :class:`CollectionSource` says: call this exchange service (``org/system/service/version``
+ path + query) through the gateway every ``interval_minutes``, read the value (and
optionally the administrative unit's code) from the JSON answer with a JSON path, and store
it for the period the ``period_rule`` names. Every attempt is a :class:`CollectionRun`
carrying the gateway's request id, which is the exchange audit record the values cite.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow, value_enum
from tinhso.registry.models import UnitSet


class PeriodRule(enum.StrEnum):
    """Which reporting period a collected value belongs to (Vietnam time, UTC+7)."""

    CURRENT_MONTH = "current_month"
    PREVIOUS_MONTH = "previous_month"
    CURRENT_QUARTER = "current_quarter"
    PREVIOUS_QUARTER = "previous_quarter"
    CURRENT_YEAR = "current_year"
    PREVIOUS_YEAR = "previous_year"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CollectionSource(TimestampMixin, Base):
    """A data element sourced from an exchange service's JSON answer, on a schedule."""

    __tablename__ = "monitoring_collection_source"
    __table_args__ = (
        Index("ix_monitoring_collection_source_due", "enabled", "next_run_at"),
        CheckConstraint("(unit_code IS NULL) <> (unit_code_path IS NULL)", name="one_unit_mapping"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    data_element_id: Mapped[int] = mapped_column(ForeignKey("data_element.id", ondelete="RESTRICT"))
    # The exchange service, as the gateway addresses it.
    service_organisation_code: Mapped[str] = mapped_column(String(64))
    service_system_code: Mapped[str] = mapped_column(String(64))
    service_code: Mapped[str] = mapped_column(String(64))
    service_version: Mapped[str] = mapped_column(String(32))
    request_path: Mapped[str] = mapped_column(String(1000))
    # Query parameters; values may hold {period}, {year}, {quarter}, {month}.
    query: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # JSON path of a list of rows (one value per row); None: the answer is one value.
    rows_path: Mapped[str | None] = mapped_column(String(500))
    value_path: Mapped[str] = mapped_column(String(500))
    unit_set: Mapped[UnitSet] = mapped_column(value_enum(UnitSet, "unit_set"))
    unit_code: Mapped[str | None] = mapped_column(String(16))  # a fixed unit
    unit_code_path: Mapped[str | None] = mapped_column(String(500))  # or read from the answer
    period_rule: Mapped[PeriodRule] = mapped_column(value_enum(PeriodRule, "period_rule"))
    interval_minutes: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)


class CollectionRun(Base):
    """One attempt to collect a source: its outcome, the gateway request and what it wrote."""

    __tablename__ = "monitoring_collection_run"
    __table_args__ = (Index("ix_monitoring_collection_run_source", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_collection_source.id", ondelete="CASCADE")
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(value_enum(RunStatus, "collection_run_status"))
    period: Mapped[str | None] = mapped_column(String(10))
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # 1 + failures before it
    http_status: Mapped[int | None] = mapped_column(Integer)
    # The gateway's X-Tinhso-Request-Id: the exchange audit record's request_id.
    request_id: Mapped[str | None] = mapped_column(String(64))
    response_sha256: Mapped[str | None] = mapped_column(String(64))
    values_written: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_vi: Mapped[str | None] = mapped_column(Text)
    error_en: Mapped[str | None] = mapped_column(Text)
