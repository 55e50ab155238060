"""DHIS2 ``dataValueSets`` JSON in and out, so a DHIS2 user can move data both ways.

Mapping
-------
- ``dataElement`` is our data element code (``iot_devices``): in DHIS2, export with
  ``dataElementIdScheme=CODE`` and give the elements our codes.
- ``orgUnit`` is our administrative unit code (GSO code, ``24``, ``00004``). Codes are
  reused between the two unit sets, so the set is given by a prefix on the value
  (``current:00004``, ``legacy:24``) or, for plain codes, by the top-level attribute
  ``"tinhso:unitSet": "current" | "legacy"`` (or the request's ``unit_set``); without
  any of them the set follows the value's period (ending before 01/07/2025: legacy,
  after: current), never guessed as current. In DHIS2, export with ``orgUnitIdScheme=CODE``.
- ``period`` is the DHIS2 period: ``2025`` (yearly), ``2025Q3`` (quarterly), ``202507``
  (monthly); other DHIS2 period types (weeks, six-months, financial years) are refused.
- ``value`` is a string (or a JSON number) in plain notation (``47.85``);
  ``true``/``false`` are 1 and 0.
- ``comment`` is kept. ``storedBy``, ``lastUpdated``, ``created`` and ``followup`` are
  informational on import: the provenance of an imported value is the import itself
  (source ``file``, reference ``DHIS2 dataValueSets: <name>``, the importing official, now).
  On export, ``storedBy`` is who entered the value and ``lastUpdated`` when.
- Disaggregations (``categoryOptionCombo``/``attributeOptionCombo`` other than DHIS2's
  default ``HllvX50cXC0``/``default``) and ``deleted: true`` are refused.
- Top-level ``period`` and ``orgUnit`` apply to values without their own, as in DHIS2.

An export is one unit set: plain codes and ``"tinhso:unitSet"``, which the import reads
back (round trip). The import is all or nothing, like a file import; errors name the
``dataValues`` index and key.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from tinhso.core.errors import FieldError, Forbidden, InvalidInput
from tinhso.core.text import control_character
from tinhso.monitoring import repository
from tinhso.monitoring.models import DataValue, ValueSource
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.transfer.file_import import (
    CORE_FIELDS,
    ImportResult,
    ParsedRow,
    ScreenedRows,
    import_values,
    restore_leading_zeros,
    screen_rows,
)
from tinhso.monitoring.transfer.formats import (
    MAX_ROWS,
    CellError,
    FileTooLarge,
    ImportErrors,
    cell_text,
    clean_file_name,
    parse_period_cell,
    parse_unit_set,
    unit_set_of_period,
)
from tinhso.monitoring.transfer.tables import value_rows
from tinhso.monitoring.values.checks import CheckedValue
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

UNIT_SET_KEY = "tinhso:unitSet"
DEFAULT_COMBOS = {"", "default", "HllvX50cXC0"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DHIS2_PERIOD = re.compile(r"^(\d{4})(?:Q([1-4])|(0[1-9]|1[0-2]))?$")
_TITLES = {
    "element_code": "dataElement",
    "unit_code": "orgUnit",
    "unit_set": "orgUnit",
    "period": "period",
    "value": "value",
    "comment": "comment",
}


def to_dhis2_period(code: str) -> str:
    """``2025-Q3`` -> ``2025Q3``, ``2025-07`` -> ``202507``, ``2025`` -> ``2025``."""
    return code.replace("-Q", "Q").replace("-", "")


def from_dhis2_period(text: str) -> str | None:
    match = _DHIS2_PERIOD.match(text.strip())
    if match:
        year, quarter, month = match.groups()
        if quarter:
            return f"{year}-Q{quarter}"
        if month:
            return f"{year}-{month}"
        return year
    return parse_period_cell(text)  # our own codes, for convenience


def dhis2_value(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in {"true", "false"}:
            return 1.0 if text.lower() == "true" else 0.0
        if _NUMBER.match(text):
            return float(text)
    return None


def _unit(raw: str, default: UnitSet | None, period: str) -> tuple[UnitSet | None, str, bool]:
    """(unit set, code, whether the set was given); without a prefix or a default the set
    follows the period (`unit_set_of_period`)."""
    prefix, colon, code = raw.partition(":")
    if not colon:
        if default is None:
            return unit_set_of_period(period), raw.strip(), False
        return default, raw.strip(), True
    return parse_unit_set(prefix) if prefix.strip() else None, code.strip(), True


def parse_data_value_set(
    payload: object, default_unit_set: UnitSet | None, *, deletions: bool = False
) -> tuple[list[ParsedRow], ImportErrors]:
    """The values of a ``dataValueSets`` document, and the errors found reading them.

    ``deletions``: ``deleted: true`` marks a value to delete (its ``value`` may be left out),
    as DHIS2 reads it; otherwise such items are refused."""
    if not isinstance(payload, dict) or not isinstance(payload.get("dataValues"), list):
        raise InvalidInput(
            "Tài liệu phải là đối tượng JSON dataValueSets có danh sách «dataValues»",
            "The document must be a dataValueSets JSON object with a «dataValues» list",
            field="dataValues",
        )
    items: list[Any] = payload["dataValues"]
    if len(items) > MAX_ROWS:
        raise FileTooLarge(
            f"Có {len(items):,} giá trị, vượt giới hạn {MAX_ROWS:,} mỗi lần nhập",
            f"{len(items):,} values is over the limit of {MAX_ROWS:,} per import",
            field="dataValues",
        )
    errors = ImportErrors(
        dict(_TITLES), prefix="dataValues", row_words=("Mục", "Item"), field_names=_TITLES
    )
    top_set = payload.get(UNIT_SET_KEY)
    unit_set_default = default_unit_set  # None: each value's period decides
    if top_set is not None:
        parsed_set = parse_unit_set(top_set)
        if parsed_set is None:
            raise InvalidInput(
                f"«{UNIT_SET_KEY}» phải là «current» hoặc «legacy»",
                f"«{UNIT_SET_KEY}» must be «current» or «legacy»",
                field=UNIT_SET_KEY,
            )
        unit_set_default = parsed_set
    rows: list[ParsedRow] = []
    for index, item in enumerate(items):
        row = _parse_item(index, item, payload, unit_set_default, errors, deletions=deletions)
        if row is not None:
            rows.append(row)
    return rows, errors


def _parse_item(
    index: int,
    item: object,
    payload: dict[str, Any],
    unit_set_default: UnitSet | None,
    errors: ImportErrors,
    *,
    deletions: bool = False,
) -> ParsedRow | None:
    if not isinstance(item, dict):
        errors.add(index, "value", None, "phải là đối tượng JSON", "must be a JSON object")
        return None
    before = len(errors.items)
    deleting = deletions and item.get("deleted") is True
    _check_unsupported(index, item, payload, errors, deletions=deletions)
    element = item.get("dataElement")
    org_unit = item.get("orgUnit", payload.get("orgUnit"))
    period_raw = item.get("period", payload.get("period"))
    for key, raw in (("element_code", element), ("unit_code", org_unit), ("period", period_raw)):
        if not isinstance(raw, str) or not raw.strip():
            errors.add(index, key, raw, "thiếu hoặc không phải chuỗi", "missing or not a string")
    raw_value = item.get("value")
    value = _item_value(index, raw_value, errors, deleting=deleting)
    if len(errors.items) > before:
        return None
    assert isinstance(element, str) and isinstance(org_unit, str) and isinstance(period_raw, str)  # noqa: S101
    period = from_dhis2_period(period_raw)
    if period is None:
        errors.add(
            index,
            "period",
            period_raw,
            f"kỳ DHIS2 «{period_raw}» không được hỗ trợ (dùng 2025, 2025Q3 hoặc 202507)",
            f"DHIS2 period «{period_raw}» is not supported (use 2025, 2025Q3 or 202507)",
        )
    unit_set, code, given = _unit(org_unit, unit_set_default, period or "2025")
    if unit_set is None:
        errors.add(
            index,
            "unit_code",
            org_unit,
            "tiền tố bộ đơn vị phải là «current:» hoặc «legacy:»",
            "the unit set prefix must be «current:» or «legacy:»",
        )
    comment_ok, comment_text = _item_comment(index, item.get("comment"), errors)
    if not comment_ok or period is None or unit_set is None or value is None:
        return None
    return ParsedRow(
        row=index,
        element_code=element.strip(),
        unit_set=unit_set,
        unit_code=code,
        period=period,
        value=value,
        comment=comment_text,
        unit_set_given=given,
        raw={
            "element_code": element,
            "unit_code": org_unit,
            "period": period_raw,
            "value": raw_value,
            "deleted": deleting,
        },
    )


def _check_unsupported(
    index: int,
    item: dict[str, Any],
    payload: dict[str, Any],
    errors: ImportErrors,
    *,
    deletions: bool,
) -> None:
    """Refuse what DHIS2 has and we do not: deletions (unless asked for) and
    disaggregations other than the default combination."""
    if item.get("deleted") is True and not deletions:
        errors.add(
            index, "value", "deleted", "không hỗ trợ xoá giá trị", "deletions are not supported"
        )
    for key in ("categoryOptionCombo", "attributeOptionCombo"):
        combo = item.get(key, payload.get(key) if key == "attributeOptionCombo" else None)
        if combo is not None and str(combo) not in DEFAULT_COMBOS:
            errors.titles[key] = key
            errors.add(
                index,
                key,
                combo,
                "không hỗ trợ phân tổ (chỉ nhận phân tổ mặc định)",
                "disaggregations are not supported (only the default combination)",
            )


def _item_value(
    index: int, raw_value: object, errors: ImportErrors, *, deleting: bool
) -> float | None:
    """The item's value as a number (a deletion needs none: 0), or None with the error."""
    value = _number(raw_value)
    if value is None and deleting and raw_value in {None, ""}:
        value = 0.0  # a deletion needs no value
    if value is None:
        errors.add(
            index,
            "value",
            raw_value,
            f"«{raw_value}» không phải là số (dạng 1380 hoặc 47.85)",
            f"«{raw_value}» is not a number (like 1380 or 47.85)",
        )
    return value


