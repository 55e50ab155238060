"""Monitoring queries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, tuple_

from tinhso.monitoring.models import (
    DataElement,
    DataValue,
    DataValueCorrection,
    Indicator,
    Methodology,
    MethodologyComponent,
    Pillar,
    Plan,
    Target,
    ValidationRule,
)
from tinhso.registry.models import AdministrativeUnit, UnitLevel, UnitSet

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Select
    from sqlalchemy.orm import Session


def page(session: Session, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    return rows, total


def pillar_by_code(session: Session, code: str) -> Pillar | None:
    return session.scalar(select(Pillar).where(Pillar.code == code))


def pillars(session: Session) -> Sequence[Pillar]:
    return session.scalars(select(Pillar).order_by(Pillar.position, Pillar.code)).all()


def element_by_code(session: Session, code: str) -> DataElement | None:
    return session.scalar(select(DataElement).where(DataElement.code == code))


def elements_by_codes(session: Session, codes: Iterable[str]) -> dict[str, DataElement]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = session.scalars(select(DataElement).where(DataElement.code.in_(wanted)))
    return {row.code: row for row in rows}


def all_elements(session: Session) -> Sequence[DataElement]:
    return session.scalars(select(DataElement).order_by(DataElement.code)).all()


def element_codes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(DataElement.id, DataElement.code).where(DataElement.id.in_(wanted))
    )
    return {row.id: row.code for row in rows}


def indicator_by_code(session: Session, code: str) -> Indicator | None:
    return session.scalar(select(Indicator).where(Indicator.code == code))


def indicators_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Indicator]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        row.id: row for row in session.scalars(select(Indicator).where(Indicator.id.in_(wanted)))
    }


def indicators_reading(session: Session, element_code: str) -> list[Indicator]:
    """Indicators whose formula may read an element (a text match, checked by the caller)."""
    return list(session.scalars(select(Indicator).where(Indicator.formula.contains(element_code))))


def rule_by_code(session: Session, code: str) -> ValidationRule | None:
    return session.scalar(select(ValidationRule).where(ValidationRule.code == code))


def all_rules(session: Session) -> Sequence[ValidationRule]:
    return session.scalars(select(ValidationRule).order_by(ValidationRule.code)).all()


def plan_by_code(session: Session, code: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.code == code))


def target_counts(session: Session, plan_ids: Iterable[int]) -> dict[int, int]:
    wanted = set(plan_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Target.plan_id, func.count())
        .where(Target.plan_id.in_(wanted))
        .group_by(Target.plan_id)
    )
    return {int(row[0]): int(row[1]) for row in rows}


def targets_of(session: Session, plan_id: int) -> Sequence[Target]:
    return session.scalars(
        select(Target).where(Target.plan_id == plan_id).order_by(Target.year, Target.id)
    ).all()


def values_at(
    session: Session, keys: Iterable[tuple[int, int, str]]
) -> dict[tuple[int, int, str], DataValue]:
    """Stored values by (element id, unit id, period)."""
    wanted = list(set(keys))
    found: dict[tuple[int, int, str], DataValue] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.scalars(
            select(DataValue).where(
                tuple_(DataValue.data_element_id, DataValue.unit_id, DataValue.period).in_(chunk)
            )
        )
        for row in rows:
            found[(row.data_element_id, row.unit_id, row.period)] = row
    return found


def values_for_cells(
    session: Session, element_ids: Iterable[int], cells: Iterable[tuple[int, str]]
) -> dict[tuple[int, int, str], float]:
    """Values of some elements at some (unit id, period) cells, for validation rules."""
    ids = set(element_ids)
    wanted = list(set(cells))
    found: dict[tuple[int, int, str], float] = {}
    if not ids or not wanted:
        return found
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(DataValue.data_element_id, DataValue.unit_id, DataValue.period, DataValue.value)
            .where(DataValue.data_element_id.in_(ids))
            .where(tuple_(DataValue.unit_id, DataValue.period).in_(chunk))
        )
        for row in rows:
            found[(row[0], row[1], row[2])] = float(row[3])
    return found


def corrections_of(session: Session, value_id: int) -> Sequence[DataValueCorrection]:
    return session.scalars(
        select(DataValueCorrection)
        .where(DataValueCorrection.data_value_id == value_id)
        .order_by(DataValueCorrection.version)
    ).all()


def periods_with_values(
    session: Session, element_ids: Iterable[int], up_to_year: int | None = None
) -> list[str]:
    ids = set(element_ids)
    if not ids:
        return []
    query = select(DataValue.period).where(DataValue.data_element_id.in_(ids)).distinct()
    if up_to_year is not None:
        query = query.where(DataValue.year <= up_to_year)
    return [str(row) for row in session.scalars(query)]


def methodology_by_code(session: Session, code: str) -> Methodology | None:
    return session.scalar(select(Methodology).where(Methodology.code == code))


def components_of(session: Session, methodology_id: int) -> Sequence[MethodologyComponent]:
    return session.scalars(
        select(MethodologyComponent)
        .where(MethodologyComponent.methodology_id == methodology_id)
        .order_by(MethodologyComponent.position, MethodologyComponent.id)
    ).all()


def ids_by_code(session: Session, model: Any, codes: Iterable[str]) -> dict[str, int]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.code).where(model.code.in_(wanted)))
    return {row.code: row.id for row in rows}


def codes_by_id(session: Session, model: Any, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.code).where(model.id.in_(wanted)))
    return {row.id: row.code for row in rows}


# --- administrative units (read-only) ---------------------------------------------------
# The unit tree is the registry's; computations join it in SQL anyway, and the registry
# offers no bulk "id -> name/parent" lookup, so these read it directly (never write).


def unit_rows(
    session: Session, ids: Iterable[int]
) -> dict[int, tuple[UnitSet, str, str, int | None]]:
    """id -> (unit set, code, name, parent id)."""
    wanted = set(ids)
    found: dict[int, tuple[UnitSet, str, str, int | None]] = {}
    listed = list(wanted)
    for start in range(0, len(listed), 1000):
        rows = session.execute(
            select(
                AdministrativeUnit.id,
                AdministrativeUnit.unit_set,
                AdministrativeUnit.code,
                AdministrativeUnit.name,
                AdministrativeUnit.parent_id,
            ).where(AdministrativeUnit.id.in_(listed[start : start + 1000]))
        )
        for row in rows:
            found[row.id] = (row.unit_set, row.code, row.name, row.parent_id)
    return found


def unit_ids_by_ref(
    session: Session, refs: Iterable[tuple[UnitSet, str]]
) -> dict[tuple[UnitSet, str], int]:
    wanted = list(set(refs))
    found: dict[tuple[UnitSet, str], int] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(
                AdministrativeUnit.id, AdministrativeUnit.unit_set, AdministrativeUnit.code
            ).where(
                tuple_(AdministrativeUnit.unit_set, AdministrativeUnit.code).in_(
                    [(unit_set.value, code) for unit_set, code in wanted[start : start + 500]]
                )
            )
        )
        for row in rows:
            found[(UnitSet(row.unit_set), row.code)] = row.id
    return found


def unit_ancestor_ids(session: Session, unit_id: int) -> list[int]:
    """The unit and its parents, nearest first (at most three levels)."""
    chain: list[int] = []
    current: int | None = unit_id
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = session.scalar(
            select(AdministrativeUnit.parent_id).where(AdministrativeUnit.id == current)
        )
    return chain


def units_at_level(
    session: Session, unit_set: UnitSet, level: UnitLevel, below: int | None
) -> list[int]:
    """Units of a level, optionally only those below one unit (any depth)."""
    query = select(AdministrativeUnit.id, AdministrativeUnit.parent_id).where(
        AdministrativeUnit.unit_set == unit_set, AdministrativeUnit.level == level
    )
    rows = list(session.execute(query))
    if below is None:
        return [row.id for row in rows]
    parents = {
        row.id: row.parent_id
        for row in session.execute(
            select(AdministrativeUnit.id, AdministrativeUnit.parent_id).where(
                AdministrativeUnit.unit_set == unit_set
            )
        )
    }
    found = []
    for row in rows:
        current = row.parent_id
        while current is not None:
            if current == below:
                found.append(row.id)
                break
            current = parents.get(current)
    return found


def unit_levels(session: Session, ids: Iterable[int]) -> dict[int, UnitLevel]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(AdministrativeUnit.id, AdministrativeUnit.level).where(
            AdministrativeUnit.id.in_(wanted)
        )
    )
    return {row.id: UnitLevel(row.level) for row in rows}
