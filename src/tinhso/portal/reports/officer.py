"""Officers' pages: their organisations' queue sorted by deadline, one report with every
action its state allows, and the monthly statistics (public, as provinces publish them) with
their XLSX. Acting follows the same rules as the API (``ReportService.act``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from openpyxl import Workbook
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from tinhso.core.calendar import VIETNAM, load_calendar, office_hours
from tinhso.core.errors import DomainError, Forbidden, InvalidInput
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.text import for_xlsx, neutralise_formula
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.portal.reports.citizen import say, say_category, track_context
from tinhso.portal.reports.questions import answered
from tinhso.registry.auth import administered_organisation_ids, can_administer
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service
from tinhso.reports.auth import require_reader
from tinhso.reports.figures.statistics import MonthRow, monthly
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import CLOSED_STATES, STATE_NAMES, TRANSITIONS, Action
from tinhso.reports.media.videos import videos_of
from tinhso.reports.models import Report
from tinhso.reports.service import Step, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

router = APIRouter()
QUEUE_SIZE = 200


def _member_organisations(session: Session, principal: Principal) -> list[Any]:
    """The organisations whose reports the official reads: their own, and every one below an
    organisation they administer (platform admins: all), in two queries at most."""
    organisations = organisation_service.list_all(session)
    administered = administered_organisation_ids(session, principal)
    if administered is None:
        return organisations
    readable = administered | set(principal.roles)
    return [o for o in organisations if o.id in readable]


@router.get("/reports/queue", summary="An organisation's field reports by deadline (its members)")
def queue(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    organisation: Annotated[str, Query(max_length=64)] = "",
    state: Annotated[str, Query(max_length=16)] = "open",
) -> Response:
    choices = _member_organisations(session, principal)
    if not choices and not principal.is_platform_admin:
        raise Forbidden(
            "Bạn không thuộc đơn vị nào xử lý phản ánh",
            "You are not an official of any organisation that handles reports",
        )
    chosen = next((o for o in choices if o.code == organisation), None)
    if organisation and chosen is None:
        raise Forbidden(
            f"Bạn không xem được phản ánh của đơn vị {organisation}",
            f"You may not read the reports of {organisation}",
        )
    triage = organisation == "" and principal.is_platform_admin
    query = select(Report)
    if chosen is not None:
        require_reader(session, principal, chosen.id)
        query = query.where(Report.organisation_id == chosen.id)
    elif triage:
        query = query.where(Report.organisation_id.is_(None))
    else:
        chosen = choices[0]
        query = query.where(Report.organisation_id == chosen.id)
    closed = Report.state.in_(list(CLOSED_STATES))
    query = query.where(~closed if state == "open" else closed)
    reports = list(
        session.scalars(query.order_by(Report.accept_due_at, Report.id).limit(QUEUE_SIZE))
    )
    categories = {c.id: c for c in report_service.categories(session, active_only=False)}
    reports.sort(
        key=lambda r: (r.resolve_due_at or r.accept_due_at) if r.accepted_at else r.accept_due_at
    )
    rows = [
        {
            "report": r,
            "category": say_category(categories[r.category_id]),
            "state": say(STATE_NAMES[r.state]),
            "due": r.resolve_due_at if r.accepted_at else r.accept_due_at,
            "late": report_service.is_late(r),
        }
        for r in reports
    ]
    return render(
        request,
        "reports/queue.html",
        {
            "rows": rows,
            "choices": choices,
            "chosen": chosen,
            "triage": triage,
            "state": state,
            "bulk_actions": [(a.value, say(TRANSITIONS[a].name)) for a in BULK_ACTIONS],
            "organisations": [(o.code, o.name_vi) for o in organisation_service.list_all(session)],
        },
    )


BULK_ACTIONS = (Action.ACCEPT, Action.REFUSE, Action.REROUTE)


@router.post("/reports/queue/bulk", summary="One action on several reports (officers, CSRF)")
def bulk(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    codes: Annotated[list[str] | None, Form(alias="code")] = None,
    action: Annotated[str, Form(max_length=24)] = "",
    note: Annotated[str, Form(max_length=8000)] = "",
    organisation_code: Annotated[str, Form(max_length=64)] = "",
    back: Annotated[str, Form(max_length=300)] = "/reports/queue",
) -> Response:
    """All or nothing: when one report cannot take the action, none is changed and the page
    says which one and why."""
    chosen = [code.strip() for code in (codes or []) if code.strip()][:QUEUE_SIZE]
    target = back if back.startswith("/reports/queue") else "/reports/queue"
    settings = request.app.state.settings
    try:
        step_action = Action(action)
        if step_action not in BULK_ACTIONS or not chosen:
            raise ValueError(action)
    except ValueError:
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}bulk=none", 303)
    calendar = load_calendar(session, office_hours(settings))
    policy = DeadlinePolicy.from_settings(settings.reports)
    for code in chosen:
        try:
            report_service.act(
                session,
                principal,
                code,
                Step(step_action, note, organisation_code=organisation_code or None),
                calendar,
                policy,
            )
        except DomainError as error:
            session.rollback()
            if isinstance(error, Forbidden):
                raise
            raise InvalidInput(
                f"{code}: {error.message.vi} — không phản ánh nào được thay đổi",
                f"{code}: {error.message.en} — no report was changed",
                field="code",
            ) from error
    session.commit()
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}bulk={len(chosen)}", 303)


def _allowed_actions(report: Report) -> list[tuple[str, str, bool]]:
    """(action, its name, needs a note) for the actions the report's state allows."""
    found = []
    for action, transition in TRANSITIONS.items():
        if report.state not in transition.sources:
            continue
        if action is Action.EXTEND and report.extended:
            continue
        if report.organisation_id is None and action not in (
            Action.REROUTE,
            Action.REFUSE,
            Action.MARK_DUPLICATE,
        ):
            continue
        found.append((action.value, say(transition.name), transition.needs_note))
    return found


