"""Portal pages of digital-transformation monitoring (IOC) (see the contract in ``tinhso.portal.pages``).

Who sees what follows ``tinhso.monitoring.auth``: every logged-in official reads plans,
indicators, rankings and the index; values are entered (form or file) by officers for
the units of their organisation and below (``entry.py``).

- ``/monitoring``: a plan's targets with the latest value, achievement, status and trend.
- ``/monitoring/indicators/{code}``: values over time against the target, by unit.
- ``/monitoring/rankings``: units ranked on an indicator for a period (ties share a rank).
- ``/monitoring/index``: the composite index by pillar for a methodology version.
Pages computed on the unit tree say which tree (legacy or current) they show.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput, NotFound
from tinhso.core.generations import GenerationCache
from tinhso.core.i18n import current_locale, format_number
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import FIGURES_GENERATION, Direction
from tinhso.monitoring.progress.service import (
    MIN_UNITS_TO_RANK,
    is_published_rank,
    progress_service,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring import (
    alerts,
    catalogue,
    dashboard_exports,
    dashboards,
    entry,
    grid,
    kiosk,
    maps,
    overview,
    standings,
)
from tinhso.portal.monitoring.catalogue import localised, period_key, period_label, tree_note
from tinhso.portal.monitoring.progress_export import progress_workbook
from tinhso.portal.rendering import environment, render
from tinhso.portal.units import unit_typed
from tinhso.portal.workbooks import download
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import Indicator
    from tinhso.monitoring.schemas import ComputedValue, IndicatorOut, PlanOut, TargetOut
    from tinhso.registry.auth import Principal

router = APIRouter()
router.include_router(entry.router)
router.include_router(grid.router)
router.include_router(maps.router)
router.include_router(dashboards.router)
router.include_router(dashboard_exports.router)
router.include_router(kiosk.router)
router.include_router(alerts.router)

_MAX_SELECTED_UNITS = 8
Code = Annotated[str | None, Query(max_length=64)]


def _tree(value: str | None, default: Tree) -> Tree:
    try:
        return Tree(value) if value else default
    except ValueError:
        return default


def _level(value: str | None) -> UnitLevel:
    try:
        return UnitLevel(value) if value else UnitLevel.PROVINCE
    except ValueError:
        return UnitLevel.PROVINCE


def amount(value: float | None, decimals: int = 2) -> str:
    """A value rounded to its indicator's decimals, without trailing zeros: 68,42; 95; 1.380."""
    if value is None:
        return "–"
    return format_number(round(value, min(decimals, 4)), None)


def level_label(level: UnitLevel) -> str:
    labels = {
        UnitLevel.PROVINCE: _("Provinces"),
        UnitLevel.DISTRICT: _("Districts"),
        UnitLevel.COMMUNE: _("Communes"),
    }
    return labels[level]


def _common(request: Request, tree: Tree) -> dict[str, Any]:
    def tree_url(value: str) -> str:
        url = request.url.remove_query_params(["parent", "unit"]).include_query_params(tree=value)
        return f"{url.path}?{url.query}"

    return {
        "tree": tree.value,
        "tree_url": tree_url,
        "tree_note": tree_note(tree),
        "trees": [
            ("current", _("Current units (since 01/07/2025)")),
            ("legacy", _("Legacy units (before 01/07/2025)")),
        ],
        "period_label": period_label,
        "amount": amount,
        "status_label": overview.status_label,
        "basis_label": overview.basis_label,
        "source_label": overview.source_label,
        "reference_label": overview.reference_label,
    }


# --- plan overview ------------------------------------------------------------------------


def _plan_progress(
    session: Session,
    principal: Principal,
    plan: str | None,
    as_of: str | None,
    page: int | None = None,
) -> tuple[list[PlanOut], str | None, overview.Overview | None]:
    """The plans one may see, the one chosen (the request's, else the default) and its
    progress: every row, or one page of them."""
    plans, chosen, as_of_year = _plan_chosen(session, principal, plan, as_of)
    data = overview.build(session, principal, chosen, as_of_year, page) if chosen else None
    return plans, chosen, data


# The plan overview as the page shows it (its model and its tables' HTML), kept per plan, year
# assessed, page, language and this year until a commit writes the figures (catalogue, targets,
# values) or the units: the overview is the same for every official, and a wall screen or a
# room of officials reloads the same page. Shared between requests: never changed by a reader.
_OVERVIEWS: GenerationCache[tuple[overview.Overview, Markup]] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION), max_weight=200
)


