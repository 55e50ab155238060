"""Import of values from CSV and XLSX files, all or nothing (formats: `tinhso.monitoring.transfer.formats`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tinhso.core.errors import Forbidden, InvalidInput
from tinhso.core.text import control_character, unneutralise_formula
from tinhso.monitoring import repository
from tinhso.monitoring.models import ValueSource
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.transfer.formats import (
    REQUIRED,
    CellError,
    ErrorCell,
    ImportErrors,
    Sheet,
    cell_address,
    cell_text,
    clean_file_name,
    declared_number_format,
    map_header,
    parse_number,
    parse_period_cell,
    parse_unit_set,
    read_sheet,
    rejected,
    unit_code_text,
    unit_set_given,
    unit_set_of_period,
)
from tinhso.monitoring.values.number_format import NumberFormat, Reading
from tinhso.monitoring.values.service import Provenance, RecordResult, value_service
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


# --- import ----------------------------------------------------------------------------


@dataclass
class ParsedRow:
    row: int
    element_code: str
    unit_set: UnitSet
    unit_code: str
    period: str
    value: float
    comment: str | None
    raw: dict[str, object] = field(default_factory=dict)
    # Set when the text could be read two ways and no format was declared: the element's
    # value type settles it, or the row is refused with both readings.
    reading: Reading | None = None
    # False when the row left the unit set to its period (see `unit_set_of_period`).
    unit_set_given: bool = True


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    rows: int
    inserted: int
    corrected: int
    unchanged: int


def parse_rows(
    sheet: Sheet, number_format: NumberFormat | None = None
) -> tuple[list[ParsedRow], ImportErrors]:
    """The rows of a file; numbers are read in ``number_format``, or the one the value
    column's header declares (`declared_number_format`)."""
    positions, titles = map_header(sheet.header)
    errors = ImportErrors(titles)
    declared = number_format or declared_number_format(titles.get("value"))
    parsed: list[ParsedRow] = []
    for number, cells in sheet.rows:

        def cell(key: str, cells: list[object] = cells) -> object:
            position = positions.get(key)
            if position is None or position >= len(cells):
                return None
            value = cells[position]
            return value.strip() if isinstance(value, str) else value

        raw = {key: cell(key) for key in positions}
        before = len(errors.items)
        for key in REQUIRED:
            if raw.get(key) in {None, ""}:
                errors.add(number, key, None, "thiếu giá trị", "missing value")
        if len(errors.items) > before:
            continue
        address = cell_address(number, positions["value"]) if sheet.fmt == "xlsx" else None
        reading = _value_reading(number, raw["value"], declared, address, errors)
        period = parse_period_cell(raw["period"])
        if period is None:
            errors.add(
                number,
                "period",
                raw["period"],
                f"kỳ báo cáo «{cell_text(raw['period'])}» không đúng dạng"
                " (2025, 2025-Q3, Quý 3/2025, 2025-07 hoặc 07/2025)",
                f"period «{cell_text(raw['period'])}» is not valid"
                " (2025, 2025-Q3, 2025-07, Quý 3/2025 or 07/2025)",
            )
        given = unit_set_given(raw.get("unit_set"))
        unit_set = parse_unit_set(raw.get("unit_set"))
        if unit_set is None:
            errors.add(
                number,
                "unit_set",
                raw.get("unit_set"),
                "bộ đơn vị phải là «hiện hành» hoặc «cũ»",
                "the unit set must be «current» or «legacy»",
            )
        comment_ok, comment = _comment(number, raw, errors)
        if reading is None or period is None or unit_set is None or not comment_ok:
            continue
        parsed.append(
            ParsedRow(
                row=number,
                element_code=str(raw["element_code"]).strip().lower(),
                unit_set=unit_set if given else unit_set_of_period(period),
                unit_code=unit_code_text(raw["unit_code"]),
                period=period,
                value=reading.value,
                comment=comment,
                raw=raw,
                reading=reading if reading.ambiguous else None,
                unit_set_given=given,
            )
        )
    return parsed, errors


