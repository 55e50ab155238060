"""What each kind of panel shows, computed by the services that own the numbers: the map
(``maps.boundaries.unit_map``), values, targets, rankings and plan progress
(``progress.service``), exchange traffic (``exchange.audit.statistics``), and field reports
through monitoring's extension point (``monitoring.field_reports``: the reports domain sits
above monitoring in the layers and registers its figures there). The unit chosen filters
every kind but the map and the ranking (which mark it): plan progress counts the targets'
units inside it, exchange traffic the exchanges of its organisations, field reports those in
it and below. Every kind costs a constant number of statements however many units, values or
records there are (field reports: two per month shown).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tinhso.core.calendar import VIETNAM
from tinhso.core.db import utcnow
from tinhso.exchange.audit.statistics import exchange_statistics
from tinhso.monitoring import field_reports, repository
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.dashboards.schemas import (
    SETTINGS,
    ExchangeSettings,
    FieldReportsSettings,
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
from tinhso.monitoring.progress.service import FIGURES, progress_service
from tinhso.monitoring.progress.trajectory import STATUS_TEXT
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Callable

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
    """Every period with a stored value of one of the indicator's elements, oldest first
    (kept with the computed figures until a value or the formula changes)."""

    def read() -> list[object]:
        codes = set(formulas.parse(indicator.formula).elements)
        ids = [element.id for element in repository.elements_by_codes(session, codes).values()]
        ordered = sorted(
            repository.periods_with_values(session, ids), key=lambda p: parse_period(p).position
        )
        return list(ordered)

    return [str(period) for period in FIGURES.get(session, ("periods", indicator.id), read)]


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
    session: Session, settings: FieldReportsSettings, scope: Scope, now: datetime | None = None
) -> dict[str, Any]:
    """The chosen unit's field reports (its own and its communes'): this month so far and
    each month before it, oldest first (see ``field_reports.ReportCounts``)."""
    figures = field_reports.require()
    moment = now or utcnow()
    local = moment.astimezone(VIETNAM)
    months: list[str] = []
    trend: list[dict[str, Any]] = []
    for back in range(settings.months - 1, -1, -1):
        year, month = divmod(local.year * 12 + local.month - 1 - back, 12)
        start = datetime(year, month + 1, 1, tzinfo=VIETNAM)
        after_year, after_month = divmod(year * 12 + month + 1, 12)
        end = min(datetime(after_year, after_month + 1, 1, tzinfo=VIETNAM), moment)
        counts = figures.counts(session, [scope.unit.id], start, end)[scope.unit.id]
        months.append(f"{start:%Y-%m}")
        trend.append(_counts_out(months[-1], counts))
    return {
        "unit": {"unit_set": scope.unit.unit_set.value, "code": scope.unit.code,
                 "name": scope.unit.name},
        "current": trend[-1],
        "trend": trend,
    }  # fmt: skip


def panel_data(session: Session, kind: PanelKind, settings: Strict, scope: Scope) -> dict[str, Any]:
    assert isinstance(settings, SETTINGS[kind])  # noqa: S101 - the kind picked the model
    compute: dict[PanelKind, Callable[[Session, Any, Scope], dict[str, Any]]] = {
        PanelKind.MAP: _map,
        PanelKind.KPI: _kpi,
        PanelKind.TIMESERIES: _timeseries,
        PanelKind.RANKING: _ranking,
        PanelKind.STATUS_COUNTS: _status_counts,
        PanelKind.EXCHANGE: _exchange,
        PanelKind.FIELD_REPORTS: _field_reports,
    }
    return compute[kind](session, settings, scope)
