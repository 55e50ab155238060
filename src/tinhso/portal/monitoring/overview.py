"""The plan overview: each target with its latest value, status, trend and source, by pillar.

A plan set on a level (every province, every commune of a province) has a row per target and
unit: hundreds or thousands. The page shows them a page at a time (``PAGE_SIZE`` rows, in
pillar order), the status counts of them all; each shown row's trend and sources are read
for the shown rows only. The XLSX export takes every row (``page=None``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from tinhso.core.i18n import format_number
from tinhso.core.i18n import gettext as _
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.demo import SYNTHETIC_LABEL
from tinhso.monitoring.models import Comparison, Direction
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import FIGURES, progress_service
from tinhso.monitoring.service import catalogue_service
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import localised, period_key
from tinhso.registry.models import UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import Achievement, ComputedValue, PlanOut
    from tinhso.registry.auth import Principal

# Status -> (CSS modifier, short label). The label is always shown: never colour alone.
STATUS_ORDER = ("achieved", "on_track", "behind", "not_achieved", "insufficient_data", "no_data")
STATUS_CLASS = {
    "achieved": "status-achieved",
    "on_track": "status-on-track",
    "behind": "status-behind",
    "not_achieved": "status-not-achieved",
    "insufficient_data": "status-unknown",
    "no_data": "status-unknown",
}
STATUS_ICON = {
    "achieved": "✔",
    "on_track": "↗",
    "behind": "⚠",
    "not_achieved": "✖",
    "insufficient_data": "…",
    "no_data": "–",
}
COMPARISON_TEXT = {
    Comparison.GE: "≥",
    Comparison.GT: ">",
    Comparison.LE: "≤",
    Comparison.LT: "<",
    Comparison.EQ: "=",
}
DEFAULT_PLAN = "bg_kh_324"
# Rows (target x unit) a page of the overview shows: ~1 KB of HTML each.
PAGE_SIZE = 50


def status_label(status: str) -> str:
    labels = {
        "achieved": _("Achieved"),
        "on_track": _("On track"),
        "behind": _("Behind schedule"),
        "not_achieved": _("Not achieved"),
        "insufficient_data": _("Not enough data"),
        "no_data": _("No data"),
    }
    return labels.get(status, status)


def map_texts() -> dict[str, object]:
    """The statuses and labels a choropleth's script shows (the map page's and the dashboards'
    map panels), in the page's language."""
    return {
        "statuses": [
            {"key": key, "label": status_label(key), "icon": STATUS_ICON[key]}
            for key in STATUS_ORDER
        ],
        "labels": {
            "value": _("Value"),
            "target": _("Target"),
            "percent": _("% of target"),
            "status": _("Status"),
            "no_target": _("No target"),
            "no_value": _("No value"),
            "point": _("No boundary: drawn at the unit's centre"),
            "legend_value": _("Legend: value ranges"),
            "legend_status": _("Legend: status against the target"),
            "tree": _("Units: current administrative boundaries"),
        },
    }


def basis_label(basis: str) -> str:
    labels = {
        "recorded": _("recorded"),
        "aggregated": _("aggregated from units below"),
        "reaggregated": _("re-aggregated from legacy units"),
        "recorded_over_legacy": _("recorded (legacy units' values for this period not used)"),
    }
    return labels.get(basis, basis)


def source_label(source: str) -> str:
    labels = {
        "form": _("Entry form"),
        "file": _("File or document"),
        "automatic": _("Collected through the exchange hub"),
        "api": _("Agency system (API)"),
    }
    return labels.get(source, source)


def reference_label(reference: str) -> str:
    """A value's source reference as recorded, but the demo's synthetic marker (stored in
    both languages for API readers) in the page's language only."""
    if reference == SYNTHETIC_LABEL:
        return _("Synthetic demo data, not a reported figure")
    return reference


def direction_label(direction: Direction) -> str:
    if direction is Direction.HIGHER_BETTER:
        return _("higher is better")
    return _("lower is better")


@dataclass
class TargetRow:
    achievement: Achievement
    indicator_name: str
    unit_of_measure: str
    decimals: int
    goal_text: str
    status_label: str
    status_class: str
    status_icon: str
    trend: list[tuple[str, float]]
    spark: str
    basis: str | None
    sources: list[str]
    note: str | None


