"""An indicator's figures for every period of a year, computed in one pass and kept.

Most questions a map, a ranking page or a wall of screens asks are new ones: another month of
an indicator someone looked at a moment ago. A ranking over the provinces or a unit's children
is therefore computed for every period of the asked type in the asked period's year, in one
statement, and kept per (indicator, periods, tree, level, parent) (over every commune or
district of the country, a period at a time: :func:`ranked_together`); the assessment against targets keeps what every period of a
year is assessed with (the targets chosen per unit, the units' observations up to that year,
the units' names) per (indicator, year, tree, units). Another period of the same year is then a
lookup (for the assessment, a few lines of Python per unit), and the answers are those of the
one-question computation (``ProgressService._compute_achievements_each`` and
``computation.ranking``).

Kept until a commit writes the units or the figures (``core.generations``: values, catalogue,
plans, unit trees), bounded by rows: a ranked unit, an assessed unit and an observation are a
row each. A year, not every period: the cold question costs a year's SQL, and an indicator's
year at commune level on the national set (3,321 communes x 12 months, ~40,000 rows) stays
well inside the bound, where all 120 months (~400,000 rows) would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinhso.core.generations import GenerationCache
from tinhso.monitoring import repository
from tinhso.monitoring.computation import indicators as computation
from tinhso.monitoring.computation.indicators import UnitFilter
from tinhso.monitoring.computation.specs import element_specs, indicator_spec
from tinhso.monitoring.models import FIGURES_GENERATION, PeriodType
from tinhso.monitoring.periods import Period, parse_period
from tinhso.monitoring.progress.trajectory import Goal, goal_of
from tinhso.monitoring.schemas import RankedUnit
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.computation.effective_values import Tree
    from tinhso.monitoring.models import Indicator, Target
    from tinhso.monitoring.progress.service import BasisName, ProgressService
    from tinhso.monitoring.schemas import Achievement
    from tinhso.registry.schemas import UnitRef

# (position, period, value), oldest first
Observation = tuple[float, str, float]


@dataclass(frozen=True)
class RankedYear:
    """The ranking of each period of a type in a year (every such period there), as (unit id,
    value, rank, basis) rows, and the ranked units' references and names: an answer's models
    are made for the period asked only."""

    by_period: dict[str, tuple[tuple[int, float, int, BasisName], ...]]
    units: dict[int, tuple[UnitRef, str]]

    def __len__(self) -> int:
        """The rows kept: what ``GenerationCache`` weighs."""
        return sum(len(rows) for rows in self.by_period.values())

    def ranked(self, period: str) -> list[RankedUnit]:
        return [
            RankedUnit(
                rank=rank,
                unit=self.units[unit_id][0],
                unit_name=self.units[unit_id][1],
                value=value,
                basis=basis,
            )
            for unit_id, value, rank, basis in self.by_period.get(period, ())
        ]


@dataclass(frozen=True)
class TargetTerms:
    """What an assessment reads of a target: its row copied, so that it is kept between
    sessions without an ORM object."""

    id: int
    year: int
    target_value: float | None
    target_low: float | None
    target_high: float | None
    baseline_value: float | None
    baseline_year: int | None

    @classmethod
    def of(cls, target: Target) -> TargetTerms:
        return cls(
            id=target.id,
            year=target.year,
            target_value=target.target_value,
            target_low=target.target_low,
            target_high=target.target_high,
            baseline_value=target.baseline_value,
            baseline_year=target.baseline_year,
        )


@dataclass(frozen=True)
class AssessedUnit:
    unit_id: int
    target: TargetTerms
    goal: Goal
    observations: tuple[Observation, ...]
    unit: tuple[UnitRef, str, int | None]  # (ref, name, parent id)


@dataclass(frozen=True)
class AssessedYear:
    """Each unit with a target for the year, in the one-question computation's order."""

    units: tuple[AssessedUnit, ...]

    def __len__(self) -> int:
        """The rows kept: a unit and each of its observations."""
        return sum(1 + len(unit.observations) for unit in self.units)


RANKED_YEARS: GenerationCache[RankedYear] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION), max_weight=200_000
)
ASSESSED_YEARS: GenerationCache[AssessedYear] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION), max_weight=200_000
)


def year_periods(period: Period) -> list[str]:
    """Every period of ``period``'s type in its year."""
    if period.type is PeriodType.YEAR:
        return [period.code]
    return [part.code for part in Period(period.year, 0, PeriodType.YEAR).parts(period.type)]