def _kept_overview(
    session: Session, principal: Principal, chosen: str, as_of_year: int | None, page: int
) -> tuple[overview.Overview, Markup]:
    def compute() -> tuple[overview.Overview, Markup]:
        data = overview.build(session, principal, chosen, as_of_year, page)
        tables = environment().get_template("monitoring/_overview_groups.html")
        values = {"overview": data, "period_label": period_label, "amount": amount}
        return data, Markup(tables.render({**values, "basis_label": overview.basis_label}))  # noqa: S704 - autoescaped

    key = (chosen, as_of_year, page, overview.PAGE_SIZE, current_locale.get(), utcnow().year)
    return _OVERVIEWS.get(session, key, compute)


def _plan_chosen(
    session: Session, principal: Principal, plan: str | None, as_of: str | None
) -> tuple[list[PlanOut], str | None, int | None]:
    """The plans one may see, the one chosen (the request's, else the default) and the year
    assessed (None: this year)."""
    as_of_year = int(as_of) if as_of and as_of.isdigit() and 1990 <= int(as_of) <= 2100 else None
    plans = catalogue.plans(session, principal)
    codes = [p.code for p in plans]
    chosen = (
        plan
        if plan in codes
        else (overview.DEFAULT_PLAN if overview.DEFAULT_PLAN in codes else None)
    )
    if chosen is None and plans:
        chosen = max(plans, key=lambda p: p.targets).code
    if plan and plan not in codes:
        raise NotFound(f"Không tìm thấy kế hoạch {plan}", f"Plan {plan} not found", field="plan")
    return plans, chosen, as_of_year


@router.get(
    "/monitoring/progress.xlsx",
    summary="The plan-progress table as an XLSX workbook, headers in the page's language (any official)",
)
def plan_progress_workbook(
    session: DbSession,
    principal: PortalUser,
    plan: Code = None,
    as_of: Annotated[str | None, Query(max_length=4)] = None,
) -> Response:
    _plans, chosen, data = _plan_progress(session, principal, plan, as_of)
    if data is None or chosen is None:
        raise NotFound("Chưa có kế hoạch nào", "No plan has been recorded yet", field="plan")
    year = data.as_of_year or ""
    name = f"tien-do-{chosen}{f'-{year}' if year else ''}.xlsx"
    return download(progress_workbook(data), name)


@router.get("/monitoring", summary="Plan overview: targets, latest values, statuses (any official)")
def plan_overview(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    plan: Code = None,
    as_of: Annotated[str | None, Query(max_length=4)] = None,
    page: Annotated[str | None, Query(max_length=6, description="Page of targets, from 1")] = None,
) -> Response:
    number = int(page) if page and page.isdigit() else 1
    plans, chosen, as_of_year = _plan_chosen(session, principal, plan, as_of)
    data, tables = (
        _kept_overview(session, principal, chosen, as_of_year, number)
        if chosen
        else (None, Markup(""))
    )
    chart = (
        {
            "labels": [overview.status_label(s) for s in overview.STATUS_ORDER],
            "keys": list(overview.STATUS_ORDER),
            "values": [data.counts[s] for s in overview.STATUS_ORDER],
        }
        if data
        else None
    )
    return render(
        request,
        "monitoring/overview.html",
        {
            "plans": plans,
            "chosen": chosen,
            "overview": data,
            "overview_groups": tables,
            "chart": chart,
            "localised": localised,
            "status_order": overview.STATUS_ORDER,
            "status_class": overview.STATUS_CLASS,
            "direction_label": overview.direction_label,
            "open_alerts": alert_service.open_count(session),
            **_common(request, Tree.LEGACY),
        },
    )


# --- indicator detail ---------------------------------------------------------------------