def handle_page(
    request: Request,
    session: Session,
    principal: Principal,
    report: Report,
    error: str = "",
    status: int = 200,
) -> Response:
    require_reader(session, principal, report.organisation_id)
    context = track_context(session, report)
    context["events"] = [(event, name) for event, name in _all_events(session, report)]
    context["videos"] = videos_of(session, report, released_only=False)
    context.update(
        may_moderate=principal.is_platform_admin
        or (
            report.organisation_id is not None
            and can_administer(session, principal, report.organisation_id)
        ),
        actions=_allowed_actions(report),
        answers=answered(
            report_service.category_by_id(session, report.category_id), report.attributes
        ),
        organisations=[(o.code, o.name_vi) for o in organisation_service.list_all(session)],
        error=error,
    )
    return render(request, "reports/handle.html", context, status_code=status)


def _all_events(session: Session, report: Report) -> list[tuple[Any, str]]:
    from tinhso.reports.handling.states import EVENT_NAMES  # noqa: PLC0415

    return [
        (event, say(EVENT_NAMES.get(event.action, STATE_NAMES[event.to_state])))
        for event in report_service.timeline(session, report, public_only=False)
    ]


@router.get(
    "/reports/{code}/handle", summary="Handle one field report (its organisation's members)"
)
def handle(request: Request, session: DbSession, principal: PortalUser, code: str) -> Response:
    return handle_page(request, session, principal, report_service.get(session, code))


