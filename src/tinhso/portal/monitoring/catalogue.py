"""What the monitoring pages read from the monitoring domain, in one place.

Everything goes through the monitoring domain's own functions (its service,
repository and API handlers called as plain functions), never through its tables:
the lists of plans, targets, indicators and methodologies, an indicator's series,
and the stored values with their provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinhso.core.errors import InvalidInput
from tinhso.core.i18n import current_locale
from tinhso.monitoring import repository
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.progress.service import TREE_NOTES, progress_service
from tinhso.monitoring.read_models import catalogue_reader
from tinhso.monitoring.transfer.tables import value_rows
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import DataElement, Indicator
    from tinhso.monitoring.schemas import (
        ComputedValue,
        IndicatorOut,
        MethodologyOut,
        PillarOut,
        PlanOut,
        TargetOut,
    )
    from tinhso.registry.auth import Principal


def localised(vi: str, en: str | None) -> str:
    """The English text on the English portal when there is one, else the Vietnamese."""
    return en if current_locale.get() == "en" and en else vi


def tree_note(tree: Tree) -> str:
    vi, en = TREE_NOTES[tree]
    return localised(vi, en)


def period_key(period: str) -> float:
    try:
        return parse_period(period).position
    except InvalidInput:  # an odd stored code sorts last rather than failing the page
        return float("inf")


def period_label(period: str) -> str:
    """``2025-Q3`` → ``Quý 3/2025``; ``2025-07`` → ``07/2025``; ``2025`` → ``2025``."""
    if "-Q" in period:
        year, quarter = period.split("-Q")
        return f"{'Quý' if current_locale.get() == 'vi' else 'Q'} {quarter}/{year}"
    if "-" in period:
        year, month = period.split("-")
        return f"{month}/{year}"
    return period


def plans(session: Session, principal: Principal) -> list[PlanOut]:
    return catalogue_reader.plans(session)


def targets(session: Session, principal: Principal, plan_code: str) -> list[TargetOut]:
    return catalogue_reader.targets(session, plan_code)


def indicators(session: Session, principal: Principal) -> list[IndicatorOut]:
    return catalogue_reader.indicators(session)


def methodologies(session: Session, principal: Principal) -> list[MethodologyOut]:
    return catalogue_reader.methodologies(session)


def pillars(session: Session, principal: Principal) -> list[PillarOut]:
    return catalogue_reader.pillars(session)


def elements(session: Session) -> list[DataElement]:
    return sorted(repository.all_elements(session), key=lambda e: e.code)


def indicator_targets(
    session: Session, principal: Principal, indicator_code: str
) -> list[tuple[PlanOut, TargetOut]]:
    """Every plan target set on one indicator, with its plan."""
    found: list[tuple[PlanOut, TargetOut]] = []
    for plan in plans(session, principal):
        if not plan.targets:
            continue
        found.extend(
            (plan, target)
            for target in targets(session, principal, plan.code)
            if target.indicator_code == indicator_code
        )
    return found


def indicator_periods(session: Session, indicator: Indicator) -> list[str]:
    """Every period with a stored value of one of the indicator's elements, in time order
    (kept with the computed figures until a value or the formula changes)."""
    kept = progress_service.indicator_periods_each(session, [indicator])[indicator.id]
    return sorted(kept, key=period_key)


def series(
    session: Session,
    indicator: Indicator,
    tree: Tree,
    *,
    units: list[str] | None = None,
    level: UnitLevel | None = None,
    parent: str | None = None,
) -> list[ComputedValue]:
    """The indicator over every period with data, for units of one tree (None values dropped)."""
    periods = indicator_periods(session, indicator)
    if not periods:
        return []
    unit_set = UnitSet(tree.value)
    found = progress_service.indicator_values(
        session,
        indicator,
        periods,
        tree,
        level=level,
        parent=UnitRef(unit_set=unit_set, code=parent) if parent else None,
        units=[UnitRef(unit_set=unit_set, code=code) for code in units] if units else None,
    )
    return [value for value in found if value.value is not None]


@dataclass(frozen=True)
class StoredValue:
    element_code: str
    element_name: str
    unit_set: UnitSet
    unit_code: str
    unit_name: str
    period: str
    value: float
    qualifier: str | None
    source: str
    source_reference: str | None
    audit_record_id: str | None
    comment: str | None
    entered_by: str | None
    entered_at: object
    version: int


def stored_values(
    session: Session,
    element_codes: list[str],
    unit_set: UnitSet,
    unit_codes: list[str],
    periods: list[str] | None = None,
) -> list[StoredValue]:
    """The recorded values behind an indicator, with who entered them, when and from where."""
    if not element_codes or not unit_codes:
        return []
    rows = value_rows(
        session,
        elements=element_codes,
        unit_set=unit_set,
        units=unit_codes,
        periods=periods or (),
    )
    found = [
        StoredValue(
            element_code=element.code,
            element_name=localised(element.name_vi, element.name_en),
            unit_set=unit[0],
            unit_code=unit[1],
            unit_name=unit[2],
            period=value.period,
            value=value.value,
            qualifier=value.qualifier,
            source=value.source.value,
            source_reference=value.source_reference,
            audit_record_id=value.audit_record_id,
            comment=value.comment,
            entered_by=author,
            entered_at=value.entered_at,
            version=value.version,
        )
        for value, element, unit, author in rows
    ]
    found.sort(key=lambda v: (v.unit_code, -period_key(v.period), v.element_code))
    return found


@dataclass(frozen=True)
class UnitChoice:
    id: int
    unit_set: UnitSet
    code: str
    name: str
    level: UnitLevel
    depth: int


def units_of_level(session: Session, unit_set: UnitSet, level: UnitLevel) -> list[UnitChoice]:
    key = (unit_set, level, None)
    ids = unit_service.ids_at_levels(session, [key])[key]
    nodes = sorted(unit_service.nodes(session, ids).values(), key=lambda node: node.code)
    return [
        UnitChoice(node.id, node.unit_set, node.code, node.name, node.level, 0) for node in nodes
    ]


def unit_subtree(session: Session, root_id: int, max_units: int = 1500) -> list[UnitChoice]:
    """A unit and the units below it (depth first), at most ``max_units``, in one query."""
    return unit_subtrees(session, [root_id], max_units).get(root_id, [])


def unit_subtrees(
    session: Session, root_ids: list[int], max_units: int = 1500
) -> dict[int, list[UnitChoice]]:
    """`unit_subtree` of each of some units, in one query for them all."""
    return {
        root_id: [
            UnitChoice(node.id, node.unit_set, node.code, node.name, node.level, node.depth)
            for node in nodes[:max_units]
        ]
        for root_id, nodes in unit_service.subtrees(session, root_ids).items()
    }
