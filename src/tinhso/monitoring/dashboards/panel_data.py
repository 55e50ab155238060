"""What each kind of panel shows, computed by the services that own the numbers: the map
(``maps.boundaries.unit_map``), values, targets, rankings and plan progress
(``progress.service``), exchange traffic (``exchange.audit.statistics``), and field reports
through monitoring's extension point (``monitoring.field_reports``: the reports domain sits
above monitoring in the layers and registers its figures there). The unit chosen filters
every kind but the map and the ranking (which mark it): plan progress counts the targets'
units inside it, exchange traffic the exchanges of its organisations, field reports those in
it and below.

A dashboard's panels are computed together (``panels_data``): what they name (indicators,
pinned units, plans) is read in one query per kind of thing, and each kind of figure is asked
of the services once for every panel wanting it (values, targets, rankings, maps, plan
progress), so a dashboard costs as many statements with 24 panels as with 3, however many
units, values or records there are. Exchange traffic is read once per distinct number of
days, field reports once per month shown (two statements each), whichever panels ask.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tinhso.core.calendar import VIETNAM
from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError
from tinhso.exchange.audit.statistics import exchange_statistics
from tinhso.monitoring import field_reports
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.dashboards.schemas import (
    SETTINGS,
    ExchangeSettings,
    PanelKind,
    PinnedUnit,
    Strict,
)
from tinhso.monitoring.maps.boundaries import target_properties, unit_maps
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import (
    AchievementsAsked,
    ProgressAsked,
    RankingAsked,
    ValuesAsked,
    progress_service,
)
from tinhso.monitoring.progress.trajectory import STATUS_TEXT
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.orm import Session

    from tinhso.exchange.audit.statistics import ExchangeStatistics
    from tinhso.monitoring.maps.boundaries import UnitMap
    from tinhso.monitoring.models import Indicator, Plan
    from tinhso.monitoring.schemas import Achievement, ComputedValue, RankedUnit, TrajectoryStatus
    from tinhso.registry.units import UnitNode

Q = TypeVar("Q")
A = TypeVar("A")

STATUS_ORDER: list[TrajectoryStatus] = [
    "achieved",
    "on_track",
    "behind",
    "not_achieved",
    "insufficient_data",
    "no_data",
]


@dataclass(frozen=True)
class Scope:
    """Where a dashboard looks: its province (the map's and the ranking's parent) and the
    unit chosen (the dashboard's own, or one picked on the map)."""

    province: UnitNode
    unit: UnitNode


def _indicator_header(indicator: Indicator) -> dict[str, Any]:
    return {
        "code": indicator.code,
        "name_vi": indicator.name_vi,
        "name_en": indicator.name_en or indicator.name_vi,
        "unit_vi": indicator.unit_of_measure,
        "unit_en": indicator.unit_of_measure_en or indicator.unit_of_measure,
        "decimals": indicator.decimals,
        "direction": indicator.direction.value,
    }


def _unit_out(unit: UnitNode, tree: Tree) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "unit_set": tree.value}


def each_or_alone(
    asked: Sequence[Q], answer: Callable[[Sequence[Q]], Sequence[A]]
) -> list[A | DomainError]:
    """Every question answered together; if that is refused, each alone, so that one
    question's problem (a ``DomainError``, returned in its place) leaves the others'."""
    if not asked:
        return []
    try:
        return list(answer(asked))
    except DomainError:
        found: list[A | DomainError] = []
        for one in asked:
            try:
                found.extend(answer([one]))
            except DomainError as problem:
                found.append(problem)
        return found


@dataclass
class _Panel:
    """A panel being computed: what its settings name, once read."""

    kind: PanelKind
    settings: Any
    indicator: Indicator | None = None
    unit: UnitNode | None = None  # kpi, timeseries: the unit shown
    tree: Tree = Tree.CURRENT
    period: str | None = None  # map, kpi, ranking: the period shown
    periods: list[str] = field(default_factory=list)  # timeseries: the periods shown
    data: dict[str, Any] | None = None
    error: DomainError | None = None


def _header(panel: _Panel) -> dict[str, Any]:
    assert panel.indicator is not None  # noqa: S101 - checked before
    return _indicator_header(panel.indicator)


