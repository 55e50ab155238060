"""The working-day calendar for platform admins: the year's days off and make-up working days,
the government's decided days with their notices, and a form to add or remove one without a
restart (the same rows `tinhso calendar add|remove` writes). Every deadline of the platform is
counted on this calendar, so a missing year is shown loudly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from tinhso.core.calendar import (
    VIETNAM,
    DayKind,
    DecidedDay,
    decided_day_problems,
    load_calendar,
    remove_decided_day,
    save_decided_day,
)
from tinhso.core.errors import Forbidden, NotFound
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

router = APIRouter()


@dataclass
class DayForm:
    day: str = ""
    kind: str = DayKind.OFF.value
    reason: str = ""
    source: str = ""
    issuer: str = ""
    issued_on: str = ""
    url: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _require_platform_admin(principal: Principal) -> None:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng được sửa lịch làm việc",
            "Only platform administrators may change the working calendar",
        )


def _today() -> date:
    return datetime.now(VIETNAM).date()


def _parse_day(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()  # noqa: DTZ007 - a calendar day
    except ValueError:
        return None


def _context(session: Session, year: int, form: DayForm) -> dict[str, object]:
    calendar = load_calendar(session)
    decided = sorted(
        (row for row in calendar.decided.values() if row.day.year == year), key=lambda r: r.day
    )
    days_off = [
        (day, name)
        for day, name in calendar.days_off(date(year, 1, 1), date(year, 12, 31))
        if day not in calendar.decided
    ]
    today = _today()
    gap = calendar.coverage_gap(today)
    return {
        "year": year,
        "years": sorted({today.year - 1, today.year, today.year + 1, year}),
        "decided": decided,
        "statutory": days_off,
        "gap_year": gap.first_missing_year if gap else None,
        "decided_until": calendar.decided_until(),
        "form": form,
        "kinds": [
            (DayKind.OFF.value, _("Extra day off")),
            (DayKind.WORKING.value, _("Make-up working day")),
        ],
        "today": today,
    }


@router.get(
    "/admin/calendar",
    summary="The working calendar of a year and its decided days (platform admins)",
)
def calendar_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    _require_platform_admin(principal)
    chosen = year or _today().year
    return render(request, "admin/calendar.html", _context(session, chosen, DayForm()))


def _message(text_vi: str, text_en: str) -> str:
    return text_vi if current_locale.get() == "vi" else text_en


@router.post(
    "/admin/calendar",
    summary="Add or replace a decided day off or make-up working day (platform admins; CSRF)",
)
def add_day(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    day: Annotated[str, Form(max_length=10)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=600)] = "",
    source: Annotated[str, Form(max_length=600)] = "",
    issuer: Annotated[str, Form(max_length=300)] = "",
    issued_on: Annotated[str, Form(max_length=10)] = "",
    url: Annotated[str, Form(max_length=1100)] = "",
) -> Response:
    _require_platform_admin(principal)
    form = DayForm(
        day.strip(),
        kind,
        reason.strip(),
        source.strip(),
        issuer.strip(),
        issued_on.strip(),
        url.strip(),
    )
    parsed_day = _parse_day(form.day)
    parsed_issued = _parse_day(form.issued_on) if form.issued_on else None
    if parsed_day is None:
        form.errors["day"] = _("Write the day as dd/mm/yyyy.")
    if form.issued_on and parsed_issued is None:
        form.errors["issued_on"] = _("Write the day as dd/mm/yyyy.")
    if form.kind not in {k.value for k in DayKind}:
        form.errors["kind"] = _("Choose a kind of day from the list.")
    decided = DecidedDay(
        day=parsed_day or _today(),
        kind=DayKind(form.kind) if form.kind in {k.value for k in DayKind} else DayKind.OFF,
        reason=form.reason,
        source=form.source,
        issuer=form.issuer,
        issued_on=parsed_issued,
        url=form.url,
    )
    for problem in decided_day_problems(decided):
        if problem.field == "issued_on" and parsed_day is None:
            continue  # compared with a day that could not be read
        form.errors.setdefault(problem.field, _message(problem.message.vi, problem.message.en))
    if form.errors:
        year = parsed_day.year if parsed_day else _today().year
        return render(
            request, "admin/calendar.html", _context(session, year, form), status_code=422
        )
    save_decided_day(session, decided)
    session.commit()
    return RedirectResponse(f"/admin/calendar?year={decided.day.year}#decided", status_code=303)


@router.post(
    "/admin/calendar/remove",
    summary="Remove a decided day (platform admins; CSRF)",
)
def remove_day(
    session: DbSession,
    principal: PortalUser,
    day: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    _require_platform_admin(principal)
    parsed = _parse_day(day)
    if parsed is None or not remove_decided_day(session, parsed):
        raise NotFound(
            f"Không có ngày {day[:10]} trong lịch đã quyết định",
            f"No decided day {day[:10]} in the calendar",
            field="day",
        )
    session.commit()
    return RedirectResponse(f"/admin/calendar?year={parsed.year}#decided", status_code=303)