@dataclass
class PillarGroup:
    code: str
    name: str
    rows: list[TargetRow] = field(default_factory=list)
    total: int = 0  # the group's rows on every page


@dataclass
class Overview:
    plan: PlanOut
    title: str
    groups: list[PillarGroup]
    counts: dict[str, int]
    total: int
    as_of_year: int | None
    unit_sets: set[str]
    page: int = 1
    pages: int = 1
    first: int = 0  # the shown rows' positions among all, from 1 (0: none shown)
    last: int = 0


def sparkline(values: list[float], width: int = 96, height: int = 28) -> str:
    """SVG polyline points for a small trend (server-drawn: no script needed)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 4) / (len(values) - 1)
    return " ".join(
        f"{2 + i * step:.1f},{height - 3 - (v - low) / span * (height - 6):.1f}"
        for i, v in enumerate(values)
    )


def goal_text(achievement: Achievement, decimals: int) -> str:
    operator = COMPARISON_TEXT[achievement.comparison]
    if achievement.target_low is not None and achievement.target_high is not None:
        low = format_number(achievement.target_low, None)
        high = format_number(achievement.target_high, None)
        return f"{low}–{high}"
    return f"{operator} {format_number(achievement.goal, None)}"


def _trend(
    session: Session, achievements: list[Achievement]
) -> dict[tuple[str, str, str], list[ComputedValue]]:
    """Each (indicator, unit set, unit)'s series over every period with data."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for a in achievements:
        wanted.setdefault((a.indicator_code, a.unit.unit_set.value), set()).add(a.unit.code)
    found: dict[tuple[str, str, str], list[ComputedValue]] = {}
    for (code, unit_set), units in wanted.items():
        indicator = catalogue_service.indicator(session, code)
        for value in catalogue.series(session, indicator, Tree(unit_set), units=sorted(units)):
            found.setdefault((code, unit_set, value.unit.code), []).append(value)
    for values in found.values():
        values.sort(key=lambda v: period_key(v.period))
    return found


def _sources(
    session: Session, achievements: list[Achievement], elements: dict[str, list[str]]
) -> dict[tuple[str, str, str, str], list[str]]:
    """Where each row's latest value's recorded numbers came from (source and reference), by
    (indicator, unit set, unit, period): one read per unit set, however many rows."""
    wanted: dict[UnitSet, tuple[set[str], set[str], set[str]]] = {}
    for a in achievements:
        if a.actual_period is not None:
            codes, units, periods = wanted.setdefault(a.unit.unit_set, (set(), set(), set()))
            codes.update(elements[a.indicator_code])
            units.add(a.unit.code)
            periods.add(a.actual_period)
    asked = tuple(
        (unit_set.value, tuple(sorted(codes)), tuple(sorted(units)), tuple(sorted(periods)))
        for unit_set, (codes, units, periods) in sorted(wanted.items())
    )

    def read() -> list[object]:
        return [
            (
                UnitSet(value.unit_set).value,
                value.unit_code,
                value.period,
                value.element_code,
                value.source,
                value.source_reference,
            )
            for unit_set, codes, units, periods in asked
            for value in catalogue.stored_values(
                session, list(codes), UnitSet(unit_set), list(units), list(periods)
            )
        ]

    # the values' sources, kept with the figures until a value is written
    stored: dict[tuple[str, str, str], list[tuple[str, str, str | None]]] = {}
    rows = cast(
        "list[tuple[str, str, str, str, str, str | None]]",
        FIGURES.get(session, ("overview-sources", asked), read),
    )
    for unit_set, unit_code, period, element, source, reference in rows:
        stored.setdefault((unit_set, unit_code, period), []).append((element, source, reference))
    found: dict[tuple[str, str, str, str], list[str]] = {}
    for a in achievements:
        if a.actual_period is None:
            continue
        own = set(elements[a.indicator_code])
        texts: list[str] = []
        for element, source, reference in stored.get(
            (a.unit.unit_set.value, a.unit.code, a.actual_period), []
        ):
            if element not in own:
                continue
            text = source_label(source)
            if reference:
                text = f"{text}: {reference_label(reference)}"
            if text not in texts:
                texts.append(text)
        found[(a.indicator_code, a.unit.unit_set.value, a.unit.code, a.actual_period)] = texts
    return found


