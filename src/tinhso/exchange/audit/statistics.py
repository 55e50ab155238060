"""Exchange statistics from the audit log: exchanges per day and per service, error rates.

Counted in SQL over ``exchange_audit_record`` (indexed on ``recorded_at`` and
``(service, recorded_at)``); days are Vietnamese calendar days (UTC+7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, and_, case, cast, func, literal_column, or_, select

from tinhso.core.db import utcnow
from tinhso.exchange.models import AuditRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import ColumnElement
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


def _of_organisations(codes: Sequence[str]) -> ColumnElement[bool]:
    """Records where a system of one of these organisations called, or provided the service
    (``consumer`` is "org/system", ``service`` "org/system/service/version")."""
    conditions: list[ColumnElement[bool]] = []
    for code in codes:
        conditions.append(AuditRecord.consumer.startswith(code + "/", autoescape=True))
        conditions.append(AuditRecord.service.startswith(code + "/", autoescape=True))
    return or_(*conditions) if conditions else AuditRecord.seq < 0


def exchange_statistics(
    session: Session, days: int = 30, organisations: Sequence[str] | None = None
) -> ExchangeStatistics:
    """Exchanges and errors (HTTP status ≥ 400, refusals included) over the last ``days`` days;
    with ``organisations`` (codes), only those where one of them called or provided."""
    start = utcnow() - timedelta(days=days)
    window = AuditRecord.recorded_at >= start
    if organisations is not None:
        window = and_(window, _of_organisations(organisations))
    failed = func.sum(case((AuditRecord.status >= 400, 1), else_=0))
    day = _local_day(session).label("day")
    per_day = session.execute(
        select(day, func.count(), failed).where(window).group_by(day).order_by(day)
    )
    service = func.coalesce(AuditRecord.service, literal_column("''")).label("service")
    per_service = session.execute(
        select(service, func.count(), failed, func.avg(AuditRecord.latency_us))
        .where(window)
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
