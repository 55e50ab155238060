"""Exchange statistics from the audit log: exchanges per day and per service, error rates.

Counted in SQL over ``exchange_audit_record`` (indexed on ``recorded_at`` and
``(service, recorded_at)``); days are Vietnamese calendar days (UTC+7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, case, cast, func, literal_column, select

from tinhso.core.db import utcnow
from tinhso.exchange.models import AuditRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DayCount:
    day: date
    exchanges: int
    errors: int

    @property
    def error_rate(self) -> float:
        return 100 * self.errors / self.exchanges if self.exchanges else 0.0


@dataclass(frozen=True)
class ServiceCount:
    service: str  # "org/system/service/version", or "" for requests that named no known service
    exchanges: int
    errors: int
    mean_latency_ms: float

    @property
    def error_rate(self) -> float:
        return 100 * self.errors / self.exchanges if self.exchanges else 0.0


@dataclass(frozen=True)
class ExchangeStatistics:
    since: date
    days: list[DayCount]
    services: list[ServiceCount]

    @property
    def exchanges(self) -> int:
        return sum(day.exchanges for day in self.days)

    @property
    def errors(self) -> int:
        return sum(day.errors for day in self.days)

    @property
    def error_rate(self) -> float:
        return 100 * self.errors / self.exchanges if self.exchanges else 0.0


def _local_day(session: Session) -> Any:
    """The Vietnamese calendar day of a record, in the database's own SQL."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(AuditRecord.recorded_at, literal_column("'+7 hours'"))
    return cast(func.timezone(literal_column("'Asia/Ho_Chi_Minh'"), AuditRecord.recorded_at), Date)


def exchange_statistics(session: Session, days: int = 30) -> ExchangeStatistics:
    """Exchanges and errors (HTTP status ≥ 400, refusals included) over the last ``days`` days."""
    start = utcnow() - timedelta(days=days)
    failed = func.sum(case((AuditRecord.status >= 400, 1), else_=0))
    day = _local_day(session).label("day")
    per_day = session.execute(
        select(day, func.count(), failed)
        .where(AuditRecord.recorded_at >= start)
        .group_by(day)
        .order_by(day)
    )
    service = func.coalesce(AuditRecord.service, literal_column("''")).label("service")
    per_service = session.execute(
        select(service, func.count(), failed, func.avg(AuditRecord.latency_us))
        .where(AuditRecord.recorded_at >= start)
        .group_by(service)
        .order_by(func.count().desc(), service)
    )
    return ExchangeStatistics(
        since=(start + timedelta(hours=7)).date(),
        days=[
            DayCount(
                day=row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0])),
                exchanges=int(row[1]),
                errors=int(row[2] or 0),
            )
            for row in per_day
        ],
        services=[
            ServiceCount(
                service=str(row[0]),
                exchanges=int(row[1]),
                errors=int(row[2] or 0),
                mean_latency_ms=float(row[3] or 0) / 1000,
            )
            for row in per_service
        ],
    )
