"""The indicator, rankings and composite-index tables as XLSX workbooks, with the page's figures and
headers in the page's language. A rank column is there only when the page shows ranks (enough
units have values, and the values are not ranks published by others)."""

from __future__ import annotations

from typing import Any

from tinhso.core.i18n import gettext as _
from tinhso.portal.monitoring.catalogue import localised, period_label, tree_note
from tinhso.portal.monitoring.overview import basis_label
from tinhso.portal.workbooks import table_workbook


def _rank_note(view: dict[str, Any], count: int) -> str:
    if view.get("published_rank"):
        return _(
            "These values are ranks published by others (reported figures with their source, "
            "see the indicator page), not ranks computed here."
        )
    if not view["ranks_shown"]:
        return _(
            "Not enough units to rank: a rank needs values from at least %(min)d units, and "
            "%(count)d have one. The values are shown without a rank."
        ) % {"min": view["min_units"], "count": count}
    return _("Units with the same value share a rank.")


def ranking_workbook(view: dict[str, Any]) -> bytes:
    indicator = view["indicator"]
    ranked = view["ranked"]
    shown = view["ranks_shown"]
    headers = [
        *([_("Rank")] if shown else []),
        _("Unit"),
        _("Unit code"),
        _("Value"),
        _("Basis"),
    ]
    decimals = min(int(indicator.decimals), 4)
    rows = [
        [
            *([r.rank] if shown else []),
            r.unit_name,
            r.unit.code,
            round(r.value, decimals) if r.value is not None else None,
            basis_label(r.basis),
        ]
        for r in ranked
    ]
    name = localised(indicator.name_vi, indicator.name_en)
    about = [
        (_("Indicator"), f"{name} ({indicator.code})"),
        (
            _("Unit of measure"),
            localised(indicator.unit_of_measure, indicator.unit_of_measure_en) or "",
        ),
        (_("Period"), period_label(view["period"])),
        (_("Direction"), str(view["direction"])),
        (_("Administrative units"), tree_note(view["chosen_tree"])),
        (_("Rank"), _rank_note(view, len(ranked))),
    ]
    return table_workbook(
        _("Rankings"),
        headers,
        rows,
        about,
        title=f"{_('Rankings')} — {name}",
        widths=[*([8] if shown else []), 40, 10, 14, 40],
    )


def index_workbook(view: dict[str, Any]) -> bytes:
    method = view["methodology"]
    pillars = view["pillars"]
    shown = view["ranks_shown"]
    headers = [
        *([_("Rank")] if shown else []),
        _("Unit"),
        _("Unit code"),
        *[f"{localised(p.name_vi, p.name_en)} (/ {p.max_points:g})" for p in pillars],
        _("Total"),
        _("Normalised"),
        _("Components with data"),
    ]
    rows = []
    for score in view["scores"]:
        points = {pillar.code: pillar.points for pillar in score.pillars}
        rows.append(
            [
                *([score.rank] if shown else []),
                score.unit_name,
                score.unit.code,
                *[round(points.get(p.code, 0.0), 2) for p in pillars],
                round(score.total, 2),
                round(score.normalised, 2) if score.normalised is not None else None,
                score.components_with_data,
            ]
        )
    name = localised(method.name_vi, method.name_en)
    about = [
        (_("Methodology version"), f"{name} ({method.code})"),
        (_("Legal basis"), method.legal_reference or ""),
        (_("Year"), view["period"]),
        (_("Administrative units"), tree_note(view["chosen_tree"])),
        (_("Rank"), _rank_note(view, len(rows))),
    ]
    return table_workbook(
        _("Digital-transformation index")[:31],
        headers,
        rows,
        about,
        title=f"{name} — {view['period']}",
        widths=[*([8] if shown else []), 40, 10, *[14] * len(pillars), 12, 12, 12],
    )


def indicator_workbook(view: dict[str, Any]) -> bytes:
    indicator = view["indicator"]
    decimals = min(int(indicator.decimals), 4)
    headers = [_("Unit"), _("Unit code"), _("Period"), _("Value"), _("Basis")]
    rows = [
        [
            v.unit_name,
            v.unit.code,
            period_label(v.period),
            round(v.value, decimals) if v.value is not None else None,
            basis_label(v.basis),
        ]
        for v in view["table"]
    ]
    targets = "; ".join(
        f"{plan.number} {target.year}: {target.target_value:g}"
        for plan, target in view["targets"]
        if target.target_value is not None
    )
    about = [
        (_("Indicator"), f"{view['name']} ({indicator.code})"),
        (_("Unit of measure"), view["unit_of_measure"] or ""),
        (_("Direction"), str(view["direction"])),
        (_("Targets"), targets or "—"),
        (_("Administrative units"), tree_note(view["chosen_tree"])),
    ]
    return table_workbook(
        view["name"], headers, rows, about, title=view["name"], widths=[40, 10, 14, 14, 40]
    )
