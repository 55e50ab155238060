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
figures at once wait for one computation instead of each starting its own. A ranking and a
unit's assessment against its target are kept for the asked period's whole year instead
(``progress.year_figures``): another month of the same indicator is a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from tinhso.monitoring.progress import year_figures
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
    from collections.abc import Callable, Hashable, Iterable, Sequence

    from sqlalchemy.orm import Session

    from tinhso.monitoring.progress.year_figures import TargetTerms

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


# Questions asked many at a time (a dashboard's panels): each kind is answered for all of them
# in a constant number of statements, every answer the same as the one-question method's.


@dataclass(frozen=True)
class ValuesAsked:
    """One unit's values of an indicator over some periods (``indicator_values``)."""

    indicator: Indicator
    periods: tuple[str, ...]
    tree: Tree
    unit: UnitRef


@dataclass(frozen=True)
class RankingAsked:
    """``ranking``'s question."""

    indicator: Indicator
    period: str
    tree: Tree
    level: UnitLevel
    parent: UnitRef | None = None


@dataclass(frozen=True)
class AchievementsAsked:
    """``unit_achievements``' question."""

    indicator: Indicator
    period: str
    tree: Tree
    unit_ids: frozenset[int]


@dataclass(frozen=True)
class ProgressAsked:
    """``plan_progress``'s question."""

    plan: Plan
    as_of: int | None = None
    within: int | None = None


# (indicator, unit set, the targets observed, each target's units, as of year)
_Observed = tuple[Indicator, UnitSet, list[Target], dict[int, list[int]], int]
_Series = dict[int, list[tuple[float, str, float]]]


def _chosen_targets(
    targets: list[Target],
    levels: dict[tuple[UnitSet, UnitLevel, int | None], list[int]],
    unit_ids: frozenset[int],
) -> dict[int, Target]:
    """Each unit's target: of those naming it or a level holding it, the one of the earliest
    year (one naming the unit first, then the oldest)."""
    chosen: dict[int, Target] = {}
    for target in sorted(targets, key=lambda t: (t.year, t.scope_level is not None, t.id)):
        if target.scope_level is None:
            members = [target.scope_unit_id] if target.scope_unit_id else []
        else:
            members = levels[(target.scope_unit_set, target.scope_level, target.scope_unit_id)]
        for unit_id in members:
            if unit_id in unit_ids:
                chosen.setdefault(unit_id, target)
    return chosen