def _value_reading(
    row: int,
    raw: object,
    declared: NumberFormat | None,
    address: str | None,
    errors: ImportErrors,
) -> Reading | None:
    """The value cell as a number, or None with the reason added to ``errors``."""
    where_vi, where_en = (f"ô {address}: ", f"cell {address}: ") if address else ("", "")
    kinds = (
        (bool, "ô kiểu đúng/sai", "a true/false cell"),
        (datetime, "ô kiểu ngày tháng", "a date cell"),
        (date, "ô kiểu ngày tháng", "a date cell"),
        (ErrorCell, f"ô lỗi {raw}", f"an error cell {raw}"),
    )
    for kind, vi, en in kinds:
        if isinstance(raw, kind):
            errors.add(
                row,
                "value",
                raw,
                f"{where_vi}{vi} không phải là số",
                f"{where_en}{en} is not a number",
            )
            return None
    reading = parse_number(raw, declared)
    if reading is None:
        errors.add(
            row,
            "value",
            raw,
            f"{where_vi}«{cell_text(raw)}» không phải là số (ví dụ đúng: 1.380 hoặc 47,85)",
            f"{where_en}«{cell_text(raw)}» is not a number (e.g. 1380 or 47.85)",
        )
    return reading


def _comment(row: int, cells: dict[str, object], errors: ImportErrors) -> tuple[bool, str | None]:
    """A row's comment: None without a comment column (the stored one is kept), ``""`` for
    an empty cell (a re-import clears it), else the text (a neutralised formula cell back as
    it was stored). False if it holds a control character (the error is added)."""
    if "comment" not in cells:
        return True, None
    raw = cells["comment"]
    if raw in {None, ""}:
        return True, ""
    text = unneutralise_formula(raw if isinstance(raw, str) else str(cell_text(raw)))
    found = control_character(text, multiline=True)
    if found is not None:
        errors.add(
            row,
            "comment",
            None,
            f"chứa ký tự điều khiển {found}, không được phép",
            f"holds the control character {found}, which is not allowed",
        )
        return False, None
    return True, text


def restore_leading_zeros(session: Session, rows: list[ParsedRow]) -> None:
    """``4`` -> ``00004`` where Excel dropped the zeros and exactly one unit matches."""
    numeric = [r for r in rows if r.unit_code.isdigit() and len(r.unit_code) < 5]
    if not numeric:
        return
    candidates = {
        (r.unit_set, code)
        for r in numeric
        for code in {r.unit_code, r.unit_code.zfill(2), r.unit_code.zfill(3), r.unit_code.zfill(5)}
    }
    known = repository.unit_ids_by_ref(session, candidates)
    for r in numeric:
        if (r.unit_set, r.unit_code) in known:
            continue
        padded = {
            code
            for code in (r.unit_code.zfill(2), r.unit_code.zfill(3), r.unit_code.zfill(5))
            if (r.unit_set, code) in known
        }
        if len(padded) == 1:
            r.unit_code = padded.pop()


CORE_FIELDS = {
    "element_code": "element_code",
    "unit": "unit_code",
    "period": "period",
    "value": "value",
}


@dataclass(frozen=True)
class RowProblem:
    """Why a row cannot be imported: the key at fault and the reason, Vietnamese and English."""

    row: ParsedRow
    key: str
    vi: str
    en: str


@dataclass
class ScreenedRows:
    """Rows checked one by one, before the value service sees them."""

    items: list[tuple[ParsedRow, ValueIn]] = field(default_factory=list)
    set_aside: list[ParsedRow] = field(default_factory=list)  # the caller's own (deletions)
    problems: list[RowProblem] = field(default_factory=list)  # in row order


