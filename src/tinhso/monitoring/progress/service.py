"""The monitoring progress service: computed indicator values, rankings, plan progress
(achievement and trajectory of every target, per unit) and the composite index, and the
notes on the two unit trees. The numbers come from SQL (`computation/indicators.py`,
`computation/composite_index.py`), goals and statuses from `progress/trajectory.py`; this module loads the
catalogue, calls them and shapes the answers.

Plan progress, per target and unit: the actual value is the indicator's latest value (any
period type) up to the target year and the ``as_of`` year; the baseline is the target's,
or else the indicator's earliest value before the actual one (``baseline_inferred``).
Targets are evaluated on the unit set of their scope: a target for a legacy unit on the
legacy tree; a target for a current unit on the current tree, with legacy values
re-aggregated onto it.

Every answer is kept in this process (``FIGURES``) until a commit writes the values, the
catalogue, the plans or the unit trees (``core.generations``): a wall of screens asking the
same figures every minute reads them computed once, and many requests asking the same missing
figures at once wait for one computation instead of each starting its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar

from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput
from tinhso.core.generations import GenerationCache
from tinhso.monitoring import repository
from tinhso.monitoring.computation import composite_index
from tinhso.monitoring.computation import indicators as computation
from tinhso.monitoring.computation.effective_values import Basis, Tree
from tinhso.monitoring.computation.indicators import UnitFilter
from tinhso.monitoring.computation.specs import bands, element_specs, indicator_spec
from tinhso.monitoring.models import (
    FIGURES_GENERATION,
    Indicator,
    Methodology,
    MethodologyComponent,
    Plan,
    Scoring,
    Target,
)
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.progress.trajectory import (
    STATUS_TEXT,
    Goal,
    achievement_percent,
    goal_of,
    trajectory_status,
)
from tinhso.monitoring.schemas import Achievement, ComputedValue, PillarScore, RankedUnit, UnitIndex
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable

    from sqlalchemy.orm import Session

T = TypeVar("T")
BasisName = Literal["recorded", "aggregated", "reaggregated", "recorded_over_legacy"]
_BASIS: dict[Basis, BasisName] = {
    Basis.RECORDED: "recorded",
    Basis.AGGREGATED: "aggregated",
    Basis.REAGGREGATED: "reaggregated",
    Basis.RECORDED_OVER_LEGACY: "recorded_over_legacy",
}
TREE_NOTES = {
    Tree.LEGACY: (
        (
            "Theo địa giới hành chính cũ (trước 01/07/2025: 63 tỉnh, cấp huyện và cấp xã), "
            "số liệu như đã ghi nhận."
        ),
        (
            "On the legacy administrative units (before 01/07/2025: 63 provinces, districts and "
            "communes), values as recorded."
        ),
    ),
    Tree.CURRENT: (
        (
            "Theo địa giới hành chính hiện hành (34 tỉnh, từ 01/07/2025). Nơi chưa có số liệu "
            "theo đơn vị mới, số liệu ghi theo đơn vị cũ được tổng hợp lại: xã cũ vào xã kế thừa "
            "(xã bị chia: toàn bộ vào xã kế thừa mặc định), huyện và tỉnh cũ vào tỉnh mới."
        ),
        (
            "On the current administrative units (34 provinces, since 01/07/2025). Where no "
            "value was recorded for a current unit, values recorded under legacy units are "
            "re-aggregated onto it: a legacy commune into its successor (a split commune wholly "
            "into its default successor), legacy districts and provinces into the new province."
        ),
    ),
}


# A rank among fewer units than this says nothing ("first of one"): pages show the values and
# say there are not enough units to rank.
MIN_UNITS_TO_RANK = 3


def is_published_rank(indicator_unit_en: str | None) -> bool:
    """Whether an indicator's values are themselves ranks that someone published (the DTI rank
    of the seeds): reported figures with a source, never re-ranked here as if computed."""
    return (indicator_unit_en or "").strip().lower() == "rank"


# Computed figures kept per question while nothing they are made of changed; bounded by the
# number of rows kept: a row (an Achievement) weighs ~4 KB, so at most ~400 MB per process (a
# national plan's progress is ~66,000 rows).
FIGURES: GenerationCache[list[object]] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION), max_weight=100_000
)


def _ref_key(ref: UnitRef | None) -> tuple[str, str] | None:
    return (UnitSet(ref.unit_set).value, ref.code) if ref is not None else None


class ProgressService:
    def _unit_refs(
        self, session: Session, ids: set[int]
    ) -> dict[int, tuple[UnitRef, str, int | None]]:
        rows = repository.unit_rows(session, ids)
        return {
            unit_id: (UnitRef(unit_set=unit_set, code=code), name, parent)
            for unit_id, (unit_set, code, name, parent) in rows.items()
        }

    def _unit_id(self, session: Session, ref: UnitRef, field: str) -> int:
        found = repository.unit_ids_by_ref(session, [(UnitSet(ref.unit_set), ref.code)])
        unit_id = found.get((UnitSet(ref.unit_set), ref.code))
        if unit_id is None:
            raise InvalidInput(
                f"Đơn vị hành chính {ref.code} ({ref.unit_set.value}) không tồn tại",
                f"Administrative unit {ref.code} ({ref.unit_set.value}) does not exist",
                field=field,
            )
        return unit_id

    def indicator_values(
        self,
        session: Session,
        indicator: Indicator,
        periods: list[str],
        tree: Tree,
        level: UnitLevel | None = None,
        parent: UnitRef | None = None,
        units: list[UnitRef] | None = None,
    ) -> list[ComputedValue]:
        """The indicator for units (a level, the children of a parent, or a list)."""
        key = (
            "values",
            indicator.id,
            tuple(periods),
            tree.value,
            level.value if level else None,
            _ref_key(parent),
            tuple(_ref_key(ref) for ref in units) if units is not None else None,
        )
        return self._kept(
            session,
            key,
            lambda: self._compute_indicator_values(
                session, indicator, periods, tree, level, parent, units
            ),
        )

    def ranking(
        self,
        session: Session,
        indicator: Indicator,
        period: str,
        tree: Tree,
        level: UnitLevel,
        parent: UnitRef | None = None,
    ) -> list[RankedUnit]:
        key = ("ranking", indicator.id, period, tree.value, level.value, _ref_key(parent))
        return self._kept(
            session,
            key,
            lambda: self._compute_ranking(session, indicator, period, tree, level, parent),
        )

    def plan_progress(
        self,
        session: Session,
        plan: Plan,
        as_of_year: int | None = None,
        within: int | None = None,
    ) -> list[Achievement]:
        """Achievement and trajectory of every target of a plan, per unit in its scope; with
        ``within`` (a unit's id), only the units inside that unit (``unit_service.within``:
        its subtree, and for a current unit the legacy units that became part of it)."""
        as_of = as_of_year if as_of_year is not None else utcnow().year
        return self._kept(
            session,
            ("progress", plan.id, as_of, within),
            lambda: self._compute_plan_progress(session, plan, as_of, within),
        )

    def unit_achievements(
        self,
        session: Session,
        indicator: Indicator,
        period: str,
        tree: Tree,
        unit_ids: Iterable[int],
    ) -> dict[int, Achievement]:
        """Each unit's value for a period against the indicator's target that applies to it
        (see ``_compute_unit_achievements``)."""
        wanted = frozenset(unit_ids)
        found = self._kept(
            session,
            ("achievements", indicator.id, period, tree.value, wanted),
            lambda: list(
                self._compute_unit_achievements(session, indicator, period, tree, wanted).items()
            ),
        )
        return dict(found)

    def index(
        self,
        session: Session,
        methodology: Methodology,
        period: str,
        tree: Tree,
        parent: UnitRef | None = None,
    ) -> list[UnitIndex]:
        return self._kept(
            session,
            ("index", methodology.id, period, tree.value, _ref_key(parent)),
            lambda: self._compute_index(session, methodology, period, tree, parent),
        )

    def _kept(self, session: Session, key: Hashable, compute: Callable[[], list[T]]) -> list[T]:
        """The figures for ``key``, computed once per generation of what they are made of; a
        new list each time, so a caller sorting or extending it changes nobody else's."""
        found = FIGURES.get(session, key, compute)  # type: ignore[arg-type]
        return list(found)  # type: ignore[arg-type]

    def _compute_indicator_values(
        self,
        session: Session,
        indicator: Indicator,
        periods: list[str],
        tree: Tree,
        level: UnitLevel | None,
        parent: UnitRef | None,
        units: list[UnitRef] | None,
    ) -> list[ComputedValue]:
        for period in periods:
            parse_period(period)
        unit_set = UnitSet(tree.value)
        unit_service.check_level(unit_set, level)
        unit_ids = tuple(self._unit_id(session, ref, "unit") for ref in units) if units else None
        for ref in units or []:
            if ref.unit_set != unit_set:
                raise InvalidInput(
                    f"Đơn vị {ref.code} thuộc bộ {ref.unit_set.value}, không thuộc cây {tree.value}",
                    f"Unit {ref.code} is in the {ref.unit_set.value} set, not the {tree.value} tree",
                    field="unit",
                )
        parent_id = self._unit_id(session, parent, "parent") if parent else None
        if level is None and unit_ids is None and parent_id is None:
            level = UnitLevel.PROVINCE
        root = parent_id
        if unit_ids and len(unit_ids) == 1 and parent_id is None:
            root = unit_ids[0]
        rows = computation.indicator_values(
            computation.sqlalchemy_runner(session),
            [indicator_spec(indicator)],
            element_specs(session),
            periods,
            tree,
            UnitFilter(unit_ids=unit_ids, level=level, parent_id=parent_id),
            root_unit_id=root,
        )
        refs = self._unit_refs(session, {row.unit_id for row in rows})
        found = [
            ComputedValue(
                indicator_code=indicator.code,
                unit=refs[row.unit_id][0],
                unit_name=refs[row.unit_id][1],
                period=row.period,
                value=row.value,
                basis=_BASIS[row.basis],
            )
            for row in rows
            if row.unit_id in refs
        ]
        found.sort(key=lambda v: (v.period, v.unit.code))
        return found

    def _compute_ranking(
        self,
        session: Session,
        indicator: Indicator,
        period: str,
        tree: Tree,
        level: UnitLevel,
        parent: UnitRef | None,
    ) -> list[RankedUnit]:
        parse_period(period)
        unit_service.check_level(UnitSet(tree.value), level)
        parent_id = self._unit_id(session, parent, "parent") if parent else None
        rows = computation.ranking(
            computation.sqlalchemy_runner(session),
            indicator_spec(indicator),
            element_specs(session),
            period,
            tree,
            UnitFilter(level=level, parent_id=parent_id),
        )
        refs = self._unit_refs(session, {row.unit_id for row in rows})
        return [
            RankedUnit(
                rank=row.rank,
                unit=refs[row.unit_id][0],
                unit_name=refs[row.unit_id][1],
                value=row.value,
                basis=_BASIS[row.basis],
            )
            for row in rows
        ]

    def _compute_plan_progress(
        self, session: Session, plan: Plan, as_of: int, within: int | None
    ) -> list[Achievement]:
        targets = list(repository.targets_of(session, plan.id))
        if not targets:
            return []
        indicators = repository.indicators_by_ids(session, {t.indicator_id for t in targets})
        # the units of every level-scoped target, read in one go (not once per target)
        levels = unit_service.ids_at_levels(
            session,
            {
                (target.scope_unit_set, target.scope_level, target.scope_unit_id)
                for target in targets
                if target.scope_level is not None
            },
        )
        scopes: dict[int, list[int]] = {}
        for target in targets:
            if target.scope_level is None:
                scopes[target.id] = [target.scope_unit_id] if target.scope_unit_id else []
            else:
                scopes[target.id] = levels[
                    (target.scope_unit_set, target.scope_level, target.scope_unit_id)
                ]
        if within is not None:
            inside = unit_service.within(session, within)
            scopes = {key: [u for u in ids if u in inside] for key, ids in scopes.items()}
        groups: dict[tuple[int, UnitSet], list[Target]] = {}
        for target in targets:
            groups.setdefault((target.indicator_id, target.scope_unit_set), []).append(target)
        observed = {
            key: self._observations(session, indicators[key[0]], key[1], members, scopes, as_of)
            for key, members in groups.items()
        }
        refs = self._unit_refs(session, {u for ids in scopes.values() for u in ids})
        results: list[Achievement] = []
        for target in targets:
            indicator = indicators[target.indicator_id]
            goal = goal_of(target, indicator.direction)
            series = observed[(target.indicator_id, target.scope_unit_set)]
            for unit_id in scopes[target.id]:
                if unit_id not in refs:
                    continue
                results.append(
                    self._achievement(
                        target, indicator, goal, series.get(unit_id, []), as_of, refs[unit_id]
                    )
                )
        return results

    def _compute_unit_achievements(
        self,
        session: Session,
        indicator: Indicator,
        period: str,
        tree: Tree,
        unit_ids: Iterable[int],
    ) -> dict[int, Achievement]:
        """Each unit's value for a period against the indicator's target that applies to it
        on the tree's unit set: of the targets naming the unit, or a level holding it, the
        one of the earliest year not before the period's (one naming the unit first, then
        the oldest). Achievement and status as plan progress computes them, as of the
        period: the actual value is the period's own (none: ``no_data``), an earlier value
        may be the inferred baseline. Units without such a target are left out. A constant
        number of statements however many units."""
        when = parse_period(period)
        wanted = set(unit_ids)
        unit_set = UnitSet(tree.value)
        targets = repository.indicator_targets(session, indicator.id, unit_set, when.year)
        if not targets or not wanted:
            return {}
        levels = unit_service.ids_at_levels(
            session,
            {
                (target.scope_unit_set, target.scope_level, target.scope_unit_id)
                for target in targets
                if target.scope_level is not None
            },
        )
        chosen: dict[int, Target] = {}
        for target in sorted(targets, key=lambda t: (t.year, t.scope_level is not None, t.id)):
            if target.scope_level is None:
                members = [target.scope_unit_id] if target.scope_unit_id else []
            else:
                members = levels[(target.scope_unit_set, target.scope_level, target.scope_unit_id)]
            for unit_id in members:
                if unit_id in wanted:
                    chosen.setdefault(unit_id, target)
        if not chosen:
            return {}
        scopes: dict[int, list[int]] = {}
        for unit_id, target in chosen.items():
            scopes.setdefault(target.id, []).append(unit_id)
        used = list({target.id: target for target in chosen.values()}.values())
        series = self._observations(session, indicator, unit_set, used, scopes, when.year)
        refs = self._unit_refs(session, set(chosen))
        found: dict[int, Achievement] = {}
        for unit_id, target in chosen.items():
            if unit_id not in refs:
                continue
            observed = series.get(unit_id, [])
            own = [point for point in observed if point[1] == period]
            earlier = [point for point in observed if point[0] < when.position]
            found[unit_id] = self._achievement(
                target,
                indicator,
                goal_of(target, indicator.direction),
                earlier + own if own else [],
                when.year,
                refs[unit_id],
            )
        return found

    def _observations(
        self,
        session: Session,
        indicator: Indicator,
        unit_set: UnitSet,
        members: list[Target],
        scopes: dict[int, list[int]],
        as_of: int,
    ) -> dict[int, list[tuple[float, str, float]]]:
        """One SQL run per (indicator, unit set): every period with data, every scope unit."""
        catalogue = element_specs(session)
        by_code = {element.code: element for element in catalogue}
        spec = indicator_spec(indicator)
        element_ids = [by_code[c].id for c in spec.formula.elements if c in by_code]
        last_year = min(as_of, max(t.year for t in members))
        periods = repository.periods_with_values(session, element_ids, last_year)
        unit_ids = tuple(sorted({u for t in members for u in scopes[t.id]}))
        series: dict[int, list[tuple[float, str, float]]] = {}
        if not periods or not unit_ids:
            return series
        rows = computation.indicator_values(
            computation.sqlalchemy_runner(session),
            [spec],
            catalogue,
            periods,
            Tree(unit_set.value),
            UnitFilter(unit_ids=unit_ids),
        )
        for row in rows:
            if row.value is not None:
                position = parse_period(row.period).position
                series.setdefault(row.unit_id, []).append((position, row.period, row.value))
        for points in series.values():
            points.sort()
        return series

    def _achievement(
        self,
        target: Target,
        indicator: Indicator,
        goal: Goal,
        points: list[tuple[float, str, float]],
        as_of: int,
        unit: tuple[UnitRef, str, int | None],
    ) -> Achievement:
        usable = [p for p in points if p[0] <= target.year]
        actual = usable[-1] if usable else None
        baseline_value: float | None = target.baseline_value
        baseline_period: str | None = (
            str(target.baseline_year) if target.baseline_year is not None else None
        )
        baseline_position = float(target.baseline_year) if target.baseline_year else None
        inferred = False
        if baseline_value is None and len(usable) > 1:
            baseline_position, baseline_period, baseline_value = usable[0]
            inferred = True
        status, expected = trajectory_status(
            goal,
            target.year,
            actual[2] if actual else None,
            actual[0] if actual else None,
            baseline_value,
            baseline_position,
            as_of,
        )
        vi, en = STATUS_TEXT[status]
        return Achievement(
            target_id=target.id,
            indicator_code=indicator.code,
            indicator_name_vi=indicator.name_vi,
            direction=indicator.direction,
            unit=unit[0],
            unit_name=unit[1],
            year=target.year,
            comparison=goal.comparison,
            goal=goal.value,
            target_value=target.target_value,
            target_low=target.target_low,
            target_high=target.target_high,
            baseline_value=baseline_value,
            baseline_period=baseline_period,
            baseline_inferred=inferred,
            actual=actual[2] if actual else None,
            actual_period=actual[1] if actual else None,
            expected_now=expected,
            achievement_percent=achievement_percent(actual[2], goal) if actual else None,
            status=status,
            status_vi=vi,
            status_en=en,
        )

    def methodology_spec(
        self, session: Session, methodology: Methodology
    ) -> tuple[
        composite_index.MethodologySpec, list[computation.IndicatorSpec], list[MethodologyComponent]
    ]:
        components = list(repository.components_of(session, methodology.id))
        indicator_rows = repository.indicators_by_ids(
            session, {c.indicator_id for c in components if c.indicator_id}
        )
        specs = tuple(
            composite_index.ComponentSpec(
                id=c.id,
                parent_id=c.parent_id,
                code=c.code,
                max_points=c.max_points,
                weight=c.weight,
                scoring=c.scoring,
                indicator_id=c.indicator_id,
                reference_value=c.reference_value,
                thresholds=bands(c.thresholds) if c.scoring is Scoring.THRESHOLDS else (),
            )
            for c in components
        )
        spec = composite_index.MethodologySpec(
            id=methodology.id,
            max_points=methodology.max_points,
            normalisation=methodology.normalisation,
            unit_level=methodology.unit_level,
            components=specs,
        )
        return spec, [indicator_spec(i) for i in indicator_rows.values()], list(components)

    def _compute_index(
        self,
        session: Session,
        methodology: Methodology,
        period: str,
        tree: Tree,
        parent: UnitRef | None,
    ) -> list[UnitIndex]:
        parse_period(period)
        parent_id = self._unit_id(session, parent, "parent") if parent else None
        spec, indicators, components = self.methodology_spec(session, methodology)
        scores = composite_index.composite_index(
            computation.sqlalchemy_runner(session),
            spec,
            indicators,
            element_specs(session),
            period,
            tree,
            parent_id,
        )
        pillars = [c for c in components if c.parent_id is None]
        refs = self._unit_refs(session, {score.unit_id for score in scores})
        return [
            UnitIndex(
                rank=score.rank,
                unit=refs[score.unit_id][0],
                unit_name=refs[score.unit_id][1],
                total=score.total,
                normalised=score.normalised,
                components_with_data=score.components_with_data,
                pillars=[
                    PillarScore(
                        code=pillar.code,
                        name_vi=pillar.name_vi,
                        name_en=pillar.name_en,
                        points=score.pillars.get(pillar.id, 0.0),
                        max_points=pillar.max_points,
                    )
                    for pillar in pillars
                ],
            )
            for score in scores
        ]


progress_service = ProgressService()
