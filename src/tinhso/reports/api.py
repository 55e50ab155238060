"""The officers' and operators' reports API under ``/api/v1``.

- ``GET /reports?organisation=``: an organisation's queue, by deadline (its members).
- ``GET /reports/{code}`` and ``POST /reports/{code}/actions``: one report with its whole
  timeline and reporter contact, and an officer's action (``tinhso.reports.auth``).
- ``POST /reports/{code}/rating`` and ``/reopen``: the reporter, with the key they were given.
- ``/report-keys``, ``/report-categories`` and ``PUT /report-routes``: platform administrators
  (the operators).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from sqlalchemy import select

from tinhso.core.calendar import load_calendar, office_hours
from tinhso.core.errors import InvalidInput
from tinhso.core.web import DbSession
from tinhso.registry.auth import CurrentUser, PlatformAdmin
from tinhso.registry.models import UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service
from tinhso.reports.auth import require_reader
from tinhso.reports.handling import categories, routing
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Report, ReportApiKey, ReportCategory, ReportState
from tinhso.reports.open311 import keys
from tinhso.reports.schemas import (
    ApiKeyIn,
    ApiKeyOut,
    CategoryCreate,
    CategoryIn,
    CategoryOut,
    EventOut,
    RatingIn,
    ReopenIn,
    ReportOut,
    RouteIn,
    StepIn,
)
from tinhso.reports.service import Step, report_service

router = APIRouter(prefix="/api/v1", tags=["reports"])


def _outs(session: DbSession, reports: list[Report]) -> list[ReportOut]:
    """The reports with their timelines, in five queries however many there are."""
    categories = {c.id: c.code for c in report_service.categories(session, active_only=False)}
    organisations = organisation_service.codes(
        session, {r.organisation_id for r in reports if r.organisation_id is not None}
    )
    units = unit_service.nodes(session, {r.unit_id for r in reports if r.unit_id is not None})
    timelines = report_service.timelines(session, [r.id for r in reports])
    return [
        ReportOut(
            code=report.code,
            category_code=categories[report.category_id],
            description=report.description,
            state=report.state,
            severity=report.severity,
            channel=report.channel,
            organisation_code=organisations.get(report.organisation_id)
            if report.organisation_id is not None
            else None,
            unit_code=units[report.unit_id].code if report.unit_id in units else None,
            latitude=report.latitude,
            longitude=report.longitude,
            address=report.address,
            attributes=report.attributes,
            reporter_name=report.reporter_name,
            reporter_email=report.reporter_email,
            reporter_phone=report.reporter_phone,
            created_at=report.created_at,
            accept_due_at=report.accept_due_at,
            resolve_due_at=report.resolve_due_at,
            accepted_at=report.accepted_at,
            closed_at=report.closed_at,
            late=report_service.is_late(report),
            extended=report.extended,
            answer=report.answer,
            rating=report.rating,
            timeline=[
                EventOut(
                    at=event.at,
                    action=event.action,
                    from_state=event.from_state,
                    to_state=event.to_state,
                    actor=event.actor_label,
                    note=event.note,
                    public=event.public,
                )
                for event in timelines.get(report.id, [])
            ],
        )
        for report in reports
    ]


def _out(request: Request, session: DbSession, report: Report) -> ReportOut:
    return _outs(session, [report])[0]


@router.get("/reports", summary="Phản ánh của một đơn vị / An organisation's report queue")
def queue(
    request: Request,
    session: DbSession,
    principal: CurrentUser,
    organisation: Annotated[str, Query(min_length=1, max_length=64)],
    state: ReportState | None = None,
) -> list[ReportOut]:
    owner = organisation_service.get(session, organisation)
    require_reader(session, principal, owner.id)
    query = select(Report).where(Report.organisation_id == owner.id)
    if state is not None:
        query = query.where(Report.state == state)
    query = query.order_by(Report.accept_due_at, Report.id).limit(500)
    return _outs(session, list(session.scalars(query)))


@router.get("/reports/{code}", summary="Một phản ánh và diễn biến / One report and its timeline")
def show(request: Request, session: DbSession, principal: CurrentUser, code: str) -> ReportOut:
    report = report_service.get(session, code)
    require_reader(session, principal, report.organisation_id)
    return _out(request, session, report)


@router.post(
    "/reports/{code}/actions",
    summary="Xử lý phản ánh / Act on a report (accept, refuse, assign, answer...)",
)
def act(
    request: Request, session: DbSession, principal: CurrentUser, code: str, body: StepIn
) -> ReportOut:
    settings = request.app.state.settings
    calendar = load_calendar(session, office_hours(settings))
    policy = DeadlinePolicy.from_settings(settings.reports)
    report = report_service.act(
        session, principal, code, Step(**body.model_dump()), calendar, policy
    )
    return _out(request, session, report)


@router.post("/reports/{code}/rating", summary="Người phản ánh đánh giá / The reporter rates")
def rate(request: Request, session: DbSession, code: str, body: RatingIn) -> dict[str, str]:
    report = report_service.rate(session, code, body.key, body.rating, body.comment)
    return {"code": report.code, "rating": body.rating.value}


@router.post("/reports/{code}/reopen", summary="Người phản ánh mở lại / The reporter reopens")
def reopen(request: Request, session: DbSession, code: str, body: ReopenIn) -> dict[str, str]:
    settings = request.app.state.settings
    calendar = load_calendar(session, office_hours(settings))
    policy = DeadlinePolicy.from_settings(settings.reports)
    report = report_service.reopen(session, code, body.key, body.reason, calendar, policy)
    return {"code": report.code, "state": report.state.value}


def _key_out(record: ReportApiKey, key: str | None = None) -> ApiKeyOut:
    return ApiKeyOut(
        id=record.id,
        name=record.name,
        prefix=record.prefix,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
        last_used_at=record.last_used_at,
        key=key,
    )


@router.get("/report-keys", summary="Khoá Open311 / Open311 API keys (operators)")
def list_keys(session: DbSession, _: PlatformAdmin) -> list[ApiKeyOut]:
    return [_key_out(record) for record in keys.listed(session)]


@router.post(
    "/report-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Cấp khoá Open311 / Issue an Open311 API key (shown once)",
)
def issue_key(session: DbSession, _: PlatformAdmin, body: ApiKeyIn) -> ApiKeyOut:
    issued = keys.issue(session, body.name)
    return _key_out(issued.record, issued.key)


@router.delete("/report-keys/{key_id}", summary="Thu hồi khoá Open311 / Revoke an Open311 key")
def revoke_key(session: DbSession, _: PlatformAdmin, key_id: int) -> ApiKeyOut:
    return _key_out(keys.revoke(session, key_id))


@router.put("/report-routes", summary="Phân luồng phản ánh / Route a category in a unit")
def put_route(session: DbSession, _: PlatformAdmin, body: RouteIn) -> dict[str, str | None]:
    category = (
        report_service.category(session, body.category_code, "category_code")
        if body.category_code
        else None
    )
    unit = (
        unit_service.resolve(
            session, UnitRef(unit_set=UnitSet.CURRENT, code=body.unit_code), "unit_code"
        )
        if body.unit_code
        else None
    )
    if category is None and unit is None:
        raise InvalidInput(
            "Cần loại phản ánh hoặc đơn vị hành chính (hoặc cả hai)",
            "A category or an administrative unit (or both) is needed",
            field="category_code",
        )
    organisation = organisation_service.get(session, body.organisation_code)
    routing.set_route(
        session, category.id if category else None, unit.id if unit else None, organisation.id
    )
    return {
        "category_code": body.category_code,
        "unit_code": body.unit_code,
        "organisation_code": organisation.code,
    }


def _category_out(category: ReportCategory) -> CategoryOut:
    return CategoryOut(
        code=category.code,
        name_vi=category.name_vi,
        name_en=category.name_en,
        severity=category.severity,
        description_vi=category.description_vi,
        description_en=category.description_en,
        group_vi=category.group_vi,
        keywords=category.keywords,
        duplicate_radius_m=category.duplicate_radius_m,
        active=category.active,
        attributes=category.attributes,
    )


def _draft(body: CategoryIn) -> categories.CategoryDraft:
    fields = body.model_dump(exclude={"code"})
    return categories.CategoryDraft(**fields)


@router.get(
    "/report-categories", summary="Loại phản ánh / Report categories, retired ones included"
)
def list_categories(session: DbSession, _: PlatformAdmin) -> list[CategoryOut]:
    return [_category_out(category) for category in categories.listed(session)]


@router.post(
    "/report-categories",
    status_code=status.HTTP_201_CREATED,
    summary="Thêm loại phản ánh / Create a report category",
)
def create_category(session: DbSession, _: PlatformAdmin, body: CategoryCreate) -> CategoryOut:
    return _category_out(categories.create(session, body.code, _draft(body)))


@router.put(
    "/report-categories/{code}",
    summary="Sửa hoặc ngừng loại phản ánh / Change or retire a report category",
)
def change_category(
    session: DbSession,
    _: PlatformAdmin,
    code: Annotated[str, Path(max_length=64)],
    body: CategoryIn,
) -> CategoryOut:
    return _category_out(categories.change(session, code, _draft(body)))