def _indicator_view(
    session: Session,
    principal: Principal,
    code: str,
    tree: str | None,
    parent: str | None,
    unit: list[str] | None,
) -> dict[str, Any]:
    """What the indicator page shows, and its XLSX export holds."""
    indicator = catalogue_service.indicator(session, code)
    out = next(i for i in catalogue.indicators(session, principal) if i.code == indicator.code)
    targets = catalogue.indicator_targets(session, principal, indicator.code)
    target_sets = {t.scope_unit_set.value for _, t in targets}
    default_tree = Tree.LEGACY if target_sets == {"legacy"} else Tree.CURRENT
    chosen_tree = _tree(tree, default_tree)
    unit_set = UnitSet(chosen_tree.value)
    parent_code = (parent or "").strip() or None
    values = _indicator_series(session, indicator, chosen_tree, parent_code, unit)
    units_with_data: dict[str, str] = {}
    for value in values:
        units_with_data.setdefault(value.unit.code, value.unit_name)
    selected = _selected_units(unit, units_with_data, targets, unit_set)
    periods = sorted({v.period for v in values}, key=period_key)
    shown = [v for v in values if v.unit.code in selected]
    parent_name = None
    if parent_code:
        parent_name = next(
            (
                u.name
                for u in catalogue.units_of_level(session, unit_set, UnitLevel.PROVINCE)
                if u.code == parent_code
            ),
            parent_code,
        )
    return {
        "indicator": out,
        "name": localised(out.name_vi, out.name_en),
        "description": localised(out.description_vi or "", out.description_en),
        "unit_of_measure": localised(out.unit_of_measure, out.unit_of_measure_en),
        "direction": overview.direction_label(out.direction),
        "targets": targets,
        "units_with_data": sorted(units_with_data.items(), key=lambda item: item[1]),
        "selected": selected,
        "table": sorted(shown, key=lambda v: (v.unit.code, -period_key(v.period))),
        "stored": catalogue.stored_values(session, out.elements, unit_set, selected),
        "chart": _indicator_chart(
            out, targets, unit_set, selected, units_with_data, periods, shown
        ),
        "parent": parent_code or "",
        "parent_name": parent_name,
        "comparison_text": overview.COMPARISON_TEXT,
        "chosen_tree": chosen_tree,
    }


Units = Annotated[list[str] | None, Query(max_length=16)]


@router.get(
    "/monitoring/indicators/{code}.xlsx",
    summary="An indicator's values table as XLSX, headers in the page's language (any official)",
)
def indicator_workbook(
    session: DbSession,
    principal: PortalUser,
    code: Annotated[str, Path(max_length=64)],
    tree: Code = None,
    parent: Code = None,
    unit: Units = None,
) -> Response:
    view = _indicator_view(session, principal, code, tree, parent, unit)
    return download(standings.indicator_workbook(view), f"chi-so-{code}.xlsx")


@router.get(
    "/monitoring/indicators/{code}",
    summary="An indicator's values against its targets, by unit, with provenance (any official)",
)
def indicator_detail(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str,
    tree: Code = None,
    parent: Code = None,
    unit: Units = None,
) -> Response:
    view = _indicator_view(session, principal, code, tree, parent, unit)
    export = request.url.replace(path=f"/monitoring/indicators/{view['indicator'].code}.xlsx")
    view["export_url"] = f"{export.path}?{export.query}" if export.query else export.path
    return render(
        request, "monitoring/indicator.html", {**view, **_common(request, view["chosen_tree"])}
    )


def _indicator_series(
    session: Session,
    indicator: Indicator,
    tree: Tree,
    parent_code: str | None,
    unit: list[str] | None,
) -> list[ComputedValue]:
    """The provinces' series (or the children of ``parent_code``), with those of the units
    asked for by code that are of another level."""
    values = catalogue.series(
        session,
        indicator,
        tree,
        level=None if parent_code else UnitLevel.PROVINCE,
        parent=parent_code,
    )
    known = {value.unit.code for value in values}
    asked = [c.strip() for c in unit or [] if c.strip() and c.strip() not in known]
    if asked:  # units of another level (a district from the entry form): add their series
        with suppress(InvalidInput):  # an unknown unit code is just not shown
            values += catalogue.series(session, indicator, tree, units=asked[:8])
    return values


def _selected_units(
    unit: list[str] | None,
    units_with_data: dict[str, str],
    targets: list[tuple[PlanOut, TargetOut]],
    unit_set: UnitSet,
) -> list[str]:
    """The units asked for that have data; else those with a target, else the first five."""
    target_units = [
        t.scope_unit.code
        for _, t in targets
        if t.scope_unit is not None and t.scope_unit.unit_set is unit_set
    ]
    selected = [c for c in (unit or []) if c in units_with_data][:_MAX_SELECTED_UNITS]
    if not selected:
        selected = [c for c in dict.fromkeys(target_units) if c in units_with_data]
        selected = selected or sorted(units_with_data)[:5]
    return selected