def screen_rows(
    rows: list[ParsedRow],
    *,
    row_words: tuple[str, str],
    source_reference: str,
    reason: str,
    set_aside: Callable[[ParsedRow], bool] | None = None,
) -> ScreenedRows:
    """The checks every imported row goes through: a second row for the same element, unit
    and period is refused (naming the first), and each other row becomes a `ValueIn` or
    its validation problems (one per problem, keyed by column). Rows ``set_aside`` picks
    after the duplicate check get no `ValueIn`."""
    screened = ScreenedRows()
    vi_word, en_word = (word.lower() for word in row_words)
    seen: dict[tuple[str, UnitSet, str, str], int] = {}
    for r in rows:
        key = (r.element_code, r.unit_set, r.unit_code, r.period)
        if key in seen:
            screened.problems.append(
                RowProblem(
                    r,
                    "period",
                    f"trùng với {vi_word} {seen[key]} (cùng chỉ tiêu, đơn vị và kỳ)",
                    f"duplicates {en_word} {seen[key]} (same element, unit and period)",
                )
            )
            continue
        seen[key] = r.row
        if set_aside is not None and set_aside(r):
            screened.set_aside.append(r)
            continue
        try:
            item = ValueIn(
                element_code=r.element_code,
                unit=UnitRef(unit_set=r.unit_set, code=r.unit_code),
                period=r.period,
                value=r.value,
                source=ValueSource.FILE,
                source_reference=source_reference,
                comment=r.comment,
                reason=f"{reason}: {source_reference}",
            )
        except ValidationError as error:
            for problem in error.errors():
                name = str(problem["loc"][0]) if problem["loc"] else "value"
                screened.problems.append(
                    RowProblem(
                        r, CORE_FIELDS.get(name, name), "giá trị không hợp lệ", str(problem["msg"])
                    )
                )
            continue
        screened.items.append((r, item))
    return screened


def import_values(
    session: Session,
    rows: list[ParsedRow],
    errors: ImportErrors,
    *,
    user_id: int | None,
    source_reference: str,
    authorise: Callable[[int, str, str], None] | None,
) -> RecordResult:
    """Check every row, then write all of them through the value service, or nothing."""
    restore_leading_zeros(session, rows)
    rows = _settle_readings(session, rows, errors)
    rows = _check_inferred_units(session, rows, errors)
    screened = screen_rows(
        rows,
        row_words=errors.row_words,
        source_reference=source_reference,
        reason="Nhập lại từ tệp / re-imported from file",
    )
    for problem in screened.problems:
        errors.add(
            problem.row.row,
            problem.key,
            problem.row.raw.get(problem.key),
            problem.vi,
            problem.en,
        )
    items = [item for _, item in screened.items]
    kept = [r for r, _ in screened.items]
    try:
        checked = value_service.check(session, items, "values") if items else []
    except InvalidInput as error:
        _add_core_errors(error, kept, errors)
        checked = []
    if errors.items or not checked:
        if not errors.items:
            raise InvalidInput("Tệp không có số liệu", "The file holds no values", field="file")
        errors.items.sort(key=lambda e: e.row)
        raise rejected(errors.items)
    return value_service.record_many(
        session,
        items,
        Provenance(entered_by_id=user_id, source=ValueSource.FILE),
        field_prefix="values",
        authorise=_unit_authorisation(authorise, kept, errors),
    )


def _unit_authorisation(
    authorise: Callable[[int, str, str], None] | None,
    kept: list[ParsedRow],
    errors: ImportErrors,
) -> Callable[[int, str, str], None]:
    """``authorise`` as the value service calls it, once per unit (a file repeats its
    units); a refusal names the row and its unit cell."""
    allowed: set[int] = set()

    def authorise_row(unit_id: int, label: str, where: str) -> None:
        if authorise is None or unit_id in allowed:
            return
        position = int(where.split(".")[1]) if where.count(".") >= 2 else 0
        row = kept[position].row if position < len(kept) else 0
        try:
            authorise(unit_id, label, errors.field(row, "unit_code"))
        except Forbidden as error:
            vi_word, en_word = errors.row_words
            raise Forbidden(
                f"{vi_word} {row}: {error.message.vi}",
                f"{en_word} {row}: {error.message.en}",
                errors=[
                    CellError(
                        field=errors.field(row, "unit_code"),
                        message=error.message,
                        row=row,
                        column=errors.column("unit_code"),
                        value=kept[position].unit_code if position < len(kept) else None,
                    )
                ],
            ) from error
        allowed.add(unit_id)

    return authorise_row


