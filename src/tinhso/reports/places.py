"""Where a report is: the administrative unit of the current (01/07/2025) set it falls in.

A reporter picks a unit by its code, or types a commune's name. A name is looked up in the
current set first; a name found only among the legacy (pre-01/07/2025) communes is carried to
the current unit it became part of. A name that fits several units is refused, listing every
reading, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinhso.core.errors import InvalidInput
from tinhso.registry.models import AdministrativeUnit, UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Place:
    unit: AdministrativeUnit
    as_typed: str  # the legacy name the reporter typed, when it was carried over ("")


def _reading(unit: AdministrativeUnit, parents: dict[int, str]) -> str:
    parent = parents.get(unit.parent_id) if unit.parent_id is not None else None
    return f"{unit.name} ({unit.code}{', ' + parent if parent else ''})"


def _ambiguous(session: Session, text: str, units: list[AdministrativeUnit], field: str) -> None:
    parent_ids = {unit.parent_id for unit in units if unit.parent_id is not None}
    parents = {
        unit_id: name for unit_id, (name, _) in unit_service.names(session, parent_ids).items()
    }
    readings = "; ".join(_reading(unit, parents) for unit in units)
    raise InvalidInput(
        f"“{text}” có thể là nhiều đơn vị: {readings}. Hãy chọn mã đơn vị.",
        f"“{text}” could be several units: {readings}. Please choose the unit code.",
        field=field,
    )


def place_of(
    session: Session, unit_code: str | None, unit_name: str | None, field: str = "unit"
) -> Place | None:
    """The current unit a report is in (None when neither a code nor a name is given)."""
    if unit_code:
        if len(unit_code) > 16:
            raise InvalidInput(
                "Mã đơn vị hành chính dài quá 16 ký tự",
                "An administrative unit code has at most 16 characters",
                field=field,
            )
        ref = UnitRef(unit_set=UnitSet.CURRENT, code=unit_code)
        return Place(unit_service.resolve(session, ref, field), "")
    if not unit_name or not unit_name.strip():
        return None
    current = unit_service.named(session, UnitSet.CURRENT, unit_name)
    if len(current) > 1:
        _ambiguous(session, unit_name, current, field)
    if current:
        return Place(current[0], "")
    legacy = unit_service.named(session, UnitSet.LEGACY, unit_name)
    if len(legacy) > 1:
        _ambiguous(session, unit_name, legacy, field)
    if not legacy:
        raise InvalidInput(
            f"Không tìm thấy đơn vị hành chính “{unit_name}”",
            f"No administrative unit is called “{unit_name}”",
            field=field,
        )
    successors = [current for _, current, _ in unit_service.successors(session, legacy[0].code)]
    if len(successors) > 1:
        _ambiguous(session, unit_name, successors, field)
    if not successors:
        raise InvalidInput(
            f"Đơn vị cũ “{unit_name}” không có đơn vị kế thừa từ 01/07/2025",
            f"The former unit “{unit_name}” has no successor since 01/07/2025",
            field=field,
        )
    return Place(successors[0], unit_name.strip())