def _item_comment(index: int, comment: object, errors: ImportErrors) -> tuple[bool, str | None]:
    """The item's comment (None if empty); False if it holds a control character (the
    error is added)."""
    comment_text = str(comment) if comment not in {None, ""} else None
    found = control_character(comment_text, multiline=True) if comment_text else None
    if found is not None:
        errors.add(
            index,
            "comment",
            None,
            f"chứa ký tự điều khiển {found}, không được phép",
            f"holds the control character {found}, which is not allowed",
        )
        return False, None
    return True, comment_text


def import_data_value_set(
    session: Session,
    payload: object,
    *,
    name: str,
    user_id: int | None,
    authorise: Callable[[int, str, str], None] | None,
    default_unit_set: UnitSet | None = None,
) -> ImportResult:
    """Import a ``dataValueSets`` document, all or nothing."""
    reference = f"DHIS2 dataValueSets: {clean_file_name(name)}"
    rows, errors = parse_data_value_set(payload, default_unit_set)
    result = import_values(
        session, rows, errors, user_id=user_id, source_reference=reference, authorise=authorise
    )
    return ImportResult(reference, len(rows), result.inserted, result.corrected, result.unchanged)


class ImportStrategy(enum.StrEnum):
    """DHIS2's ``importStrategy``: what happens to new and to existing values."""

    CREATE = "CREATE"  # new values only; existing ones are ignored
    UPDATE = "UPDATE"  # existing values only; new ones are ignored
    CREATE_AND_UPDATE = "CREATE_AND_UPDATE"  # both (DHIS2's default)
    DELETE = "DELETE"  # delete the values named; missing ones are ignored