class ProgressService:
    chosen_targets = staticmethod(_chosen_targets)

    @staticmethod
    def basis_name(basis: Basis) -> BasisName:
        return _BASIS[basis]

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
        """Units ranked on the indicator for the period, computed with every other period of
        its type in its year and kept with them (``year_figures``)."""
        return year_figures.ranking(self, session, indicator, period, tree, level, parent)

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
        (see ``_compute_achievements_each``), from what the period's year is assessed with,
        kept for every period of that year (``year_figures``)."""
        return year_figures.unit_achievements(
            self, session, indicator, period, tree, frozenset(unit_ids)
        )

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

    # -- many questions at once ------------------------------------------------------------

    def indicator_values_each(
        self, session: Session, asked: Sequence[ValuesAsked]
    ) -> list[list[ComputedValue]]:
        """``indicator_values`` of each question (one unit each), in one SQL run per unit
        asked about however many indicators and periods."""
        key = (
            "values-each",
            tuple((a.indicator.id, a.periods, a.tree.value, _ref_key(a.unit)) for a in asked),
        )
        found = self._kept(session, key, lambda: self._compute_values_each(session, asked))
        return _by_question(found, len(asked))

    def rankings(self, session: Session, asked: Sequence[RankingAsked]) -> list[list[RankedUnit]]:
        """``ranking`` of each question, in one SQL run per (tree, level, parent) asked about."""
        key = (
            "rankings",
            tuple(
                (a.indicator.id, a.period, a.tree.value, a.level.value, _ref_key(a.parent))
                for a in asked
            ),
        )
        found = self._kept(session, key, lambda: self._compute_rankings(session, asked))
        return _by_question(found, len(asked))

    def unit_achievements_each(
        self, session: Session, asked: Sequence[AchievementsAsked]
    ) -> list[dict[int, Achievement]]:
        """``unit_achievements`` of each question, in a constant number of statements."""
        key = (
            "achievements-each",
            tuple((a.indicator.id, a.period, a.tree.value, a.unit_ids) for a in asked),
        )
        found = self._kept(session, key, lambda: self._compute_achievements_each(session, asked))
        answers: list[dict[int, Achievement]] = [{} for _ in asked]
        for index, unit_id, achievement in found:
            answers[index][unit_id] = achievement
        return answers

    def plan_progress_each(
        self, session: Session, asked: Sequence[ProgressAsked]
    ) -> list[list[Achievement]]:
        """``plan_progress`` of each question, in a constant number of statements (the units
        inside each distinct ``within`` read once)."""
        year = utcnow().year
        resolved = [
            ProgressAsked(a.plan, a.as_of if a.as_of is not None else year, a.within) for a in asked
        ]
        key = ("progress-each", tuple((a.plan.id, a.as_of, a.within) for a in resolved))
        found = self._kept(session, key, lambda: self._compute_progress_each(session, resolved))
        return _by_question(found, len(asked))

    def indicator_periods_each(
        self, session: Session, indicators: Sequence[Indicator]
    ) -> dict[int, list[str]]:
        """Every period with a stored value of one of each indicator's elements, oldest
        first, by indicator id: two statements however many indicators."""
        key = ("periods-each", tuple(sorted({i.id for i in indicators})))

        def read() -> list[tuple[int, str]]:
            parsed = {i.id: indicator_spec(i).formula.elements for i in indicators}
            codes = {code for elements in parsed.values() for code in elements}
            elements = repository.elements_by_codes(session, codes)
            rows = repository.element_periods(session, {e.id for e in elements.values()})
            by_element: dict[int, set[str]] = {}
            for element_id, period, _year in rows:
                by_element.setdefault(element_id, set()).add(period)
            found: list[tuple[int, str]] = []
            for indicator_id, element_codes in parsed.items():
                periods: set[str] = set()
                for code in element_codes:
                    if code in elements:
                        periods |= by_element.get(elements[code].id, set())
                ordered = sorted(periods, key=lambda p: parse_period(p).position)
                found.extend((indicator_id, period) for period in ordered)
            return found

        answers: dict[int, list[str]] = {i.id: [] for i in indicators}
        for indicator_id, period in self._kept(session, key, read):
            answers[indicator_id].append(period)
        return answers

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

    def _compute_values_each(
        self, session: Session, asked: Sequence[ValuesAsked]
    ) -> list[tuple[int, ComputedValue]]:
        for question in asked:
            for period in question.periods:
                parse_period(period)
            if question.unit.unit_set != UnitSet(question.tree.value):
                ref = question.unit
                raise InvalidInput(
                    f"Đơn vị {ref.code} thuộc bộ {ref.unit_set.value}, không thuộc cây "
                    f"{question.tree.value}",
                    f"Unit {ref.code} is in the {ref.unit_set.value} set, not the "
                    f"{question.tree.value} tree",
                    field="unit",
                )
        ids = self._ids_of_refs(session, [question.unit for question in asked], "unit")
        catalogue = element_specs(session) if asked else []
        groups: dict[tuple[Tree, int], list[int]] = {}
        for index, question in enumerate(asked):
            unit_id = ids[_ref_key(question.unit)]
            groups.setdefault((question.tree, unit_id), []).append(index)
        rows: dict[int, list[computation.IndicatorValue]] = {}
        for (tree, unit_id), members in groups.items():
            specs = {asked[i].indicator.id: indicator_spec(asked[i].indicator) for i in members}
            found = computation.indicator_values_each(
                computation.sqlalchemy_runner(session),
                list(specs.values()),
                catalogue,
                sorted({p for i in members for p in asked[i].periods}),
                tree,
                UnitFilter(unit_ids=(unit_id,)),
                root_unit_id=unit_id,
            )
            by_indicator: dict[int, list[computation.IndicatorValue]] = {}
            for row in found:
                by_indicator.setdefault(row.indicator_id, []).append(row)
            for i in members:
                periods = set(asked[i].periods)
                own = by_indicator.get(asked[i].indicator.id, [])
                rows[i] = [r for r in own if r.period in periods]
        refs = self._unit_refs(session, {r.unit_id for found in rows.values() for r in found})
        answers: list[tuple[int, ComputedValue]] = []
        for index, question in enumerate(asked):
            values = [
                ComputedValue(
                    indicator_code=question.indicator.code,
                    unit=refs[row.unit_id][0],
                    unit_name=refs[row.unit_id][1],
                    period=row.period,
                    value=row.value,
                    basis=_BASIS[row.basis],
                )
                for row in rows.get(index, [])
                if row.unit_id in refs
            ]
            values.sort(key=lambda v: (v.period, v.unit.code))
            answers.extend((index, value) for value in values)
        return answers

    def _ids_of_refs(
        self, session: Session, refs: Iterable[UnitRef | None], field: str
    ) -> dict[tuple[str, str] | None, int]:
        """Each ref's unit id, in one query; a ref that names no unit is refused."""
        wanted = [ref for ref in refs if ref is not None]
        keys = {(UnitSet(ref.unit_set), ref.code) for ref in wanted}
        found = repository.unit_ids_by_ref(session, keys) if keys else {}
        ids: dict[tuple[str, str] | None, int] = {}
        for ref in wanted:
            unit_id = found.get((UnitSet(ref.unit_set), ref.code))
            if unit_id is None:
                raise InvalidInput(
                    f"Đơn vị hành chính {ref.code} ({ref.unit_set.value}) không tồn tại",
                    f"Administrative unit {ref.code} ({ref.unit_set.value}) does not exist",
                    field=field,
                )
            ids[_ref_key(ref)] = unit_id
        return ids

    def _compute_rankings(
        self, session: Session, asked: Sequence[RankingAsked]
    ) -> list[tuple[int, RankedUnit]]:
        for question in asked:
            parse_period(question.period)
            unit_service.check_level(UnitSet(question.tree.value), question.level)
        parents = self._ids_of_refs(session, [q.parent for q in asked], "parent")
        catalogue = element_specs(session) if asked else []
        groups: dict[tuple[Tree, UnitLevel, int | None], list[int]] = {}
        for index, question in enumerate(asked):
            parent_id = parents[_ref_key(question.parent)] if question.parent else None
            groups.setdefault((question.tree, question.level, parent_id), []).append(index)
        ranked: dict[int, list[computation.Ranked]] = {}
        for (tree, level, parent_id), members in groups.items():
            pairs = [(indicator_spec(asked[i].indicator), asked[i].period) for i in members]
            found = computation.rankings(
                computation.sqlalchemy_runner(session),
                pairs,
                catalogue,
                tree,
                UnitFilter(level=level, parent_id=parent_id),
            )
            for i, (spec, period) in zip(members, pairs, strict=True):
                ranked[i] = found[(spec.id, parse_period(period).code)]
        refs = self._unit_refs(session, {r.unit_id for rows in ranked.values() for r in rows})
        return [
            (
                index,
                RankedUnit(
                    rank=row.rank,
                    unit=refs[row.unit_id][0],
                    unit_name=refs[row.unit_id][1],
                    value=row.value,
                    basis=_BASIS[row.basis],
                ),
            )
            for index in range(len(asked))
            for row in ranked.get(index, [])
        ]

    def _compute_plan_progress(
        self, session: Session, plan: Plan, as_of: int, within: int | None
    ) -> list[Achievement]:
        found = self._compute_progress_each(session, [ProgressAsked(plan, as_of, within)])
        return [achievement for _index, achievement in found]

    def _compute_progress_each(
        self, session: Session, asked: Sequence[ProgressAsked]
    ) -> list[tuple[int, Achievement]]:
        """Every plan's targets, indicators, level scopes, observations and units read once
        for all the questions (``as_of`` set in each)."""
        all_targets = list(repository.targets_of_plans(session, {a.plan.id for a in asked}))
        if not all_targets:
            return []
        indicators = repository.indicators_by_ids(session, {t.indicator_id for t in all_targets})
        # the units of every level-scoped target, read in one go (not once per target)
        levels = unit_service.ids_at_levels(
            session,
            {
                (target.scope_unit_set, target.scope_level, target.scope_unit_id)
                for target in all_targets
                if target.scope_level is not None
            },
        )
        base: dict[int, list[int]] = {}
        for target in all_targets:
            if target.scope_level is None:
                base[target.id] = [target.scope_unit_id] if target.scope_unit_id else []
            else:
                base[target.id] = levels[
                    (target.scope_unit_set, target.scope_level, target.scope_unit_id)
                ]
        inside = {
            within: unit_service.within(session, within)
            for within in {a.within for a in asked if a.within is not None}
        }
        questions: list[tuple[list[Target], dict[int, list[int]], list[_Observed]]] = []
        for question in asked:
            targets = [t for t in all_targets if t.plan_id == question.plan.id]
            scopes = {t.id: base[t.id] for t in targets}
            if question.within is not None:
                kept = inside[question.within]
                scopes = {key: [u for u in ids if u in kept] for key, ids in scopes.items()}
            groups: dict[tuple[int, UnitSet], list[Target]] = {}
            for target in targets:
                groups.setdefault((target.indicator_id, target.scope_unit_set), []).append(target)
            observed: list[_Observed] = [
                (indicators[key[0]], key[1], members, scopes, int(question.as_of or 0))
                for key, members in groups.items()
            ]
            questions.append((targets, scopes, observed))
        series = self._observations_each(
            session, [item for _, _, observed in questions for item in observed]
        )
        refs = self._unit_refs(
            session, {u for _, scopes, _ in questions for ids in scopes.values() for u in ids}
        )
        results: list[tuple[int, Achievement]] = []
        position = 0
        for index, (targets, scopes, observed) in enumerate(questions):
            by_group = {
                (item[0].id, item[1]): series[position + n] for n, item in enumerate(observed)
            }
            position += len(observed)
            as_of = int(asked[index].as_of or 0)
            for target in targets:
                indicator = indicators[target.indicator_id]
                goal = goal_of(target, indicator.direction)
                points = by_group[(target.indicator_id, target.scope_unit_set)]
                for unit_id in scopes[target.id]:
                    if unit_id not in refs:
                        continue
                    results.append(
                        (
                            index,
                            self.assessment(
                                target,
                                indicator,
                                goal,
                                points.get(unit_id, []),
                                as_of,
                                refs[unit_id],
                            ),
                        )
                    )
        return results

    def _compute_achievements_each(
        self, session: Session, asked: Sequence[AchievementsAsked]
    ) -> list[tuple[int, int, Achievement]]:
        """Each unit's value for a period against the indicator's target that applies to it
        on the tree's unit set: of the targets naming the unit, or a level holding it, the
        one of the earliest year not before the period's (one naming the unit first, then
        the oldest). Achievement and status as plan progress computes them, as of the
        period: the actual value is the period's own (none: ``no_data``), an earlier value
        may be the inferred baseline. Units without such a target are left out. A constant
        number of statements however many questions and units."""
        whens = [parse_period(question.period) for question in asked]
        wanted = [q for q in asked if q.unit_ids]
        everything = repository.targets_of_indicators(session, {q.indicator.id for q in wanted})
        candidates: list[list[Target]] = []
        for question, when in zip(asked, whens, strict=True):
            unit_set = UnitSet(question.tree.value)
            candidates.append(
                [
                    t
                    for t in everything
                    if t.indicator_id == question.indicator.id
                    and t.scope_unit_set == unit_set
                    and t.year >= when.year
                ]
                if question.unit_ids
                else []
            )
        levels = unit_service.ids_at_levels(
            session,
            {
                (target.scope_unit_set, target.scope_level, target.scope_unit_id)
                for targets in candidates
                for target in targets
                if target.scope_level is not None
            },
        )
        choices: list[dict[int, Target]] = []
        observed: list[_Observed] = []
        for question, when, targets in zip(asked, whens, candidates, strict=True):
            chosen = _chosen_targets(targets, levels, question.unit_ids)
            choices.append(chosen)
            if not chosen:
                continue
            scopes: dict[int, list[int]] = {}
            for unit_id, target in chosen.items():
                scopes.setdefault(target.id, []).append(unit_id)
            used = list({target.id: target for target in chosen.values()}.values())
            unit_set = UnitSet(question.tree.value)
            observed.append((question.indicator, unit_set, used, scopes, when.year))
        series = iter(self._observations_each(session, observed))
        refs = self._unit_refs(session, {u for chosen in choices for u in chosen})
        found: list[tuple[int, int, Achievement]] = []
        for index, (question, when, chosen) in enumerate(zip(asked, whens, choices, strict=True)):
            if not chosen:
                continue
            points = next(series)
            for unit_id, target in chosen.items():
                if unit_id not in refs:
                    continue
                observations = points.get(unit_id, [])
                own = [point for point in observations if point[1] == question.period]
                earlier = [point for point in observations if point[0] < when.position]
                achievement = self.assessment(
                    target,
                    question.indicator,
                    goal_of(target, question.indicator.direction),
                    earlier + own if own else [],
                    when.year,
                    refs[unit_id],
                )
                found.append((index, unit_id, achievement))
        return found

    def _observations_each(self, session: Session, asked: Sequence[_Observed]) -> list[_Series]:
        """Each (indicator, unit set, targets, scopes, as of)'s values: every period with data
        up to the targets' last year and the as-of year, every scope unit. The catalogue and
        the periods read once, then one SQL run per tree for all of them."""
        answers: list[_Series] = [{} for _ in asked]
        if not asked:
            return answers
        catalogue = element_specs(session)
        by_code = {element.code: element for element in catalogue}
        specs = [indicator_spec(item[0]) for item in asked]
        element_ids = [
            {by_code[c].id for c in spec.formula.elements if c in by_code} for spec in specs
        ]
        stored = repository.element_periods(session, set().union(*element_ids))
        wanted: list[tuple[set[str], tuple[int, ...]]] = []
        for (_, _, members, scopes, as_of), ids in zip(asked, element_ids, strict=True):
            last_year = min(as_of, max(t.year for t in members))
            periods = {p for e, p, year in stored if e in ids and year <= last_year}
            units = tuple(sorted({u for t in members for u in scopes[t.id]}))
            wanted.append((periods, units))
        # one SQL run per tree and set of units (a plan's targets on the same scope share it)
        runs: dict[tuple[UnitSet, tuple[int, ...]], list[int]] = {}
        for index, (item, (periods, units)) in enumerate(zip(asked, wanted, strict=True)):
            if periods and units:
                runs.setdefault((item[1], units), []).append(index)
        for (unit_set, units), indexes in runs.items():
            rows = computation.indicator_values_each(
                computation.sqlalchemy_runner(session),
                list({specs[i].id: specs[i] for i in indexes}.values()),
                catalogue,
                sorted({p for i in indexes for p in wanted[i][0]}),
                Tree(unit_set.value),
                UnitFilter(unit_ids=units),
            )
            by_indicator: dict[int, list[computation.IndicatorValue]] = {}
            for row in rows:
                by_indicator.setdefault(row.indicator_id, []).append(row)
            for i in indexes:
                own_periods = wanted[i][0]
                series = answers[i]
                for row in by_indicator.get(specs[i].id, []):
                    if row.value is not None and row.period in own_periods:
                        position = parse_period(row.period).position
                        series.setdefault(row.unit_id, []).append((position, row.period, row.value))
                for points in series.values():
                    points.sort()
        return answers

    def assessment(
        self,
        target: Target | TargetTerms,
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


def _by_question(found: Iterable[tuple[int, T]], count: int) -> list[list[T]]:
    """Answers kept as (question's index, item) pairs, as one list per question."""
    answers: list[list[T]] = [[] for _ in range(count)]
    for index, item in found:
        answers[index].append(item)
    return answers


progress_service = ProgressService()