@router.post("/reports/{code}/handle", summary="Act on a field report (officers, CSRF-checked)")
def act(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str,
    action: Annotated[str, Form(max_length=24)] = "",
    note: Annotated[str, Form(max_length=8000)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
    organisation_code: Annotated[str, Form(max_length=64)] = "",
    duplicate_of: Annotated[str, Form(max_length=32)] = "",
    extra_working_days: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    report = report_service.get(session, code)
    settings = request.app.state.settings
    try:
        step = Step(
            Action(action),
            note,
            assignee or None,
            organisation_code or None,
            duplicate_of.strip().upper() or None,
            int(extra_working_days) if extra_working_days.isdigit() else None,
        )
    except ValueError:
        return handle_page(request, session, principal, report, _("Choose an action."), 422)
    try:
        report_service.act(
            session,
            principal,
            code,
            step,
            load_calendar(session, office_hours(settings)),
            DeadlinePolicy.from_settings(settings.reports),
        )
    except DomainError as error:
        session.rollback()
        session.refresh(report)
        if isinstance(error, Forbidden):
            raise
        detail = "; ".join(say(p.message) for p in error.errors) or say(error.message)
        return handle_page(request, session, principal, report, detail, error.status)
    session.commit()
    return RedirectResponse(f"/reports/{code}/handle", status_code=303)


# -- statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsQuery:
    month: date
    by_unit: bool
    error: str = ""


def _statistics_query(month: str, by: str) -> StatisticsQuery:
    today = datetime.now(VIETNAM).date()
    this_month = date(today.year, today.month, 1)
    by_unit = by == "unit"
    if not month:
        return StatisticsQuery(this_month, by_unit)
    try:
        chosen = datetime.strptime(month.strip(), "%m/%Y").replace(tzinfo=VIETNAM).date()
    except ValueError:
        return StatisticsQuery(
            this_month, by_unit, _("The month must be written mm/yyyy, for example 11/2026.")
        )
    return StatisticsQuery(chosen, by_unit)


def _statistics_rows(session: Session, query: StatisticsQuery) -> list[dict[str, Any]]:
    rows = monthly(session, query.month, by_unit=query.by_unit)
    keys = {r.key for r in rows if r.key is not None}
    if query.by_unit:
        units = unit_service.nodes(session, keys)
        names = {key: node.name for key, node in units.items()}
        missing = _("No unit given")
    else:
        organisations = organisation_service.by_ids(session, keys)
        names = {key: organisation.name_vi for key, organisation in organisations.items()}
        missing = _("Operations centre (triage)")
    return [{"name": names.get(r.key, missing) if r.key else missing, "row": r} for r in rows]


def _headers(by_unit: bool) -> list[str]:
    return [
        _("Unit") if by_unit else _("Organisation"),
        _("Received"),
        _("Handled"),
        _("On time"),
        _("Late"),
        _("Share on time"),
        _("Share satisfied"),
    ]


def _figures(row: MonthRow) -> list[float | int | None]:
    def share(value: float | None) -> float | None:
        return round(value, 1) if value is not None else None

    return [
        row.received,
        row.handled,
        row.on_time,
        row.late,
        share(row.on_time_percent),
        share(row.satisfaction_percent),
    ]


@router.get("/reports/statistics", summary="Monthly field report statistics (public)")
def statistics(
    request: Request,
    session: DbSession,
    month: Annotated[str, Query(max_length=7)] = "",
    by: Annotated[str, Query(max_length=16)] = "organisation",
) -> Response:
    query = _statistics_query(month, by)
    return render(
        request,
        "reports/statistics.html",
        {
            "rows": [] if query.error else _statistics_rows(session, query),
            "month": query.month,
            "by_unit": query.by_unit,
            "error": query.error,
            "typed": month,
        },
        status_code=422 if query.error else 200,
    )


def _export_query(month: str, by: str) -> StatisticsQuery:
    query = _statistics_query(month, by)
    if query.error:
        raise InvalidInput(
            "Tháng phải viết dạng mm/yyyy, ví dụ 11/2026",
            "The month must be written mm/yyyy, for example 11/2026",
            field="month",
        )
    return query


@router.get("/reports/statistics.xlsx", summary="Monthly field report statistics as XLSX (public)")
def statistics_xlsx(
    request: Request,
    session: DbSession,
    month: Annotated[str, Query(max_length=7)] = "",
    by: Annotated[str, Query(max_length=16)] = "organisation",
) -> Response:
    query = _export_query(month, by)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has its sheet
    sheet.title = f"{query.month:%m-%Y}"
    sheet.append(_headers(query.by_unit))
    for item in _statistics_rows(session, query):
        sheet.append([for_xlsx(neutralise_formula(item["name"])), *_figures(item["row"])])
    output = io.BytesIO()
    book.save(output)
    return Response(
        output.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="phan-anh-{query.month:%Y-%m}.xlsx"'
        },
    )


@router.get("/reports/statistics.csv", summary="Monthly field report statistics as CSV (public)")
def statistics_csv(
    request: Request,
    session: DbSession,
    month: Annotated[str, Query(max_length=7)] = "",
    by: Annotated[str, Query(max_length=16)] = "organisation",
) -> Response:
    """UTF-8 with a BOM; on Vietnamese pages ``;``-separated with decimal commas (as a
    Vietnamese spreadsheet opens it), on English ones ``,`` and decimal points."""
    query = _export_query(month, by)
    vietnamese = current_locale.get() == "vi"
    output = io.StringIO()
    writer = csv.writer(output, delimiter=";" if vietnamese else ",", lineterminator="\r\n")
    writer.writerow(_headers(query.by_unit))
    for item in _statistics_rows(session, query):
        figures = [
            ("" if value is None else str(value).replace(".", ",") if vietnamese else str(value))
            for value in _figures(item["row"])
        ]
        writer.writerow([neutralise_formula(item["name"]), *figures])
    return Response(
        ("\ufeff" + output.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="phan-anh-{query.month:%Y-%m}.csv"'},
    )