class AtomicMode(enum.StrEnum):
    """DHIS2's ``atomicMode``: NONE (default) imports the valid values and ignores the
    others; ALL imports nothing when any value has a conflict."""

    ALL = "ALL"
    NONE = "NONE"


@dataclass(frozen=True)
class ImportConflict:
    """One value DHIS2 would ignore: its index in ``dataValues``, the key at fault, the
    offending text (``object``) and why, in Vietnamese and English."""

    index: int
    property: str
    object: str
    vi: str
    en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "value": self.en,
            "valueVi": self.vi,
            "property": self.property,
            "indexes": [self.index],
        }


@dataclass
class DataValueSetImport:
    """What an import did (or, for a dry run, would do), in DHIS2's terms."""

    total: int
    dry_run: bool
    strategy: ImportStrategy
    atomic_mode: AtomicMode
    imported: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: list[ImportConflict] = field(default_factory=list)
    refused: bool = False  # atomicMode=ALL with a conflict: nothing was written

    @property
    def ignored(self) -> int:
        if self.refused:
            return self.total
        return self.total - self.imported - self.updated - self.deleted

    @property
    def status(self) -> str:
        if self.refused:
            return "ERROR"
        return "WARNING" if self.conflicts else "SUCCESS"

    def summary(self, reference: str) -> dict[str, Any]:
        """DHIS2's ``ImportSummary`` (2.40), as DHIS2 clients read it."""
        if self.refused:
            description = "Import was refused: atomicMode=ALL and some values have conflicts"
        elif self.dry_run:
            description = "Dry run: nothing was written; the counts are what the import would do"
        else:
            description = "Import process completed"
        return {
            "responseType": "ImportSummary",
            "status": self.status,
            "description": f"{description} ({reference})",
            "importOptions": {
                "dryRun": self.dry_run,
                "importStrategy": self.strategy.value,
                "atomicMode": self.atomic_mode.value,
            },
            "importCount": {
                "imported": 0 if self.refused else self.imported,
                "updated": 0 if self.refused else self.updated,
                "ignored": self.ignored,
                "deleted": 0 if self.refused else self.deleted,
            },
            "conflicts": [c.as_dict() for c in sorted(self.conflicts, key=lambda c: c.index)],
        }


