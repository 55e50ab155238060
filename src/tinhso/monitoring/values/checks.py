"""The checks of one value before it is written: the element and unit exist, the unit
existed during the period (the legacy set until 30/06/2025, the current one from 01/07/2025),
the period has ended (or the element allows estimates), and the value is of the element's
type, sign and bounds. The batch-wide checks (validation rules between values, locked
reports) are the value service's."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from tinhso.core.calendar import VIETNAM
from tinhso.core.errors import InvalidInput, Message
from tinhso.monitoring.models import DataElement, ValueSource, ValueType
from tinhso.monitoring.periods import Period, parse_period
from tinhso.monitoring.values.number_format import read_value
from tinhso.registry.models import UnitSet
from tinhso.registry.unit_catalogue import CURRENT_VALID_FROM, LEGACY_VALID_TO

if TYPE_CHECKING:
    from tinhso.monitoring.schemas import ValueIn

_TYPE_VI = {
    ValueType.INTEGER: "số nguyên",
    ValueType.NUMBER: "số",
    ValueType.PERCENTAGE: "tỷ lệ phần trăm (0-100)",
    ValueType.BOOLEAN: "giá trị có/không (0 hoặc 1)",
}
_TYPE_EN = {
    ValueType.INTEGER: "an integer",
    ValueType.NUMBER: "a number",
    ValueType.PERCENTAGE: "a percentage (0-100)",
    ValueType.BOOLEAN: "a yes/no value (0 or 1)",
}


@dataclass
class CheckedValue:
    item: ValueIn
    element: DataElement
    unit_id: int
    period: str
    year: int
    value: float


def today_in_vietnam() -> date:
    """The date by which a period has ended or not (the province's own calendar day)."""
    return datetime.now(VIETNAM).date()


def unit_set_validity(unit_set: UnitSet) -> tuple[date | None, date | None]:
    """(valid from, valid to) of the units of a set: the legacy units until 30/06/2025, the
    current ones from 01/07/2025 (the dates the registry gives every unit of the set; taken
    from the set, so a batch costs no query per unit)."""
    if unit_set is UnitSet.LEGACY:
        return None, LEGACY_VALID_TO
    return CURRENT_VALID_FROM, None


def outside_validity(
    period: Period, valid: tuple[date | None, date | None]
) -> tuple[str, str] | None:
    """Why a unit takes no value for ``period`` (it did not exist during any of it), or None."""
    valid_from, valid_to = valid
    if valid_to is not None and period.start > valid_to:
        day = valid_to.strftime("%d/%m/%Y")
        return (
            f"đơn vị chỉ tồn tại đến {day}, không nhận số liệu kỳ {period.code}",
            f"the unit existed only until {day} and takes no value for {period.code}",
        )
    if valid_from is not None and period.end < valid_from:
        day = valid_from.strftime("%d/%m/%Y")
        return (
            f"đơn vị chỉ tồn tại từ {day}, không nhận số liệu kỳ {period.code}",
            f"the unit exists only from {day} and takes no value for {period.code}",
        )
    return None


def timing_refusal(
    element: DataElement, period: Period, valid: tuple[date | None, date | None], today: date
) -> tuple[str, str, str] | None:
    """(field, vi, en) if the unit did not exist in the period, or the period has not
    ended (an element allowing estimates takes values for the current period, never for
    one that has not started)."""
    outside = outside_validity(period, valid)
    if outside is not None:
        return ("unit", *outside)
    if period.end < today:
        return None
    if period.start > today:
        return (
            "period",
            f"kỳ {period.code} chưa bắt đầu: chỉ nhận số liệu của kỳ đã kết thúc",
            (
                f"period {period.code} has not started: only periods that have ended take "
                "actual values"
            ),
        )
    if element.allows_estimates:
        return None
    return (
        "period",
        (
            f"kỳ {period.code} chưa kết thúc: chỉ nhận số liệu thực hiện của kỳ đã kết thúc "
            "(chỉ tiêu không cho phép số ước tính)"
        ),
        (
            f"period {period.code} has not ended: only periods that have ended take actual "
            "values (the element does not allow estimates)"
        ),
    )


def bounds_refusal(
    element: DataElement, number: float | None, problem: Message | None
) -> tuple[str, str] | None:
    """(vi, en) if the value is not of the element's type or breaks its sign or bounds."""
    if number is None or problem is not None:
        message = problem or Message("không hợp lệ", "is not valid")
        return f"sai kiểu dữ liệu: {message.vi}", f"wrong value type: {message.en}"
    if element.non_negative and number < 0:
        return (
            "là số âm, chỉ tiêu không nhận giá trị âm (quy tắc: không âm)",
            "is negative, and the element takes no negative values (rule: non-negative)",
        )
    if element.min_value is not None and number < element.min_value:
        return (
            f"nhỏ hơn giới hạn dưới {element.min_value:g} (quy tắc: giới hạn giá trị)",
            f"below the lower bound {element.min_value:g} (rule: bounds)",
        )
    if element.max_value is not None and number > element.max_value:
        return (
            f"lớn hơn giới hạn trên {element.max_value:g} (quy tắc: giới hạn giá trị)",
            f"above the upper bound {element.max_value:g} (rule: bounds)",
        )
    return None


def value_label(item: ValueIn) -> str:
    return f"{item.element_code} = {item.value!r} ({item.unit.unit_set.value} {item.unit.code}, {item.period})"


def coerce_value(  # noqa: PLR0911 - one return per type check
    element: DataElement, raw: object
) -> tuple[float | None, Message | None]:
    """The raw value as a number of the element's type, or why it is not one."""
    expected = Message(
        f"phải là {_TYPE_VI[element.value_type]}", f"must be {_TYPE_EN[element.value_type]}"
    )
    if isinstance(raw, bool):
        if element.value_type is ValueType.BOOLEAN:
            return (1.0 if raw else 0.0), None
        return None, expected
    if isinstance(raw, str):
        read, problem = read_value(raw, None, element.value_type)
        if read is None:
            return None, problem or expected
        raw = read
    if not isinstance(raw, int | float):
        return None, expected
    number = float(raw)
    if not math.isfinite(number):
        return None, expected
    if element.value_type is ValueType.INTEGER and not number.is_integer():
        return None, expected
    if element.value_type is ValueType.BOOLEAN and number not in {0.0, 1.0}:
        return None, expected
    if element.value_type is ValueType.PERCENTAGE and not 0 <= number <= 100:
        return None, expected
    return number, None


def checked_item(  # noqa: PLR0911 - one return per check, as coerce_value
    item: ValueIn,
    position: int,
    elements: dict[str, DataElement],
    units: dict[tuple[UnitSet, str], int],
    today: date,
    provenance_source: ValueSource | None,
    seen: dict[tuple[int, int, str], int],
) -> CheckedValue | tuple[str, str, str]:
    """One value of a batch checked, or (field, vi, en) saying why it is refused: element
    and unit exist, the period fits the element and the unit's lifetime and has ended,
    the value is of the element's type and within its bounds, an automatic value cites its
    audit record, and the batch holds no other value for the same cell (``seen``)."""
    element = elements.get(item.element_code)
    if element is None:
        return (
            "element_code",
            f"chỉ tiêu dữ liệu {item.element_code} không tồn tại",
            f"data element {item.element_code} does not exist",
        )
    unit_id = units.get((UnitSet(item.unit.unit_set), item.unit.code))
    if unit_id is None:
        return (
            "unit",
            f"đơn vị hành chính {item.unit.code} ({item.unit.unit_set.value}) không tồn tại",
            f"administrative unit {item.unit.code} ({item.unit.unit_set.value}) does not exist",
        )
    try:
        period = parse_period(item.period, element.period_type)
    except InvalidInput as error:
        return ("period", error.message.vi, error.message.en)
    refusal = timing_refusal(element, period, unit_set_validity(UnitSet(item.unit.unit_set)), today)
    if refusal is not None:
        return refusal
    number, problem = coerce_value(element, item.value)
    refused = bounds_refusal(element, number, problem)
    if number is None or refused is not None:
        return ("value", *(refused or ("không hợp lệ", "is not valid")))
    source = provenance_source or item.source
    if source is ValueSource.AUTOMATIC and not item.audit_record_id:
        return (
            "audit_record_id",
            "số liệu thu thập tự động phải dẫn chiếu bản ghi nhật ký trao đổi",
            "an automatically collected value must cite its exchange audit record",
        )
    key = (element.id, unit_id, period.code)
    if key in seen:
        return (
            "period",
            f"trùng với số liệu thứ {seen[key] + 1} trong cùng lô",
            f"duplicates value {seen[key] + 1} of the same batch",
        )
    seen[key] = position
    return CheckedValue(item, element, unit_id, period.code, period.year, number)