def _indicator_chart(
    out: IndicatorOut,
    targets: list[tuple[PlanOut, TargetOut]],
    unit_set: UnitSet,
    selected: list[str],
    units_with_data: dict[str, str],
    periods: list[str],
    shown: list[ComputedValue],
) -> dict[str, Any]:
    """The chart's data: one series per selected unit over ``periods`` (yearly: run on to
    the targets' years) and the target lines of the selected units (else of the set)."""
    in_scope = [
        (p, t)
        for p, t in targets
        if t.scope_unit_set is unit_set and (t.scope_unit is None or t.scope_unit.code in selected)
    ]
    if not in_scope:  # e.g. a district shown against its province's target
        in_scope = [(p, t) for p, t in targets if t.scope_unit_set is unit_set]
    target_lines = [
        {
            "label": f"{_('Target')} {t.year}",
            "year": t.year,
            "value": t.target_value,
            "low": t.target_low,
            "high": t.target_high,
            "plan": p.number,
        }
        for p, t in in_scope
    ]
    if periods and all(p.isdigit() for p in periods):  # yearly: run the axis to the targets' years
        last = max(int(p) for p in periods)
        years = [t.year for _p, t in in_scope]
        periods = [
            *periods,
            *(str(y) for y in range(last + 1, min(max(years, default=last), last + 10) + 1)),
        ]
    return {
        "periods": [period_label(p) for p in periods],
        "series": [
            {
                "name": units_with_data[c],
                "data": [
                    next((v.value for v in shown if v.unit.code == c and v.period == p), None)
                    for p in periods
                ],
            }
            for c in selected
        ],
        "targets": target_lines,
        "unit": localised(out.unit_of_measure, out.unit_of_measure_en),
        "decimals": out.decimals,
    }


# --- rankings -----------------------------------------------------------------------------


def _rankings_view(
    session: Session,
    principal: Principal,
    indicator: str | None,
    period: str | None,
    tree: str | None,
    level: str | None,
    parent: str | None,
) -> dict[str, Any]:
    """What the rankings page shows, and its XLSX export holds."""
    indicators = catalogue.indicators(session, principal)
    codes = {i.code for i in indicators}
    chosen = indicator if indicator in codes else None
    chosen_tree = _tree(tree, Tree.LEGACY)
    chosen_level = _level(level)
    parent_code, parent_error = unit_typed(session, UnitSet(chosen_tree.value), parent)
    periods: list[str] = []
    ranked = []
    chosen_period = None
    out = None
    if chosen:
        model = catalogue_service.indicator(session, chosen)
        out = next(i for i in indicators if i.code == chosen)
        periods = list(reversed(catalogue.indicator_periods(session, model)))
        chosen_period = period if period in periods else (periods[0] if periods else None)
        if chosen_period and not parent_error:
            ranked = progress_service.ranking(
                session,
                model,
                chosen_period,
                chosen_tree,
                chosen_level,
                UnitRef(unit_set=UnitSet(chosen_tree.value), code=parent_code)
                if parent_code
                else None,
            )
    ranks = [r.rank for r in ranked]
    published = out is not None and is_published_rank(out.unit_of_measure_en)
    return {
        "indicators": sorted(indicators, key=lambda i: localised(i.name_vi, i.name_en)),
        "chosen": chosen,
        "indicator": out,
        "periods": periods,
        "period": chosen_period,
        "ranked": ranked,
        "tied": {rank for rank in ranks if ranks.count(rank) > 1},
        "ranks_shown": len(ranked) >= MIN_UNITS_TO_RANK and not published,
        "published_rank": published,
        "min_units": MIN_UNITS_TO_RANK,
        "levels": [(lv.value, level_label(lv)) for lv in UnitLevel],
        "level": chosen_level.value,
        "parent": parent_code or (parent or "").strip(),
        "parent_error": parent_error,
        "higher_better": out is not None and out.direction is Direction.HIGHER_BETTER,
        "direction": overview.direction_label(out.direction) if out else "",
        "localised": localised,
        "chosen_tree": chosen_tree,
    }


Period = Annotated[str | None, Query(max_length=10)]
Level = Annotated[str | None, Query(max_length=16)]
Parent = Annotated[str | None, Query(max_length=100)]