def _conflict(errors: ImportErrors, error: CellError) -> ImportConflict:
    return ImportConflict(
        index=error.row,
        property=error.column,
        object=error.value or "",
        vi=error.message.vi,
        en=error.message.en,
    )


def _row_conflict(
    errors: ImportErrors, row: ParsedRow, key: str, vi: str, en: str
) -> ImportConflict:
    message = errors.message(row.row, key, vi, en)
    return ImportConflict(
        index=row.row,
        property=errors.column(key),
        object=cell_text(row.raw.get(key)) or "",
        vi=message.vi,
        en=message.en,
    )


def import_data_value_set_as_dhis2(
    session: Session,
    payload: object,
    *,
    name: str,
    user_id: int | None,
    authorise: Callable[[int, str, str], None] | None,
    default_unit_set: UnitSet | None = None,
    strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
    atomic_mode: AtomicMode = AtomicMode.NONE,
    dry_run: bool = False,
) -> tuple[DataValueSetImport, str]:
    """Import a ``dataValueSets`` document as DHIS2 does: each value that cannot be
    imported (unreadable, unknown element or unit, wrong period type, out of bounds,
    a duplicate, or not allowed by ``strategy``) is a conflict and is ignored, and the
    others are written, unless ``atomic_mode`` is ALL; ``dry_run`` writes nothing and
    reports what would happen. A unit the official may not write refuses the whole
    document (403), as the file import does."""
    reference = f"DHIS2 dataValueSets: {clean_file_name(name)}"
    rows, errors = parse_data_value_set(payload, default_unit_set, deletions=True)
    assert isinstance(payload, dict)  # noqa: S101 - parse_data_value_set refused anything else
    outcome = DataValueSetImport(
        total=len(payload["dataValues"]),
        dry_run=dry_run,
        strategy=strategy,
        atomic_mode=atomic_mode,
    )
    outcome.conflicts.extend(_conflict(errors, e) for e in errors.items)
    restore_leading_zeros(session, rows)
    screened = screen_rows(
        rows,
        row_words=errors.row_words,
        source_reference=reference,
        reason="Nhập lại từ DHIS2 / re-imported from DHIS2",
        set_aside=lambda r: bool(r.raw.get("deleted")) or strategy is ImportStrategy.DELETE,
    )
    outcome.conflicts.extend(_screening_conflicts(errors, screened))
    candidates, checked = _checked_candidates(session, screened.items, errors, outcome)
    to_delete = _stored_deletions(session, screened.set_aside, errors, outcome)
    writers = [(c[0][0], c[1].unit_id) for c in zip(candidates, checked, strict=True)]
    _authorise_units(writers + [(d[0], d[1]) for d in to_delete], authorise, errors)
    existing = repository.values_at(
        session,
        [(c.element.id, c.unit_id, c.period) for c in checked] + [d[2] for d in to_delete],
    )
    to_write = _values_to_write(candidates, checked, existing, errors, outcome)
    doomed = _values_to_delete(to_delete, existing, errors, outcome)

    if outcome.conflicts and atomic_mode is AtomicMode.ALL:
        outcome.refused = True
        return outcome, reference
    if dry_run:
        return outcome, reference
    if to_write:
        value_service.record_many(
            session, to_write, Provenance(entered_by_id=user_id, source=ValueSource.FILE)
        )
    if doomed:
        session.execute(delete(DataValue).where(DataValue.id.in_(doomed)))
        session.flush()
    return outcome, reference