def _name_things(session: Session, panels: list[_Panel], scope: Scope) -> None:
    """The indicators, pinned units and periods the panels name, read once for them all."""
    codes = {p.settings.indicator for p in panels if hasattr(p.settings, "indicator")}
    indicators = catalogue_service.indicators(session, codes) if codes else {}
    pinned = [p.settings.unit for p in panels if getattr(p.settings, "unit", None) is not None]
    refs = [UnitRef(unit_set=unit.unit_set, code=unit.code) for unit in pinned]
    units = unit_service.resolve_nodes(session, refs) if refs else {}
    for panel in panels:
        code = getattr(panel.settings, "indicator", None)
        if code is not None:
            panel.indicator = indicators.get(code)
            if panel.indicator is None:
                panel.error = catalogue_service.no_indicator(code)
                continue
        chosen = getattr(panel.settings, "period", None)
        if chosen:
            try:
                parse_period(chosen, field="settings.period")
            except DomainError as problem:
                panel.error = problem
                continue
            panel.period = chosen
        if panel.kind in {PanelKind.KPI, PanelKind.TIMESERIES}:
            wanted: PinnedUnit | None = panel.settings.unit
            if wanted is None:
                panel.unit, panel.tree = scope.unit, Tree.CURRENT
            else:
                node = units.get((UnitSet(wanted.unit_set), wanted.code))
                if node is None:
                    ref = UnitRef(unit_set=wanted.unit_set, code=wanted.code)
                    panel.error = unit_service.unknown(ref, "settings.unit")
                    continue
                panel.unit, panel.tree = node, Tree(wanted.unit_set.value)
    _latest_periods(session, panels)


def _latest_periods(session: Session, panels: list[_Panel]) -> None:
    """The latest period of the panels that name none, and the series' periods."""
    latest = [
        p
        for p in panels
        if p.error is None
        and p.indicator is not None
        and (p.kind is PanelKind.TIMESERIES or p.period is None)
    ]
    if not latest:
        return
    periods = progress_service.indicator_periods_each(
        session, [p.indicator for p in latest if p.indicator is not None]
    )
    for panel in latest:
        assert panel.indicator is not None  # noqa: S101 - in latest
        found = periods[panel.indicator.id]
        if panel.kind is not PanelKind.TIMESERIES:
            panel.period = found[-1] if found else None
        elif found:  # the latest period's type only: years with years, months with months
            kind = parse_period(found[-1]).type
            wanted_last = panel.settings.last
            panel.periods = [p for p in found if parse_period(p).type is kind][-wanted_last:]


def _maps(session: Session, panels: list[_Panel], scope: Scope) -> None:
    drawn = [p for p in panels if p.period is not None and p.indicator is not None]
    maps: list[UnitMap | DomainError] = each_or_alone(
        [(p.indicator, p.period) for p in drawn],
        lambda asked: unit_maps(session, asked, scope.province.code),  # type: ignore[arg-type]
    )
    found = {id(p): m for p, m in zip(drawn, maps, strict=True)}
    for panel in panels:
        shown = found.get(id(panel))
        if isinstance(shown, DomainError):
            panel.error = shown
            continue
        panel.data = {
            "indicator": _header(panel),
            "period": panel.period,
            "mode": panel.settings.mode,
            "geojson": shown.collection if shown else None,
            "synthetic": bool(shown and shown.synthetic),
            "with_target": bool(shown and shown.with_target),
            "selected": scope.unit.code,
        }


def _values_and_targets(session: Session, panels: list[_Panel]) -> None:
    """Key figures and series: their values and their targets, asked once for them all."""
    asked: list[tuple[_Panel, list[str]]] = []
    for panel in panels:
        periods = [panel.period] if panel.kind is PanelKind.KPI and panel.period else []
        if panel.kind is PanelKind.TIMESERIES:
            periods = panel.periods
        if periods:
            asked.append((panel, periods))
    values: list[list[ComputedValue] | DomainError] = each_or_alone(
        [
            ValuesAsked(
                p.indicator,  # type: ignore[arg-type]
                tuple(periods),
                p.tree,
                UnitRef(unit_set=p.unit.unit_set, code=p.unit.code),  # type: ignore[union-attr]
            )
            for p, periods in asked
        ],
        lambda questions: progress_service.indicator_values_each(session, questions),
    )
    targets: list[dict[int, Achievement] | DomainError] = each_or_alone(
        [
            AchievementsAsked(
                p.indicator,  # type: ignore[arg-type]
                periods[-1],
                p.tree,
                frozenset({p.unit.id}),  # type: ignore[union-attr]
            )
            for p, periods in asked
        ],
        lambda questions: progress_service.unit_achievements_each(session, questions),
    )
    found = {
        id(p): (periods, rows, achieved)
        for (p, periods), rows, achieved in zip(asked, values, targets, strict=True)
    }
    for panel in panels:
        assert panel.unit is not None  # noqa: S101 - named before
        periods, rows, achieved = found.get(id(panel), ([], [], {}))
        if isinstance(rows, DomainError) or isinstance(achieved, DomainError):
            panel.error = rows if isinstance(rows, DomainError) else achieved  # type: ignore[assignment]
            continue
        target = (
            target_properties(achieved.get(panel.unit.id)) if periods else target_properties(None)
        )
        head = {"indicator": _header(panel)}
        if panel.kind is PanelKind.KPI:
            panel.data = {
                **head,
                "period": panel.period,
                "unit": _unit_out(panel.unit, panel.tree),
                "value": rows[0].value if rows else None,
                **target,
            }
        else:
            by_period = {row.period: row.value for row in rows}
            panel.data = {
                **head,
                "unit": _unit_out(panel.unit, panel.tree),
                "points": [{"period": p, "value": by_period.get(p)} for p in periods],
                **target,
            }