def ranked_together(when: Period, level: UnitLevel, parent: UnitRef | None) -> list[str]:
    """The periods ranked in one pass with ``when``: its year's, over the provinces or a
    unit's children (a province's communes: ~170 units x 12 months); ``when`` alone over
    every commune or district of the country, where the SQL's cost grows with the periods
    (12 months of 3,321 communes cost ~7 times one month) and another month of the same
    indicator is seldom asked next."""
    if parent is None and level is not UnitLevel.PROVINCE:
        return [when.code]
    return year_periods(when)


def ranking(
    service: ProgressService,
    session: Session,
    indicator: Indicator,
    period: str,
    tree: Tree,
    level: UnitLevel,
    parent: UnitRef | None,
) -> list[RankedUnit]:
    """Units ranked on the indicator for the period, from its year's rankings (a period at a
    time for every commune or district of the country: see :func:`ranked_together`)."""
    when = parse_period(period)
    unit_service.check_level(UnitSet(tree.value), level)
    parent_key = (UnitSet(parent.unit_set).value, parent.code) if parent is not None else None
    periods = ranked_together(when, level, parent)
    key = (indicator.id, tuple(periods), tree.value, level.value, parent_key)

    def compute() -> RankedYear:
        parent_id = service._unit_id(session, parent, "parent") if parent else None
        found = computation.rankings_by_period(
            computation.sqlalchemy_runner(session),
            indicator_spec(indicator),
            element_specs(session),
            periods,
            tree,
            UnitFilter(level=level, parent_id=parent_id),
        )
        refs = service._unit_refs(session, {r.unit_id for rows in found.values() for r in rows})
        return RankedYear(
            {
                code: tuple(
                    (row.unit_id, row.value, row.rank, service.basis_name(row.basis))
                    for row in rows
                )
                for code, rows in found.items()
            },
            {unit_id: (ref, name) for unit_id, (ref, name, _parent) in refs.items()},
        )

    return RANKED_YEARS.get(session, key, compute).ranked(when.code)


def unit_achievements(
    service: ProgressService,
    session: Session,
    indicator: Indicator,
    period: str,
    tree: Tree,
    unit_ids: frozenset[int],
) -> dict[int, Achievement]:
    """Each unit's value for the period against its target, from what the period's year is
    assessed with (``ProgressService._compute_achievements_each`` for one question)."""
    when = parse_period(period)
    assessed = ASSESSED_YEARS.get(
        session,
        (indicator.id, when.year, tree.value, unit_ids),
        lambda: _assessed_year(service, session, indicator, when.year, tree, unit_ids),
    )
    found: dict[int, Achievement] = {}
    for item in assessed.units:
        own = [point for point in item.observations if point[1] == period]
        earlier = [point for point in item.observations if point[0] < when.position]
        found[item.unit_id] = service.assessment(
            item.target,
            indicator,
            item.goal,
            earlier + own if own else [],
            when.year,
            item.unit,
        )
    return found


def _assessed_year(
    service: ProgressService,
    session: Session,
    indicator: Indicator,
    year: int,
    tree: Tree,
    unit_ids: frozenset[int],
) -> AssessedYear:
    """Of the targets naming a unit or a level holding it, on the tree's unit set, the one of
    the earliest year not before ``year`` (one naming the unit first, then the oldest); the
    unit's observations up to that year as the targets' assessment reads them."""
    if not unit_ids:
        return AssessedYear(())
    unit_set = UnitSet(tree.value)
    targets = [
        target
        for target in repository.targets_of_indicators(session, {indicator.id})
        if target.indicator_id == indicator.id
        and target.scope_unit_set == unit_set
        and target.year >= year
    ]
    levels = unit_service.ids_at_levels(
        session,
        {
            (target.scope_unit_set, target.scope_level, target.scope_unit_id)
            for target in targets
            if target.scope_level is not None
        },
    )
    chosen = service.chosen_targets(targets, levels, unit_ids)
    if not chosen:
        return AssessedYear(())
    scopes: dict[int, list[int]] = {}
    for unit_id, target in chosen.items():
        scopes.setdefault(target.id, []).append(unit_id)
    used = list({target.id: target for target in chosen.values()}.values())
    series = service._observations_each(session, [(indicator, unit_set, used, scopes, year)])[0]
    refs = service._unit_refs(session, set(chosen))
    return AssessedYear(
        tuple(
            AssessedUnit(
                unit_id,
                TargetTerms.of(target),
                goal_of(target, indicator.direction),
                tuple(series.get(unit_id, [])),
                refs[unit_id],
            )
            for unit_id, target in chosen.items()
            if unit_id in refs
        )
    )