def _screening_conflicts(errors: ImportErrors, screened: ScreenedRows) -> list[ImportConflict]:
    """The rows `screen_rows` refused: a duplicate, or the first validation problem of a
    value (on its core column, else on ``value``)."""
    conflicts: list[ImportConflict] = []
    reported: set[int] = set()
    for problem in screened.problems:
        if problem.row.row in reported:
            continue
        reported.add(problem.row.row)
        key = problem.key if problem.key in CORE_FIELDS.values() else "value"
        conflicts.append(_row_conflict(errors, problem.row, key, problem.vi, problem.en))
    return conflicts


def _checked_candidates(
    session: Session,
    candidates: list[tuple[ParsedRow, ValueIn]],
    errors: ImportErrors,
    outcome: DataValueSetImport,
) -> tuple[list[tuple[ParsedRow, ValueIn]], list[CheckedValue]]:
    """Values to write go through the value service's checks; a value it refuses is a
    conflict and the others are checked again (a rule may relate values of one batch)."""
    checked: list[CheckedValue] = []
    while candidates:
        try:
            checked = value_service.check(session, [item for _, item in candidates], "values")
            break
        except InvalidInput as error:
            refused: dict[int, FieldError] = {}
            for refusal in error.errors:
                parts = refusal.field.split(".")
                if len(parts) >= 3 and parts[0] == "values" and parts[1].isdigit():
                    refused.setdefault(int(parts[1]), refusal)
            if not refused:
                raise
            for position, refusal in refused.items():
                column_key = CORE_FIELDS.get(refusal.field.split(".")[2], "value")
                outcome.conflicts.append(
                    _row_conflict(
                        errors,
                        candidates[position][0],
                        column_key,
                        refusal.message.vi,
                        refusal.message.en,
                    )
                )
            candidates = [c for i, c in enumerate(candidates) if i not in refused]
    return candidates, checked


def _stored_deletions(
    session: Session,
    deletions: list[ParsedRow],
    errors: ImportErrors,
    outcome: DataValueSetImport,
) -> list[tuple[ParsedRow, int, tuple[int, int, str]]]:
    """Deletions name a stored value: element and unit must exist. Each kept deletion
    with its unit id and the stored value's key (element id, unit id, period)."""
    elements = repository.elements_by_codes(session, {r.element_code for r in deletions})
    units = repository.unit_ids_by_ref(session, {(r.unit_set, r.unit_code) for r in deletions})
    to_delete: list[tuple[ParsedRow, int, tuple[int, int, str]]] = []
    for r in deletions:
        element = elements.get(r.element_code)
        unit_id = units.get((r.unit_set, r.unit_code))
        if element is None:
            outcome.conflicts.append(
                _row_conflict(
                    errors,
                    r,
                    "element_code",
                    f"không có chỉ tiêu dữ liệu «{r.element_code}»",
                    f"no data element «{r.element_code}»",
                )
            )
        elif unit_id is None:
            outcome.conflicts.append(
                _row_conflict(
                    errors,
                    r,
                    "unit_code",
                    f"không có đơn vị {r.unit_code} trong bộ {r.unit_set.value}",
                    f"no unit {r.unit_code} in the {r.unit_set.value} set",
                )
            )
        else:
            to_delete.append((r, unit_id, (element.id, unit_id, r.period)))
    return to_delete