def build(
    session: Session,
    principal: Principal,
    plan_code: str,
    as_of_year: int | None,
    page: int | None = None,
) -> Overview:
    """The plan's overview: every row (``page=None``) or one page of ``PAGE_SIZE`` rows (a
    page past the last shows the last). The status counts are always of every row."""
    plan_row = plan_service.get(session, plan_code)
    plan = next(p for p in catalogue.plans(session, principal) if p.code == plan_row.code)
    achievements = progress_service.plan_progress(session, plan_row, as_of_year)
    targets = {t.id: t for t in catalogue.targets(session, principal, plan.code)}
    pillar_list = catalogue.pillars(session, principal)
    pillar_names = {p.code: localised(p.name_vi, p.name_en) for p in pillar_list}
    pillar_order = [p.code for p in pillar_list]
    indicators = {i.code: i for i in catalogue.indicators(session, principal)}
    names = {code: localised(i.name_vi, i.name_en) for code, i in indicators.items()}

    # Every row's place: pillars in their order (the others after, as first met), then the
    # target's year and the indicator's name; units in the order progress gives them.
    met: dict[str, int] = {}
    for a in achievements:
        met.setdefault(indicators[a.indicator_code].pillar_code or "", len(met))

    def place(a: Achievement) -> tuple[int, int, int, str]:
        pillar = indicators[a.indicator_code].pillar_code or ""
        rank = pillar_order.index(pillar) if pillar in pillar_order else len(pillar_order)
        return (rank, met[pillar], a.year, names[a.indicator_code])

    ordered = sorted(achievements, key=place)
    totals = Counter(indicators[a.indicator_code].pillar_code or "" for a in ordered)
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for a in achievements:
        counts[a.status] += 1
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    shown_page = min(max(page or 1, 1), pages)
    if page is None:
        shown, first = ordered, 1
    else:
        first = (shown_page - 1) * PAGE_SIZE + 1
        shown = ordered[first - 1 : first - 1 + PAGE_SIZE]
    trends = _trend(session, shown)
    sources = _sources(session, shown, {code: list(i.elements) for code, i in indicators.items()})
    groups: dict[str, PillarGroup] = {}
    for a in shown:
        indicator = indicators[a.indicator_code]
        pillar = indicator.pillar_code or ""
        group = groups.setdefault(
            pillar,
            PillarGroup(
                pillar, pillar_names.get(pillar, _("Other indicators")), total=totals[pillar]
            ),
        )
        points = trends.get((a.indicator_code, a.unit.unit_set.value, a.unit.code), [])
        latest = next((p for p in points if p.period == a.actual_period), None)
        target = targets.get(a.target_id)
        group.rows.append(
            TargetRow(
                achievement=a,
                indicator_name=names[a.indicator_code],
                unit_of_measure=localised(indicator.unit_of_measure, indicator.unit_of_measure_en),
                decimals=indicator.decimals,
                goal_text=goal_text(a, indicator.decimals),
                status_label=status_label(a.status),
                status_class=STATUS_CLASS[a.status],
                status_icon=STATUS_ICON[a.status],
                trend=[(p.period, float(p.value or 0)) for p in points if p.value is not None],
                spark=sparkline([float(p.value) for p in points if p.value is not None]),
                basis=latest.basis if latest else None,
                sources=sources.get(
                    (a.indicator_code, a.unit.unit_set.value, a.unit.code, a.actual_period or ""),
                    [],
                ),
                note=target.note if target else None,
            )
        )
    return Overview(
        plan=plan,
        title=localised(plan.title_vi, plan.title_en),
        groups=list(groups.values()),
        counts=counts,
        total=len(achievements),
        as_of_year=as_of_year,
        unit_sets={a.unit.unit_set.value for a in achievements},
        page=shown_page if page is not None else 1,
        pages=pages if page is not None else 1,
        first=first if shown else 0,
        last=first + len(shown) - 1 if shown else 0,
    )
