"""What each kind of panel shows, computed by the services that own the numbers: the map
(``maps.boundaries.unit_map``), values, targets, rankings and plan progress
(``progress.service``), and exchange traffic (``exchange.audit.statistics``). The unit
chosen filters every kind but the map and the ranking (which mark it): plan progress counts
the targets' units inside it, exchange traffic the exchanges of its organisations. Every kind
costs a constant number of statements however many units, values or records there are.

Not a panel kind: field reports. The reports domain sits above monitoring in the layers
(``pyproject.toml``), so monitoring cannot call its statistics service.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinhso.exchange.audit.statistics import exchange_statistics
from tinhso.monitoring import repository
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.dashboards.schemas import (
    ExchangeSettings,
    KpiSettings,
    MapSettings,
    PanelKind,
    PinnedUnit,
    RankingSettings,
    StatusCountsSettings,
    Strict,
    TimeseriesSettings,
)
from tinhso.monitoring.maps.boundaries import target_properties, unit_map
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.progress.trajectory import STATUS_TEXT
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import Indicator
    from tinhso.monitoring.schemas import TrajectoryStatus
    from tinhso.registry.units import UnitNode

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


def indicator_periods(session: Session, indicator: Indicator) -> list[str]:
    """Every period with a stored value of one of the indicator's elements, oldest first."""
    codes = set(formulas.parse(indicator.formula).elements)
    ids = [element.id for element in repository.elements_by_codes(session, codes).values()]
    return sorted(
        repository.periods_with_values(session, ids), key=lambda p: parse_period(p).position
    )


def _period(session: Session, indicator: Indicator, chosen: str | None) -> str | None:
    if chosen:
        parse_period(chosen, field="settings.period")
        return chosen
    periods = indicator_periods(session, indicator)
    return periods[-1] if periods else None


def _map(session: Session, settings: MapSettings, scope: Scope) -> dict[str, Any]:
    indicator = catalogue_service.indicator(session, settings.indicator)
    period = _period(session, indicator, settings.period)
    found = unit_map(session, indicator, period, scope.province.code) if period else None
    return {
        "indicator": _indicator_header(indicator),
        "period": period,
        "mode": settings.mode,
        "geojson": found.collection if found else None,
        "synthetic": bool(found and found.synthetic),
        "with_target": bool(found and found.with_target),
        "selected": scope.unit.code,
    }


def _unit(session: Session, pinned: PinnedUnit | None, scope: Scope) -> tuple[UnitNode, Tree]:
    """The unit a panel shows and its tree: the pinned one, else the scope's (current)."""
    if pinned is None:
        return scope.unit, Tree.CURRENT
    ref = UnitRef(unit_set=pinned.unit_set, code=pinned.code)
    unit = unit_service.resolve(session, ref, "settings.unit")
    return unit_service.nodes(session, [unit.id])[unit.id], Tree(pinned.unit_set.value)


def _unit_out(unit: UnitNode, tree: Tree) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "unit_set": tree.value}


def _kpi(session: Session, settings: KpiSettings, scope: Scope) -> dict[str, Any]:
    indicator = catalogue_service.indicator(session, settings.indicator)
    period = _period(session, indicator, settings.period)
    unit, tree = _unit(session, settings.unit, scope)
    value = None
    target = target_properties(None)
    if period:
        ref = UnitRef(unit_set=unit.unit_set, code=unit.code)
        rows = progress_service.indicator_values(session, indicator, [period], tree, units=[ref])
        value = rows[0].value if rows else None
        achieved = progress_service.unit_achievements(session, indicator, period, tree, [unit.id])
        target = target_properties(achieved.get(unit.id))
    return {
        "indicator": _indicator_header(indicator),
        "period": period,
        "unit": _unit_out(unit, tree),
        "value": value,
        **target,
    }