def _authorise_units(
    written: list[tuple[ParsedRow, int]],
    authorise: Callable[[int, str, str], None] | None,
    errors: ImportErrors,
) -> None:
    """Who may write: checked once per unit; a forbidden unit refuses the whole document."""
    allowed: set[int] = set()
    for row, unit_id in written:
        if authorise is None or unit_id in allowed:
            continue
        where = errors.field(row.row, "unit_code")
        try:
            authorise(unit_id, f"{row.unit_code} ({row.unit_set.value})", where)
        except Forbidden as refusal:
            raise Forbidden(
                f"Mục {row.row}: {refusal.message.vi}",
                f"Item {row.row}: {refusal.message.en}",
                field=where,
            ) from refusal
        allowed.add(unit_id)


def _values_to_write(
    candidates: list[tuple[ParsedRow, ValueIn]],
    checked: list[CheckedValue],
    existing: dict[tuple[int, int, str], DataValue],
    errors: ImportErrors,
    outcome: DataValueSetImport,
) -> list[ValueIn]:
    """The checked values ``importStrategy`` lets through, counted as imported or updated;
    the others are conflicts."""
    to_write: list[ValueIn] = []
    for (r, item), c in zip(candidates, checked, strict=True):
        stored = (c.element.id, c.unit_id, c.period) in existing
        if stored and outcome.strategy is ImportStrategy.CREATE:
            outcome.conflicts.append(
                _row_conflict(
                    errors,
                    r,
                    "value",
                    "đã có giá trị và importStrategy là CREATE",
                    "a value exists and importStrategy is CREATE",
                )
            )
        elif not stored and outcome.strategy is ImportStrategy.UPDATE:
            outcome.conflicts.append(
                _row_conflict(
                    errors,
                    r,
                    "value",
                    "chưa có giá trị để cập nhật và importStrategy là UPDATE",
                    "no value to update and importStrategy is UPDATE",
                )
            )
        else:
            to_write.append(item)
            if stored:
                outcome.updated += 1
            else:
                outcome.imported += 1
    return to_write


def _values_to_delete(
    to_delete: list[tuple[ParsedRow, int, tuple[int, int, str]]],
    existing: dict[tuple[int, int, str], DataValue],
    errors: ImportErrors,
    outcome: DataValueSetImport,
) -> list[int]:
    """The ids of the stored values the deletions name, counted as deleted; a deletion
    with nothing stored is a conflict."""
    doomed: list[int] = []
    for r, _, stored_key in to_delete:
        value = existing.get(stored_key)
        if value is None:
            outcome.conflicts.append(
                _row_conflict(
                    errors, r, "value", "không có giá trị để xoá", "no stored value to delete"
                )
            )
        else:
            doomed.append(value.id)
    outcome.deleted = len(doomed)
    return doomed


def export_data_value_set(
    session: Session,
    *,
    unit_set: UnitSet = UnitSet.CURRENT,
    elements: Sequence[str] = (),
    units: Sequence[str] = (),
    periods: Sequence[str] = (),
    year: int | None = None,
) -> dict[str, Any]:
    """Stored values of one unit set as a ``dataValueSets`` document (import reads it back)."""
    rows = value_rows(
        session, elements=elements, unit_set=unit_set, units=units, periods=periods, year=year
    )
    data_values = []
    for value, element, (_, code, _), author in rows:
        entry: dict[str, Any] = {
            "dataElement": element.code,
            "period": to_dhis2_period(value.period),
            "orgUnit": code,
            "value": dhis2_value(value.value),
            "storedBy": author or value.source.value,
            "lastUpdated": value.entered_at.isoformat(timespec="seconds"),
            "followup": False,
        }
        if value.comment:
            entry["comment"] = value.comment
        data_values.append(entry)
    return {UNIT_SET_KEY: unit_set.value, "dataValues": data_values}
