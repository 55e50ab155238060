"""The reporting grid: one unit, one period, every data element of that period's type, with
the previous period's value beside each, saved all at once (all or nothing), then submitted
to the unit above, which approves it or sends it back with a comment
(``tinhso.monitoring.submissions``). A province officer can also fill the grid of a commune
under them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden, InvalidInput, Message
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.monitoring import repository, submissions
from tinhso.monitoring.auth import value_writer
from tinhso.monitoring.models import PeriodType, SubmissionState, ValueSource
from tinhso.monitoring.periods import Period, parse_period
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.transfer.formats import parse_number
from tinhso.monitoring.values.checks import today_in_vietnam
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import localised
from tinhso.portal.monitoring.entry import allowed_units, unit_key
from tinhso.portal.rendering import number, render
from tinhso.portal.workbooks import download, table_workbook
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import DataElement
    from tinhso.registry.auth import Principal

router = APIRouter()

STATE_NAMES = {
    SubmissionState.SUBMITTED: Message("Đã gửi, chờ duyệt", "Submitted, awaiting review"),
    SubmissionState.APPROVED: Message("Đã duyệt", "Approved"),
    SubmissionState.RETURNED: Message("Trả lại để sửa", "Sent back for correction"),
}


def _say(message: Message) -> str:
    return message.vi if current_locale.get() == "vi" else message.en


def _previous(period: Period) -> Period:
    if period.type is PeriodType.YEAR:
        return Period(period.year - 1, 0, period.type)
    last = 12 if period.type is PeriodType.MONTH else 4
    if period.index == 1:
        return Period(period.year - 1, last, period.type)
    return Period(period.year, period.index - 1, period.type)


def _default_period() -> str:
    today = today_in_vietnam()
    last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    return f"{last:%Y-%m}"


@dataclass
class Grid:
    unit: str = ""
    period: str = ""
    typed: dict[str, str] = field(default_factory=dict)  # element code -> what was typed
    errors: dict[str, str] = field(default_factory=dict)  # element code or "unit"/"period"
    message: str = ""


@dataclass
class Cell:
    unit_id: int
    ref: UnitRef
    period: Period


def _cell(session: Session, principal: Principal, grid: Grid) -> Cell | None:
    choices = {unit_key(u): u for u in allowed_units(session, principal)}
    chosen = choices.get(grid.unit)
    if chosen is None:
        if grid.unit:
            grid.errors["unit"] = _("Choose an administrative unit from the list.")
        return None
    try:
        period = parse_period(grid.period)
    except DomainError:
        grid.errors["period"] = _("Write the period like 2025, 2025-Q3 or 2025-07.")
        return None
    return Cell(chosen.id, UnitRef(unit_set=chosen.unit_set, code=chosen.code), period)


def _elements(session: Session, period: Period) -> list[DataElement]:
    return [e for e in catalogue.elements(session) if e.period_type is period.type]


def _page(
    request: Request, session: Session, principal: Principal, grid: Grid, status: int = 200
) -> Response:
    cell = _cell(session, principal, grid) if grid.unit else None
    rows: list[dict[str, Any]] = []
    submission = None
    reviewer = False
    if cell is not None:
        elements = _elements(session, cell.period)
        previous = _previous(cell.period).code
        stored = repository.values_at(
            session,
            [(e.id, cell.unit_id, p) for e in elements for p in (cell.period.code, previous)],
        )
        for element in elements:
            now = stored.get((element.id, cell.unit_id, cell.period.code))
            before = stored.get((element.id, cell.unit_id, previous))
            rows.append(
                {
                    "element": element,
                    "name": localised(element.name_vi, element.name_en),
                    "measure": localised(element.unit_of_measure, element.unit_of_measure_en),
                    "previous": number(before.value) if before else "",
                    "value": grid.typed.get(element.code, number(now.value) if now else ""),
                    "error": grid.errors.get(element.code, ""),
                }
            )
        submission = submissions.submission_of(session, cell.unit_id, cell.period.code)
        reviewer = submissions.may_review(session, principal, cell.unit_id)
    locked = submission is not None and submission.state in submissions.LOCKING
    return render(
        request,
        "monitoring/grid.html",
        {
            "grid": grid,
            "units": [(unit_key(u), u) for u in allowed_units(session, principal)],
            "cell": cell,
            "rows": rows,
            "submission": submission,
            "state": _say(STATE_NAMES[submission.state]) if submission else _("Draft"),
            "locked": locked,
            "may_review": reviewer
            and submission is not None
            and submission.state is SubmissionState.SUBMITTED,
            "unit_set_label": {"current": _("current"), "legacy": _("legacy")},
        },
        status_code=status,
    )


@router.get("/monitoring/grid", summary="Reporting grid for one unit and period (officers)")
def grid_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    unit: Annotated[str, Query(max_length=40)] = "",
    period: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    grid = Grid(unit=unit, period=period or _default_period())
    if not grid.unit:
        units = allowed_units(session, principal)
        if not units:
            raise Forbidden(
                "Bạn không được nhập số liệu cho đơn vị nào",
                "You may not enter values for any unit",
            )
        grid.unit = unit_key(units[0])
    answer = _page(request, session, principal, grid)
    if grid.errors:
        answer.status_code = 422
    return answer


def _location(grid: Grid, done: str) -> str:
    return f"/monitoring/grid?unit={grid.unit}&period={grid.period}&done={done}"


@router.post("/monitoring/grid", summary="Save the grid, all or nothing (officers; CSRF)")
async def save_grid(request: Request, session: DbSession, principal: PortalUser) -> Response:
    form = await request.form(max_fields=2000, max_files=0)
    grid = Grid(unit=str(form.get("unit", ""))[:40], period=str(form.get("period", ""))[:20])
    cell = _cell(session, principal, grid)
    if cell is None:
        return _page(request, session, principal, grid, 422)
    declared = NumberFormat.VI if current_locale.get() == "vi" else NumberFormat.EN
    items: list[ValueIn] = []
    codes: list[str] = []
    for element in _elements(session, cell.period):
        typed = str(form.get(f"value:{element.code}", "")).strip()[:60]
        grid.typed[element.code] = typed
        if not typed:
            continue
        reading = parse_number(typed, declared)
        if reading is None:
            grid.errors[element.code] = _("“%(value)s” is not a number.") % {"value": typed}
            continue
        try:
            items.append(
                ValueIn(
                    element_code=element.code,
                    unit=cell.ref,
                    period=cell.period.code,
                    value=reading.value,
                    source=ValueSource.FORM,
                )
            )
        except ValidationError:
            grid.errors[element.code] = _("This value is not valid.")
            continue
        codes.append(element.code)
    if not grid.errors and items:
        try:
            value_service.record_many(
                session,
                items,
                Provenance(entered_by_id=principal.user_id, source=ValueSource.FORM),
                authorise=value_writer(session, principal),
            )
        except DomainError as error:
            session.rollback()
            if isinstance(error, Forbidden):
                raise
            for problem in error.errors:
                parts = problem.field.split(".")
                position = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
                code = codes[position] if 0 <= position < len(codes) else "period"
                grid.errors.setdefault(code, _say(problem.message))
            if not error.errors:
                grid.errors["period"] = _say(error.message)
    if grid.errors:
        session.rollback()
        grid.message = _("Nothing was saved. Please correct the values marked below.")
        return _page(request, session, principal, grid, 422)
    session.commit()
    return RedirectResponse(_location(grid, "saved"), status_code=303)


@router.post(
    "/monitoring/grid/submit", summary="Submit the grid to the unit above (officers; CSRF)"
)
def submit_grid(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    unit: Annotated[str, Form(max_length=40)] = "",
    period: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    grid = Grid(unit=unit, period=period)
    cell = _cell(session, principal, grid)
    if cell is None:
        return _page(request, session, principal, grid, 422)
    try:
        submissions.submit(session, principal, cell.unit_id, cell.period.code)
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            raise
        grid.message = _say(error.message)
        return _page(request, session, principal, grid, error.status)
    session.commit()
    return RedirectResponse(_location(grid, "submitted"), status_code=303)


@router.post(
    "/monitoring/grid/review",
    summary="Approve a submitted grid or send it back with a comment (the unit above; CSRF)",
)
def review_grid(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    unit: Annotated[str, Form(max_length=40)] = "",
    period: Annotated[str, Form(max_length=20)] = "",
    decision: Annotated[str, Form(max_length=10)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    grid = Grid(unit=unit, period=period)
    cell = _cell(session, principal, grid)
    if cell is None:
        return _page(request, session, principal, grid, 422)
    try:
        submissions.review(
            session,
            principal,
            cell.unit_id,
            cell.period.code,
            approve=decision == "approve",
            comment=comment,
        )
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            raise
        grid.message = _say(error.message)
        return _page(request, session, principal, grid, error.status)
    session.commit()
    return RedirectResponse(_location(grid, decision), status_code=303)


def _reporting_rows(
    session: Session, principal: Principal, unit: str, period: str
) -> tuple[Grid, Any, list[dict[str, Any]], list[Any]]:
    """The reporting calendar of one unit's children (or of the unit itself when it has none):
    how many of the period's elements each has filled, and its report's state."""
    choices = allowed_units(session, principal)
    if not choices:
        raise Forbidden(
            "Bạn không được nhập số liệu cho đơn vị nào", "You may not enter values for any unit"
        )
    grid = Grid(unit=unit or unit_key(choices[0]), period=period or _default_period())
    cell = _cell(session, principal, grid)
    rows: list[dict[str, Any]] = []
    if cell is not None:
        subtree = catalogue.unit_subtrees(session, [cell.unit_id]).get(cell.unit_id, [])
        children = [u for u in subtree if u.depth == 1] or [u for u in subtree if u.depth == 0]
        elements = [e.id for e in _elements(session, cell.period)]
        statuses = {
            s.unit_id: s
            for s in submissions.reporting_status(
                session, [u.id for u in children], cell.period.code, elements
            )
        }
        for child in children:
            found = statuses[child.id]
            rows.append(
                {
                    "unit": child,
                    "key": unit_key(child),
                    "filled": found.filled,
                    "expected": found.expected,
                    "state": _say(STATE_NAMES[found.state]) if found.state else _("Draft"),
                    "done": found.state is SubmissionState.APPROVED,
                    "late": found.state is None and found.filled < found.expected,
                }
            )
    return grid, cell, rows, choices


UnitQuery = Annotated[str, Query(max_length=40)]
PeriodQuery = Annotated[str, Query(max_length=20)]


@router.get(
    "/monitoring/reporting",
    summary="Which units below have filled and submitted a period's report (officers)",
)
def reporting(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    unit: UnitQuery = "",
    period: PeriodQuery = "",
) -> Response:
    grid, cell, rows, choices = _reporting_rows(session, principal, unit, period)
    return render(
        request,
        "monitoring/reporting.html",
        {
            "grid": grid,
            "cell": cell,
            "rows": rows,
            "units": [(unit_key(u), u) for u in choices],
            "unit_set_label": {"current": _("current"), "legacy": _("legacy")},
        },
        status_code=422 if grid.errors else 200,
    )


@router.get(
    "/monitoring/reporting.xlsx",
    summary="The reporting calendar as XLSX, headers in the page's language (officers)",
)
def reporting_workbook(
    session: DbSession, principal: PortalUser, unit: UnitQuery = "", period: PeriodQuery = ""
) -> Response:
    _grid, cell, rows, _choices = _reporting_rows(session, principal, unit, period)
    if cell is None:
        raise InvalidInput(
            "Chọn một đơn vị và một kỳ báo cáo hợp lệ",
            "Choose a valid unit and reporting period",
            field="period",
        )
    content = table_workbook(
        _("Reporting calendar"),
        [_("Administrative unit"), _("Unit code"), _("State"), _("Filled"), _("Expected")],
        [
            [row["unit"].name, row["unit"].code, row["state"], row["filled"], row["expected"]]
            for row in rows
        ],
        [(_("Period"), cell.period.code)],
        title=f"{_('Reporting calendar')} {cell.period.code}",
        widths=[40, 10, 20, 10, 10],
    )
    return download(content, f"tinh-hinh-bao-cao-{cell.period.code}.xlsx")