def _timeseries(session: Session, settings: TimeseriesSettings, scope: Scope) -> dict[str, Any]:
    indicator = catalogue_service.indicator(session, settings.indicator)
    periods = indicator_periods(session, indicator)
    if periods:  # the latest period's type only: years with years, months with months
        kind = parse_period(periods[-1]).type
        periods = [p for p in periods if parse_period(p).type is kind][-settings.last :]
    unit, tree = _unit(session, settings.unit, scope)
    points: list[dict[str, Any]] = []
    target = target_properties(None)
    if periods:
        ref = UnitRef(unit_set=unit.unit_set, code=unit.code)
        rows = progress_service.indicator_values(session, indicator, periods, tree, units=[ref])
        values = {row.period: row.value for row in rows}
        points = [{"period": p, "value": values.get(p)} for p in periods]
        achieved = progress_service.unit_achievements(
            session, indicator, periods[-1], tree, [unit.id]
        )
        target = target_properties(achieved.get(unit.id))
    return {
        "indicator": _indicator_header(indicator),
        "unit": _unit_out(unit, tree),
        "points": points,
        **target,
    }


def _ranking(session: Session, settings: RankingSettings, scope: Scope) -> dict[str, Any]:
    indicator = catalogue_service.indicator(session, settings.indicator)
    period = _period(session, indicator, settings.period)
    rows: list[dict[str, Any]] = []
    total = 0
    if period:
        communes = settings.level == "commune"
        ranked = progress_service.ranking(
            session,
            indicator,
            period,
            Tree.CURRENT,
            UnitLevel.COMMUNE if communes else UnitLevel.PROVINCE,
            UnitRef(unit_set=UnitSet.CURRENT, code=scope.province.code) if communes else None,
        )
        total = len(ranked)
        rows = [
            {
                "rank": row.rank,
                "code": row.unit.code,
                "name": row.unit_name,
                "value": row.value,
                "selected": row.unit.code in {scope.unit.code},
            }
            for row in ranked[: settings.limit]
        ]
    return {
        "indicator": _indicator_header(indicator),
        "period": period,
        "level": settings.level,
        "rows": rows,
        "total": total,
    }


def _status_counts(
    session: Session, settings: StatusCountsSettings, scope: Scope
) -> dict[str, Any]:
    plan = plan_service.get(session, settings.plan)
    items = progress_service.plan_progress(session, plan, settings.as_of, within=scope.unit.id)
    counted: Counter[str] = Counter(item.status for item in items)
    return {
        "unit": {"code": scope.unit.code, "name": scope.unit.name},
        "plan": {
            "code": plan.code,
            "number": plan.number,
            "title_vi": plan.title_vi,
            "title_en": plan.title_en or plan.title_vi,
        },
        "as_of": settings.as_of,
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


def _exchange(session: Session, settings: ExchangeSettings, scope: Scope) -> dict[str, Any]:
    """The province's whole traffic on its own unit; inside it (a commune chosen, or a
    commune's dashboard) only the exchanges where an organisation of that unit's subtree
    called or provided (an exchange names its systems, a system its organisation, an
    organisation its unit)."""
    organisations: list[str] | None = None
    if scope.unit.level is not UnitLevel.PROVINCE:
        inside = unit_service.within(session, scope.unit.id)
        organisations = organisation_service.codes_in_units(session, inside)
    found = exchange_statistics(session, settings.days, organisations)
    services = sorted(found.services, key=lambda s: (-s.exchanges, s.service))
    return {
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


def panel_data(session: Session, kind: PanelKind, settings: Strict, scope: Scope) -> dict[str, Any]:
    if kind is PanelKind.MAP:
        assert isinstance(settings, MapSettings)  # noqa: S101 - the kind picked the model
        return _map(session, settings, scope)
    if kind is PanelKind.KPI:
        assert isinstance(settings, KpiSettings)  # noqa: S101
        return _kpi(session, settings, scope)
    if kind is PanelKind.TIMESERIES:
        assert isinstance(settings, TimeseriesSettings)  # noqa: S101
        return _timeseries(session, settings, scope)
    if kind is PanelKind.RANKING:
        assert isinstance(settings, RankingSettings)  # noqa: S101
        return _ranking(session, settings, scope)
    if kind is PanelKind.STATUS_COUNTS:
        assert isinstance(settings, StatusCountsSettings)  # noqa: S101
        return _status_counts(session, settings, scope)
    assert isinstance(settings, ExchangeSettings)  # noqa: S101
    return _exchange(session, settings, scope)
