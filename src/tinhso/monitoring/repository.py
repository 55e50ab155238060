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
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.orm import Session

    from tinhso.registry.models import UnitLevel, UnitSet


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


def indicators_by_codes(session: Session, codes: Iterable[str]) -> dict[str, Indicator]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = session.scalars(select(Indicator).where(Indicator.code.in_(sorted(wanted))))
    return {row.code: row for row in rows}


def indicators_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Indicator]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        row.id: row for row in session.scalars(select(Indicator).where(Indicator.id.in_(wanted)))
    }


def all_indicators(session: Session) -> Sequence[Indicator]:
    return session.scalars(select(Indicator).order_by(Indicator.code)).all()


def elements_with_values(session: Session) -> Sequence[str]:
    """Codes of the data elements with at least one stored value."""
    return session.scalars(
        select(DataElement.code).where(
            select(DataValue.id).where(DataValue.data_element_id == DataElement.id).exists()
        )
    ).all()


def published_indicators(session: Session) -> Sequence[Indicator]:
    return session.scalars(
        select(Indicator)
        .where(Indicator.open_data_publisher_id.is_not(None))
        .order_by(Indicator.code)
    ).all()


def indicators_reading(session: Session, element_code: str) -> list[Indicator]:
    """Indicators whose formula may read an element (a text match, checked by the caller)."""
    return list(session.scalars(select(Indicator).where(Indicator.formula.contains(element_code))))


def rule_by_code(session: Session, code: str) -> ValidationRule | None:
    return session.scalar(select(ValidationRule).where(ValidationRule.code == code))


def all_rules(session: Session) -> Sequence[ValidationRule]:
    return session.scalars(select(ValidationRule).order_by(ValidationRule.code)).all()


def plan_by_code(session: Session, code: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.code == code))


def plans_by_codes(session: Session, codes: Iterable[str]) -> dict[str, Plan]:
    wanted = set(codes)
    if not wanted:
        return {}
    return {row.code: row for row in session.scalars(select(Plan).where(Plan.code.in_(wanted)))}


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


def targets_of_plans(session: Session, plan_ids: Iterable[int]) -> Sequence[Target]:
    """The targets of several plans, by year then id."""
    wanted = set(plan_ids)
    if not wanted:
        return []
    return session.scalars(
        select(Target).where(Target.plan_id.in_(sorted(wanted))).order_by(Target.year, Target.id)
    ).all()


def targets_of_indicators(session: Session, indicator_ids: Iterable[int]) -> Sequence[Target]:
    """Every target of several indicators, by year then id."""
    wanted = set(indicator_ids)
    if not wanted:
        return []
    return session.scalars(
        select(Target)
        .where(Target.indicator_id.in_(sorted(wanted)))
        .order_by(Target.year, Target.id)
    ).all()


def indicator_targets(
    session: Session, indicator_id: int, unit_set: UnitSet, from_year: int
) -> Sequence[Target]:
    """The targets of an indicator on a unit set for a year not before ``from_year``."""
    return session.scalars(
        select(Target)
        .where(
            Target.indicator_id == indicator_id,
            Target.scope_unit_set == unit_set,
            Target.year >= from_year,
        )
        .order_by(Target.year, Target.id)
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


def element_periods(session: Session, element_ids: Iterable[int]) -> list[tuple[int, str, int]]:
    """(element id, period, year) of every period with a stored value of these elements."""
    ids = set(element_ids)
    if not ids:
        return []
    query = (
        select(DataValue.data_element_id, DataValue.period, DataValue.year)
        .where(DataValue.data_element_id.in_(sorted(ids)))
        .distinct()
    )
    return [(int(row[0]), str(row[1]), int(row[2])) for row in session.execute(query)]


def methodology_by_code(session: Session, code: str) -> Methodology | None:
    return session.scalar(select(Methodology).where(Methodology.code == code))


def components_of(session: Session, methodology_id: int) -> Sequence[MethodologyComponent]:
    return session.scalars(
        select(MethodologyComponent)
        .where(MethodologyComponent.methodology_id == methodology_id)
        .order_by(MethodologyComponent.position, MethodologyComponent.id)
    ).all()


def components_by_methodology(
    session: Session, methodology_ids: Iterable[int]
) -> dict[int, list[MethodologyComponent]]:
    """The components of several methodologies in one query, each list in position order."""
    wanted = set(methodology_ids)
    found: dict[int, list[MethodologyComponent]] = {m: [] for m in wanted}
    if not wanted:
        return found
    rows = session.scalars(
        select(MethodologyComponent)
        .where(MethodologyComponent.methodology_id.in_(wanted))
        .order_by(MethodologyComponent.position, MethodologyComponent.id)
    )
    for component in rows:
        found[component.methodology_id].append(component)
    return found


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
# The unit tree is the registry's: these read it through its unit service, in bulk.
# (The SQL computations in `computation` still join `administrative_unit` directly: they
# aggregate nation-wide in one statement, which service calls cannot do.)


def unit_rows(
    session: Session, ids: Iterable[int]
) -> dict[int, tuple[UnitSet, str, str, int | None]]:
    """id -> (unit set, code, name, parent id)."""
    return {
        unit_id: (node.unit_set, node.code, node.name, node.parent_id)
        for unit_id, node in unit_service.nodes(session, ids).items()
    }


def unit_ids_by_ref(
    session: Session, refs: Iterable[tuple[UnitSet, str]]
) -> dict[tuple[UnitSet, str], int]:
    return unit_service.ids_by_ref(session, refs)


def unit_ancestor_ids(session: Session, unit_id: int) -> list[int]:
    """The unit and its parents, nearest first."""
    return unit_service.ancestor_ids(session, unit_id)


def units_at_level(
    session: Session, unit_set: UnitSet, level: UnitLevel, below: int | None
) -> list[int]:
    """Units of a level, optionally only those below one unit (any depth)."""
    return unit_service.ids_at_levels(session, [(unit_set, level, below)])[(unit_set, level, below)]


def unit_levels(session: Session, ids: Iterable[int]) -> dict[int, UnitLevel]:
    return {unit_id: node.level for unit_id, node in unit_service.nodes(session, ids).items()}