def _settle_readings(
    session: Session, rows: list[ParsedRow], errors: ImportErrors
) -> list[ParsedRow]:
    """Numbers that could be read two ways, settled by their element's value type (or
    refused with both readings)."""
    open_rows = [r for r in rows if r.reading is not None]
    if not open_rows:
        return rows
    elements = repository.elements_by_codes(session, {r.element_code for r in open_rows})
    kept: list[ParsedRow] = []
    for r in rows:
        element = elements.get(r.element_code)
        if r.reading is not None and element is not None:
            number, problem = r.reading.resolve(element.value_type)
            if number is None:
                message = problem or r.reading.both_readings()
                errors.add(r.row, "value", r.raw.get("value"), message.vi, message.en)
                continue
            r.value = number
        kept.append(r)
    return kept


def _check_inferred_units(
    session: Session, rows: list[ParsedRow], errors: ImportErrors
) -> list[ParsedRow]:
    """A row that left the unit set to its period names a unit of that set, or is refused
    with a message saying which set was used and why."""
    inferred = [r for r in rows if not r.unit_set_given]
    if not inferred:
        return rows
    known = repository.unit_ids_by_ref(session, {(r.unit_set, r.unit_code) for r in inferred})
    kept: list[ParsedRow] = []
    for r in rows:
        if r.unit_set_given or (r.unit_set, r.unit_code) in known:
            kept.append(r)
            continue
        legacy = r.unit_set is UnitSet.LEGACY
        set_vi = "bộ đơn vị cũ (trước 01/07/2025)" if legacy else "bộ hiện hành (từ 01/07/2025)"
        set_en = (
            "the legacy set (before 01/07/2025)" if legacy else "the current set (from 01/07/2025)"
        )
        errors.add(
            r.row,
            "unit_code",
            r.raw.get("unit_code"),
            f"mã đơn vị {r.unit_code} không có trong {set_vi}, bộ được dùng theo kỳ {r.period}"
            " vì cột «Bộ đơn vị» để trống",
            f"unit code {r.unit_code} does not exist in {set_en}, the set used for period "
            f"{r.period} because the unit set column is empty",
        )
    return kept


def _add_core_errors(error: InvalidInput, kept: list[ParsedRow], errors: ImportErrors) -> None:
    for problem in error.errors:
        parts = problem.field.split(".")
        if len(parts) >= 3 and parts[0] == "values" and parts[1].isdigit():
            r = kept[int(parts[1])]
            key = CORE_FIELDS.get(parts[2], parts[2])
            errors.items.append(
                CellError(
                    field=errors.field(r.row, key),
                    message=errors.message(r.row, key, problem.message.vi, problem.message.en),
                    row=r.row,
                    column=errors.column(key),
                    value=cell_text(r.raw.get(key)),
                )
            )
        else:
            errors.items.append(
                CellError(
                    field=problem.field, message=problem.message, row=0, column="", value=None
                )
            )


def import_file(
    session: Session,
    file_name: str,
    content: bytes,
    *,
    user_id: int | None,
    authorise: Callable[[int, str, str], None] | None,
    number_format: NumberFormat | None = None,
) -> ImportResult:
    """Import a CSV or XLSX file of values (all or nothing); numbers in ``number_format``,
    or the one the file's headers declare."""
    name = clean_file_name(file_name)
    sheet = read_sheet(name, content)
    rows, errors = parse_rows(sheet, number_format)
    result = import_values(
        session, rows, errors, user_id=user_id, source_reference=name, authorise=authorise
    )
    return ImportResult(name, len(rows), result.inserted, result.corrected, result.unchanged)
