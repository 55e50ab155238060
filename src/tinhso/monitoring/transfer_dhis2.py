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

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tinhso.core.errors import InvalidInput
from tinhso.core.text import control_character
from tinhso.monitoring.transfer import (
    MAX_ROWS,
    FileTooLarge,
    ImportErrors,
    clean_file_name,
    parse_period_cell,
    parse_unit_set,
    unit_set_of_period,
)
from tinhso.monitoring.transfer_import import ImportResult, ParsedRow, import_values
from tinhso.monitoring.transfer_tables import value_rows
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
    payload: object, default_unit_set: UnitSet | None
) -> tuple[list[ParsedRow], ImportErrors]:
    """The values of a ``dataValueSets`` document, and the errors found reading them."""
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
        row = _parse_item(index, item, payload, unit_set_default, errors)
        if row is not None:
            rows.append(row)
    return rows, errors


def _parse_item(
    index: int,
    item: object,
    payload: dict[str, Any],
    unit_set_default: UnitSet | None,
    errors: ImportErrors,
) -> ParsedRow | None:
    if not isinstance(item, dict):
        errors.add(index, "value", None, "phải là đối tượng JSON", "must be a JSON object")
        return None
    before = len(errors.items)
    if item.get("deleted") is True:
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
    element = item.get("dataElement")
    org_unit = item.get("orgUnit", payload.get("orgUnit"))
    period_raw = item.get("period", payload.get("period"))
    for key, raw in (("element_code", element), ("unit_code", org_unit), ("period", period_raw)):
        if not isinstance(raw, str) or not raw.strip():
            errors.add(index, key, raw, "thiếu hoặc không phải chuỗi", "missing or not a string")
    raw_value = item.get("value")
    value = _number(raw_value)
    if value is None:
        errors.add(
            index,
            "value",
            raw_value,
            f"«{raw_value}» không phải là số (dạng 1380 hoặc 47.85)",
            f"«{raw_value}» is not a number (like 1380 or 47.85)",
        )
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
    comment = item.get("comment")
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
        return None
    if period is None or unit_set is None or value is None:
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
        },
    )


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


def import_summary(result: ImportResult) -> dict[str, Any]:
    """What DHIS2 answers to an import, for tools that read it."""
    return {
        "responseType": "ImportSummary",
        "status": "SUCCESS",
        "description": f"Import process completed successfully ({result.file_name})",
        "importCount": {
            "imported": result.inserted,
            "updated": result.corrected,
            "ignored": result.unchanged,
            "deleted": 0,
        },
        "conflicts": [],
    }


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
