"""The filters of Open311's ``requests`` list, read from the query string and refused with
Open311's errors when they cannot be read one way, and the reports they select."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.reports.models import Report, ReportCategory, ReportState
from tinhso.reports.open311.documents import Open311Error

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request

    from tinhso.core.config import Settings


def w3c_moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400,
            f"{name}: “{value}” không phải thời điểm W3C (ví dụ 2026-01-01T00:00:00Z)",
            f"{name}: “{value}” is not a W3C datetime (e.g. 2026-01-01T00:00:00Z)",
        ) from None
    if moment.tzinfo is None:
        raise Open311Error(
            400,
            f"{name}: cần múi giờ (ví dụ 2026-01-01T00:00:00+07:00)",
            f"{name}: a time zone is needed (e.g. 2026-01-01T00:00:00+07:00)",
        )
    return moment


def positive(value: str | None, name: str, default: int, most: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise Open311Error(
            400, f"{name} phải là số nguyên từ 1 đến {most}", f"{name} must be 1 to {most}"
        )
    return int(value)


@dataclass(frozen=True)
class Filters:
    ids: list[str] | None
    codes: list[str] | None
    statuses: set[str] | None
    start: datetime
    end: datetime
    page: int
    page_size: int


def filters_of(request: Request, settings: Settings) -> Filters:
    params = request.query_params
    section = settings.reports
    ids = [part.strip() for part in params.get("service_request_id", "").split(",") if part.strip()]
    codes = [part.strip() for part in params.get("service_code", "").split(",") if part.strip()]
    statuses = {part.strip() for part in params.get("status", "").split(",") if part.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status chỉ là open hoặc closed", "status is open or closed")
    end = w3c_moment(params.get("end_date"), "end_date") or utcnow()
    start = w3c_moment(params.get("start_date"), "start_date") or end - timedelta(
        days=section.open311_default_days
    )
    if end < start:
        raise Open311Error(400, "end_date trước start_date", "end_date is before start_date")
    if end - start > timedelta(days=section.open311_default_days):
        days = section.open311_default_days
        raise Open311Error(
            400,
            f"Khoảng thời gian không được quá {days} ngày",
            f"The date range may not span more than {days} days",
        )
    most = section.open311_max_requests
    return Filters(
        ids or None,
        codes or None,
        statuses or None,
        start,
        end,
        positive(params.get("page"), "page", 1, 1_000_000),
        positive(params.get("page_size"), "page_size", most, most),
    )


def matching(session: Session, filters: Filters) -> list[Report]:
    query = (
        select(Report)
        .where(Report.hidden.is_(False))
        .order_by(Report.created_at.desc(), Report.id.desc())
    )
    if filters.ids is not None:  # overrides every other filter, as the specification says
        query = query.where(Report.code.in_(filters.ids[:1000]))
    else:
        query = query.where(Report.created_at >= filters.start, Report.created_at <= filters.end)
        if filters.codes is not None:
            category_ids = select(ReportCategory.id).where(ReportCategory.code.in_(filters.codes))
            query = query.where(Report.category_id.in_(category_ids))
        if filters.statuses is not None and len(filters.statuses) == 1:
            closed = [ReportState.REFUSED, ReportState.RESOLVED, ReportState.DUPLICATE]
            wanted = Report.state.in_(closed)
            query = query.where(wanted if "closed" in filters.statuses else ~wanted)
    offset = (filters.page - 1) * filters.page_size
    return list(session.scalars(query.offset(offset).limit(filters.page_size)))