def _rankings(session: Session, panels: list[_Panel], scope: Scope) -> None:
    ranked_panels = [p for p in panels if p.period is not None]
    province = UnitRef(unit_set=UnitSet.CURRENT, code=scope.province.code)
    ranked: list[list[RankedUnit] | DomainError] = each_or_alone(
        [
            RankingAsked(
                p.indicator,  # type: ignore[arg-type]
                p.period,  # type: ignore[arg-type]
                Tree.CURRENT,
                UnitLevel.COMMUNE if p.settings.level == "commune" else UnitLevel.PROVINCE,
                province if p.settings.level == "commune" else None,
            )
            for p in ranked_panels
        ],
        lambda questions: progress_service.rankings(session, questions),
    )
    found = {id(p): rows for p, rows in zip(ranked_panels, ranked, strict=True)}
    for panel in panels:
        rows = found.get(id(panel), [])
        if isinstance(rows, DomainError):
            panel.error = rows
            continue
        panel.data = {
            "indicator": _header(panel),
            "period": panel.period,
            "level": panel.settings.level,
            "rows": [
                {
                    "rank": row.rank,
                    "code": row.unit.code,
                    "name": row.unit_name,
                    "value": row.value,
                    "selected": row.unit.code in {scope.unit.code},
                }
                for row in rows[: panel.settings.limit]
            ],
            "total": len(rows),
        }


def _status_counts(session: Session, panels: list[_Panel], scope: Scope) -> None:
    plans = plan_service.by_codes(session, {p.settings.plan for p in panels})
    asked: list[tuple[_Panel, Plan]] = []
    for panel in panels:
        plan = plans.get(panel.settings.plan)
        if plan is None:
            panel.error = plan_service.no_plan(panel.settings.plan)
        else:
            asked.append((panel, plan))
    progress: list[list[Achievement] | DomainError] = each_or_alone(
        [ProgressAsked(plan, panel.settings.as_of, scope.unit.id) for panel, plan in asked],
        lambda questions: progress_service.plan_progress_each(session, questions),
    )
    for (panel, plan), items in zip(asked, progress, strict=True):
        if isinstance(items, DomainError):
            panel.error = items
            continue
        counted: Counter[str] = Counter(item.status for item in items)
        panel.data = {
            "unit": {"code": scope.unit.code, "name": scope.unit.name},
            "plan": {
                "code": plan.code,
                "number": plan.number,
                "title_vi": plan.title_vi,
                "title_en": plan.title_en or plan.title_vi,
            },
            "as_of": panel.settings.as_of,
            "total": len(items),
            "counts": [
                {
                    "status": key,
                    "vi": STATUS_TEXT[key][0],
                    "en": STATUS_TEXT[key][1],
                    "count": counted.get(key, 0),
                }
                for key in STATUS_ORDER
            ],
        }


