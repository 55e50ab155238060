"""Value entry by officers: the data-entry form and the file import.

Rules (``tinhso.monitoring.auth``): an officer (or organisation admin) enters values
for the administrative unit their organisation is tied to and every unit below it;
platform administrators for any unit. The form lists only those units; the value
service checks the rule again on every write (a tampered form is refused). Bad
input writes nothing: the page shows each error next to its field (or, for a file,
per row and column), in the portal's language, and the request's session is rolled
back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import Response

from tinhso.core.errors import DomainError, Forbidden, Message
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.monitoring import repository
from tinhso.monitoring.auth import value_writer, writable_unit_roots
from tinhso.monitoring.models import PeriodType, ValueSource
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.transfer.file_import import import_file
from tinhso.monitoring.transfer.formats import MAX_FILE_BYTES, CellError, FileTooLarge, parse_number
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import UnitChoice, localised
from tinhso.portal.rendering import render
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

router = APIRouter()
_MAX_NOTE = 2000


def _text(message: Message) -> str:
    return message.vi if current_locale.get() == "vi" else message.en


def allowed_units(session: Session, principal: Principal) -> list[UnitChoice]:
    """The units this official may enter values for (their organisation's unit and below)."""
    roots = writable_unit_roots(session, principal)
    found: list[UnitChoice] = []
    seen: set[int] = set()
    subtrees = catalogue.unit_subtrees(session, sorted(roots))
    for root in sorted(roots):
        for unit in subtrees.get(root, []):
            if unit.id not in seen:
                seen.add(unit.id)
                found.append(unit)
    if not found and principal.is_platform_admin:
        for unit_set in (UnitSet.CURRENT, UnitSet.LEGACY):
            found.extend(catalogue.units_of_level(session, unit_set, UnitLevel.PROVINCE))
    return found


def unit_key(unit: UnitChoice) -> str:
    return f"{unit.unit_set.value}:{unit.code}"


def period_hint(period_type: PeriodType) -> str:
    hints = {
        PeriodType.YEAR: _("Year, e.g. 2025"),
        PeriodType.QUARTER: _("Quarter, e.g. 2025-Q3"),
        PeriodType.MONTH: _("Month, e.g. 2025-07"),
    }
    return hints[period_type]


@dataclass
class EntryForm:
    unit: str = ""
    element: str = ""
    period: str = ""
    value: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    saved: str | None = None
    saved_links: list[tuple[str, str]] = field(default_factory=list)


def _context(session: Session, principal: Principal, form: EntryForm) -> dict[str, Any]:
    units = allowed_units(session, principal)
    elements = catalogue.elements(session)
    return {
        "form": form,
        "units": [(unit_key(u), u) for u in units],
        "elements": [
            (
                e.code,
                localised(e.name_vi, e.name_en),
                localised(e.unit_of_measure, e.unit_of_measure_en),
                period_hint(e.period_type),
            )
            for e in elements
        ],
        "unit_set_label": {
            "current": _("current"),
            "legacy": _("legacy"),
        },
    }


def _render_form(
    request: Request, session: Session, principal: Principal, form: EntryForm, status: int = 200
) -> Response:
    context = _context(session, principal, form)
    if request.headers.get("hx-request") == "true":
        # HTMX swaps only 2xx answers: the form with its errors comes back as 200.
        return render(request, "monitoring/entry_form.html", context)
    return render(request, "monitoring/entry.html", context, status_code=status)


@router.get(
    "/monitoring/entry", summary="Data-entry form (officers, for their organisation's units)"
)
def entry_form(request: Request, session: DbSession, principal: PortalUser) -> Response:
    return _render_form(request, session, principal, EntryForm())


def _checked_form(form: EntryForm) -> tuple[UnitRef | None, float | None]:
    unit: UnitRef | None = None
    if not form.unit:
        form.errors["unit"] = _("Choose an administrative unit.")
    else:
        unit_set, _sep, code = form.unit.partition(":")
        if unit_set not in {"current", "legacy"} or not code:
            form.errors["unit"] = _("Choose an administrative unit from the list.")
        else:
            unit = UnitRef(unit_set=UnitSet(unit_set), code=code)
    if not form.element:
        form.errors["element"] = _("Choose a data element.")
    if not form.period:
        form.errors["period"] = _("Enter the period.")
    # The page's language declares how numbers are written (Vietnamese: 1.380 is 1380).
    declared = NumberFormat.VI if current_locale.get() == "vi" else NumberFormat.EN
    reading = parse_number(form.value, declared) if form.value else None
    number = reading.value if reading is not None else None
    if not form.value:
        form.errors["value"] = _("Enter the value.")
    elif number is None:
        form.errors["value"] = _("“%(value)s” is not a number. Write it like 1.380 or 47,85.") % {
            "value": form.value[:40]
        }
    if len(form.note) > _MAX_NOTE:
        form.errors["note"] = _("The note is too long.")
    return unit, number


_FIELD_OF = {"element_code": "element", "unit": "unit", "period": "period", "value": "value"}


def _message_without_label(message: str, element: str) -> str:
    """The value service prefixes each message with the value's label (``code = value (unit,
    period): ``); the form shows it next to its field, so keep only what follows the label."""
    if not message.startswith(f"{element} = "):
        return message
    _label, sep, rest = message.partition("): ")
    return rest if sep else message


@router.post(
    "/monitoring/entry",
    summary="Record one value from the form (officers, for their organisation's units; CSRF)",
)
def submit_entry(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    unit: Annotated[str, Form(max_length=40)] = "",
    element: Annotated[str, Form(max_length=64)] = "",
    period: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[str, Form(max_length=60)] = "",
    note: Annotated[str, Form(max_length=_MAX_NOTE + 1)] = "",
) -> Response:
    form = EntryForm(unit.strip(), element.strip(), period.strip(), value.strip(), note.strip())
    ref, number = _checked_form(form)
    status = 422
    if not form.errors and ref is not None and number is not None:
        try:
            item = ValueIn(
                element_code=form.element,
                unit=ref,
                period=form.period,
                value=number,
                source=ValueSource.FORM,
                comment=form.note or None,
                reason=form.note or None,
            )
        except ValidationError as error:
            for detail in error.errors():
                name = _FIELD_OF.get(str(detail["loc"][0]) if detail["loc"] else "", "value")
                form.errors.setdefault(
                    name,
                    _("Write the period like 2025, 2025-Q3 or 2025-07.")
                    if name == "period"
                    else _("This value is not valid."),
                )
        else:
            try:
                result = value_service.record_many(
                    session,
                    [item],
                    Provenance(entered_by_id=principal.user_id, source=ValueSource.FORM),
                    field_prefix="",
                    authorise=value_writer(session, principal),
                )
            except DomainError as error:
                session.rollback()
                status = 403 if isinstance(error, Forbidden) else error.status
                for problem in error.errors:
                    name = _FIELD_OF.get(problem.field.split(".")[-1], "value")
                    form.errors.setdefault(
                        name, _message_without_label(_text(problem.message), form.element)
                    )
                if not error.errors:
                    form.errors["value"] = _text(error.message)
            else:
                links = [
                    (i.code, localised(i.name_vi, i.name_en))
                    for i in repository.indicators_reading(session, form.element)
                ]
                if result.inserted:
                    form.saved = _("Saved.")
                elif result.corrected:
                    form.saved = _("Saved as a correction of the value recorded before.")
                else:
                    form.saved = _("The same value was already recorded; nothing changed.")
                form.saved_links = links
                form.value = ""
                form.note = ""
                return _render_form(request, session, principal, form)
    if form.errors:
        session.rollback()
    return _render_form(request, session, principal, form, status)


# --- import from a file -----------------------------------------------------------------------


@dataclass
class ImportOutcome:
    file_name: str = ""
    message: str | None = None
    rows: list[CellError] = field(default_factory=list)
    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    total: int = 0
    succeeded: bool = False


def _import_page(
    request: Request,
    session: Session,
    principal: Principal,
    outcome: ImportOutcome | None,
    status: int = 200,
) -> Response:
    can_write = principal.is_platform_admin or bool(writable_unit_roots(session, principal))
    return render(
        request,
        "monitoring/import.html",
        {
            "outcome": outcome,
            "can_write": can_write,
            "max_mb": MAX_FILE_BYTES // (1024 * 1024),
            "message_text": _text,
        },
        status_code=status,
    )


@router.get("/monitoring/import", summary="Import values from a file: the upload form (officers)")
def import_form(request: Request, session: DbSession, principal: PortalUser) -> Response:
    return _import_page(request, session, principal, None)


@router.post(
    "/monitoring/import",
    summary="Import values from a CSV/XLSX file, all or nothing (officers, for their units; CSRF)",
)
def import_upload(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    outcome = ImportOutcome(file_name=(file.filename or "") if file else "")
    if file is None or not outcome.file_name:
        outcome.message = _("Choose a CSV or Excel (.xlsx) file.")
        return _import_page(request, session, principal, outcome, 422)
    content = file.file.read(MAX_FILE_BYTES + 1)
    try:
        if len(content) > MAX_FILE_BYTES:
            raise FileTooLarge(
                f"Tệp lớn hơn giới hạn {MAX_FILE_BYTES // (1024 * 1024)} MB",
                f"The file is larger than the {MAX_FILE_BYTES // (1024 * 1024)} MB limit",
                field="file",
            )
        result = import_file(
            session,
            outcome.file_name,
            content,
            user_id=principal.user_id,
            authorise=value_writer(session, principal),
        )
    except DomainError as error:
        session.rollback()
        outcome.message = _text(error.message)
        outcome.rows = [e for e in error.errors if isinstance(e, CellError)]
        return _import_page(request, session, principal, outcome, error.status)
    outcome.succeeded = True
    outcome.file_name = result.file_name
    outcome.total = result.rows
    outcome.inserted = result.inserted
    outcome.corrected = result.corrected
    outcome.unchanged = result.unchanged
    return _import_page(request, session, principal, outcome)