@router.get(
    "/monitoring/rankings", summary="Units ranked on an indicator for a period (any official)"
)
def rankings(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    indicator: Code = None,
    period: Period = None,
    tree: Code = None,
    level: Level = None,
    parent: Parent = None,
) -> Response:
    view = _rankings_view(session, principal, indicator, period, tree, level, parent)
    export = request.url.replace(path="/monitoring/rankings.xlsx")
    view["export_url"] = f"{export.path}?{export.query}"
    return render(
        request, "monitoring/rankings.html", {**view, **_common(request, view["chosen_tree"])}
    )


@router.get(
    "/monitoring/rankings.xlsx",
    summary="The rankings table as XLSX, headers in the page's language (any official)",
)
def rankings_workbook(
    session: DbSession,
    principal: PortalUser,
    indicator: Code = None,
    period: Period = None,
    tree: Code = None,
    level: Level = None,
    parent: Parent = None,
) -> Response:
    view = _rankings_view(session, principal, indicator, period, tree, level, parent)
    out = view["indicator"]
    if out is None or view["period"] is None:
        raise NotFound(
            "Chọn một chỉ số có số liệu để xuất bảng xếp hạng",
            "Choose an indicator with values to export its ranking",
            field="indicator",
        )
    return download(standings.ranking_workbook(view), f"xep-hang-{out.code}-{view['period']}.xlsx")


# --- composite index ----------------------------------------------------------------------


def _index_view(
    session: Session,
    principal: Principal,
    methodology: str | None,
    period: str | None,
    tree: str | None,
) -> dict[str, Any]:
    """What the index page shows, and its XLSX export holds."""
    methods = catalogue.methodologies(session, principal)
    codes = [m.code for m in methods]
    chosen = methodology if methodology in codes else (codes[-1] if codes else None)
    chosen_tree = _tree(tree, Tree.LEGACY)
    chosen_period = period if period and period.isdigit() and len(period) == 4 else None
    scores = []
    method = None
    if chosen:
        method = next(m for m in methods if m.code == chosen)
        model = methodology_service.get(session, chosen)
        if chosen_period is None:
            chosen_period = str(method.issued_on.year - 1) if method.issued_on else "2024"
        scores = progress_service.index(session, model, chosen_period, chosen_tree)
    pillars = [c for c in (method.components if method else []) if c.parent_code is None]
    chart = {
        "units": [s.unit_name for s in scores[:20]],
        "pillars": [
            {
                "name": localised(p.name_vi, p.name_en),
                "data": [
                    round(next((x.points for x in s.pillars if x.code == p.code), 0.0), 2)
                    for s in scores[:20]
                ],
            }
            for p in pillars
        ],
    }
    return {
        "methodologies": methods,
        "chosen": chosen,
        "methodology": method,
        "period": chosen_period or "",
        "scores": scores,
        "ranks_shown": len(scores) >= MIN_UNITS_TO_RANK,
        "min_units": MIN_UNITS_TO_RANK,
        "pillars": pillars,
        "chart": chart,
        "localised": localised,
        "chosen_tree": chosen_tree,
    }


@router.get("/monitoring/index", summary="Composite index per unit by pillar (any official)")
def composite_index(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    methodology: Code = None,
    period: Period = None,
    tree: Code = None,
) -> Response:
    view = _index_view(session, principal, methodology, period, tree)
    view["export_url"] = (
        f"/monitoring/index.xlsx?methodology={view['chosen'] or ''}"
        f"&period={view['period']}&tree={view['chosen_tree'].value}"
    )
    return render(
        request, "monitoring/index.html", {**view, **_common(request, view["chosen_tree"])}
    )


@router.get(
    "/monitoring/index.xlsx",
    summary="The composite-index table as XLSX, headers in the page's language (any official)",
)
def index_workbook(
    session: DbSession,
    principal: PortalUser,
    methodology: Code = None,
    period: Period = None,
    tree: Code = None,
) -> Response:
    view = _index_view(session, principal, methodology, period, tree)
    if view["methodology"] is None:
        raise NotFound(
            "Chưa có phương pháp tính chỉ số nào",
            "No methodology has been recorded yet",
            field="methodology",
        )
    return download(
        standings.index_workbook(view), f"chi-so-{view['chosen']}-{view['period']}.xlsx"
    )
