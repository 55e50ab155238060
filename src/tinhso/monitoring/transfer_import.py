"""Import of values from CSV and XLSX files, all or nothing (formats: `tinhso.monitoring.transfer`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tinhso.core.errors import Forbidden, InvalidInput
from tinhso.monitoring import repository
from tinhso.monitoring.models import ValueSource
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.transfer import (
    REQUIRED,
    CellError,
    ImportErrors,
    Sheet,
    cell_text,
    clean_file_name,
    map_header,
    parse_number,
    parse_period_cell,
    parse_unit_set,
    read_sheet,
    rejected,
    unit_code_text,
)
from tinhso.monitoring.values import Provenance, RecordResult, value_service
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


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    rows: int
    inserted: int
    corrected: int
    unchanged: int


def parse_rows(sheet: Sheet) -> tuple[list[ParsedRow], ImportErrors]:
    positions, titles = map_header(sheet.header)
    errors = ImportErrors(titles)
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
        value = parse_number(raw["value"])
        if value is None:
            errors.add(
                number,
                "value",
                raw["value"],
                f"«{cell_text(raw['value'])}» không phải là số (ví dụ đúng: 1.380 hoặc 47,85)",
                f"«{cell_text(raw['value'])}» is not a number (e.g. 1380 or 47.85)",
            )
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
        unit_set = parse_unit_set(raw.get("unit_set"))
        if unit_set is None:
            errors.add(
                number,
                "unit_set",
                raw.get("unit_set"),
                "bộ đơn vị phải là «hiện hành» hoặc «cũ»",
                "the unit set must be «current» or «legacy»",
            )
        if value is None or period is None or unit_set is None:
            continue
        comment = raw.get("comment")
        parsed.append(
            ParsedRow(
                row=number,
                element_code=str(raw["element_code"]).strip().lower(),
                unit_set=unit_set,
                unit_code=unit_code_text(raw["unit_code"]),
                period=period,
                value=value,
                comment=str(comment) if comment not in {None, ""} else None,
                raw=raw,
            )
        )
    return parsed, errors


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
    seen: dict[tuple[str, UnitSet, str, str], int] = {}
    items: list[ValueIn] = []
    kept: list[ParsedRow] = []
    for r in rows:
        key = (r.element_code, r.unit_set, r.unit_code, r.period)
        if key in seen:
            errors.add(
                r.row,
                "period",
                r.raw.get("period"),
                f"trùng với dòng {seen[key]} (cùng chỉ tiêu, đơn vị và kỳ)",
                f"duplicates row {seen[key]} (same element, unit and period)",
            )
            continue
        seen[key] = r.row
        try:
            item = ValueIn(
                element_code=r.element_code,
                unit=UnitRef(unit_set=r.unit_set, code=r.unit_code),
                period=r.period,
                value=r.value,
                source=ValueSource.FILE,
                source_reference=source_reference,
                comment=r.comment,
                reason=f"Nhập lại từ tệp / re-imported from file: {source_reference}",
            )
        except ValidationError as error:
            for problem in error.errors():
                name = str(problem["loc"][0]) if problem["loc"] else "value"
                key_name = CORE_FIELDS.get(name, name)
                errors.add(
                    r.row,
                    key_name,
                    r.raw.get(key_name),
                    "giá trị không hợp lệ",
                    str(problem["msg"]),
                )
            continue
        items.append(item)
        kept.append(r)
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

    allowed: set[int] = set()  # a file repeats its units: check each unit once

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

    return value_service.record_many(
        session,
        items,
        Provenance(entered_by_id=user_id, source=ValueSource.FILE),
        field_prefix="values",
        authorise=authorise_row,
    )


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
) -> ImportResult:
    """Import a CSV or XLSX file of values (all or nothing)."""
    name = clean_file_name(file_name)
    sheet = read_sheet(name, content)
    rows, errors = parse_rows(sheet)
    result = import_values(
        session, rows, errors, user_id=user_id, source_reference=name, authorise=authorise
    )
    return ImportResult(name, len(rows), result.inserted, result.corrected, result.unchanged)