def _exchange(session: Session, panels: list[_Panel], scope: Scope) -> None:
    """The province's whole traffic on its own unit; inside it (a commune chosen, or a
    commune's dashboard) only the exchanges where an organisation of that unit's subtree
    called or provided (an exchange names its systems, a system its organisation, an
    organisation its unit). Read once per distinct number of days."""
    organisations: list[str] | None = None
    if scope.unit.level is not UnitLevel.PROVINCE:
        inside = unit_service.within(session, scope.unit.id)
        organisations = organisation_service.codes_in_units(session, inside)
    read: dict[int, ExchangeStatistics] = {}
    for panel in panels:
        settings: ExchangeSettings = panel.settings
        if settings.days not in read:
            read[settings.days] = exchange_statistics(session, settings.days, organisations)
        found = read[settings.days]
        services = sorted(found.services, key=lambda s: (-s.exchanges, s.service))
        panel.data = {
            "unit": {"code": scope.unit.code, "name": scope.unit.name},
            "by_organisations": organisations,
            "days": settings.days,
            "since": found.since.isoformat(),
            "exchanges": found.exchanges,
            "errors": found.errors,
            "error_rate": found.error_rate,
            "services": [
                {
                    "service": s.service,
                    "exchanges": s.exchanges,
                    "errors": s.errors,
                    "error_rate": s.error_rate,
                }
                for s in services[: settings.limit]
            ],
        }


def _counts_out(month: str, counts: field_reports.ReportCounts) -> dict[str, Any]:
    return {
        "month": month,
        "received": counts.received,
        "open": counts.open,
        "handled": counts.handled,
        "on_time": counts.on_time,
        "late": counts.late,
        "late_share": counts.late_share,
        "on_time_share": counts.on_time_share,
    }


def _field_reports(
    session: Session, panels: list[_Panel], scope: Scope, now: datetime | None = None
) -> None:
    """The chosen unit's field reports (its own and its communes'): this month so far and
    each month before it, oldest first (see ``field_reports.ReportCounts``); each month
    counted once whichever panels show it."""
    try:
        figures = field_reports.require()
    except DomainError as problem:
        for panel in panels:
            panel.error = problem
        return
    moment = now or utcnow()
    local = moment.astimezone(VIETNAM)
    counted: dict[str, field_reports.ReportCounts] = {}
    for panel in panels:
        trend: list[dict[str, Any]] = []
        for back in range(panel.settings.months - 1, -1, -1):
            year, month = divmod(local.year * 12 + local.month - 1 - back, 12)
            start = datetime(year, month + 1, 1, tzinfo=VIETNAM)
            after_year, after_month = divmod(year * 12 + month + 1, 12)
            end = min(datetime(after_year, after_month + 1, 1, tzinfo=VIETNAM), moment)
            name = f"{start:%Y-%m}"
            if name not in counted:
                counted[name] = figures.counts(session, [scope.unit.id], start, end)[scope.unit.id]
            trend.append(_counts_out(name, counted[name]))
        panel.data = {
            "unit": {"unit_set": scope.unit.unit_set.value, "code": scope.unit.code,
                     "name": scope.unit.name},
            "current": trend[-1],
            "trend": trend,
        }  # fmt: skip


def _key_figures(session: Session, panels: list[_Panel], _scope: Scope) -> None:
    _values_and_targets(session, panels)


# Each computation and the kinds of panel it fills, all of those panels at once.
_COMPUTE: list[tuple[set[PanelKind], Callable[[Session, list[_Panel], Scope], None]]] = [
    ({PanelKind.MAP}, _maps),
    ({PanelKind.KPI, PanelKind.TIMESERIES}, _key_figures),
    ({PanelKind.RANKING}, _rankings),
    ({PanelKind.STATUS_COUNTS}, _status_counts),
    ({PanelKind.EXCHANGE}, _exchange),
]


def panels_data(
    session: Session,
    panels: Sequence[tuple[PanelKind, Strict]],
    scope: Scope,
    now: datetime | None = None,
) -> list[dict[str, Any] | DomainError]:
    """Each panel's data, or the reason it has none (the others are computed all the same),
    in a number of statements that does not grow with the number of panels."""
    found = [_Panel(kind, settings) for kind, settings in panels]
    for panel in found:
        assert isinstance(panel.settings, SETTINGS[panel.kind])  # noqa: S101 - the kind's model
    try:
        _name_things(session, found, scope)
        for kinds, compute in _COMPUTE:
            mine = [p for p in found if p.kind in kinds and p.error is None]
            if mine:
                compute(session, mine, scope)
        reports = [p for p in found if p.kind is PanelKind.FIELD_REPORTS]
        if reports:
            _field_reports(session, reports, scope, now)
    except DomainError as problem:  # what all panels share failed: every panel says so
        for panel in found:
            if panel.data is None and panel.error is None:
                panel.error = problem
    return [panel.error if panel.error is not None else panel.data or {} for panel in found]
