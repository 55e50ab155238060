"""A dashboard's exports (issue 15): its panels' data as XLSX and CSV, and the monthly
report's print layout. The PNG images are drawn in the browser
(``static/monitoring/dashboard_export.js``): no server-side browser.

- ``/monitoring/dashboards/{slug}/export.xlsx``: one sheet per panel, then what the export is.
- ``/monitoring/dashboards/{slug}/export.zip``: one CSV per panel.
- ``/monitoring/dashboards/{slug}/panels/{panel_id}/export.csv`` (and ``.xlsx``): one panel.
- ``/monitoring/dashboards/{slug}/print``: the dashboard laid out on A4 for the monthly report.

Every official who can see the dashboard can export it (the dashboard pages' rule: any
official). Each export honours the unit chosen on the dashboard (``?unit=``, checked as the
page checks it) and shows each panel's own period; its first lines say the dashboard, the
unit, the period, the date of export (dd/mm/yyyy) and the source. Headers are in the page's
language. XLSX cells hold numbers as numbers (``portal.workbooks``); CSV is written in the page's
convention (Vietnamese: ``;`` and decimal commas; English: ``,`` and decimal points) by the
monitoring exports' number writer (``transfer.export.csv_cell``), so it reads back to the
same numbers; text a spreadsheet would run as a formula is neutralised in both.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from tinhso.core.errors import NotFound
from tinhso.core.i18n import LOCAL_TIMEZONE, current_locale, ngettext
from tinhso.core.i18n import gettext as _
from tinhso.core.text import fold
from tinhso.core.web import DbSession
from tinhso.monitoring.dashboards.schemas import SLUG_PATTERN, PanelKind
from tinhso.monitoring.dashboards.service import DashboardView, PanelView, dashboard_service
from tinhso.monitoring.transfer.export import csv_cell
from tinhso.portal.auth import PortalUser
from tinhso.portal.monitoring.catalogue import localised, period_label
from tinhso.portal.monitoring.dashboards import _common, _dashboard_context, _panels
from tinhso.portal.monitoring.overview import status_label
from tinhso.portal.rendering import render
from tinhso.portal.workbooks import download, table_workbook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

router = APIRouter()

Slug = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
UnitQuery = Annotated[str | None, Query(max_length=16, description="The unit chosen")]
PanelId = Annotated[int, Path(ge=1, le=2_000_000_000)]
Month = Annotated[str | None, Query(max_length=7, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
CSV_TYPE = "text/csv; charset=utf-8"


# -- the tables -----------------------------------------------------------------------------------


@dataclass
class PanelTable:
    """One panel's data as a table, with what the panel is and where its figures come from."""

    position: int
    title: str
    period: str
    source: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def _label(period: str | None) -> str:
    return period_label(period) if period else "–"


def _status(properties: dict[str, Any]) -> str:
    return status_label(properties["status"]) if properties.get("status") else ""


def _indicator_source(data: dict[str, Any]) -> str:
    indicator = data["indicator"]
    return _("Indicator %(code)s: %(name)s") % {
        "code": indicator["code"],
        "name": localised(indicator["name_vi"], indicator["name_en"]),
    }


def _measure(data: dict[str, Any]) -> str:
    indicator = data["indicator"]
    return str(localised(indicator["unit_vi"] or "", indicator["unit_en"]) or "")


def _map(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    features = (data.get("geojson") or {}).get("features", [])
    rows = [
        [
            f["properties"]["code"],
            f["properties"]["name"],
            f["properties"]["value"],
            f["properties"].get("target"),
            f["properties"].get("percent"),
            _status(f["properties"]),
        ]
        for f in features
    ]
    headers = [
        _("Unit code"), _("Administrative unit"), _("Value"), _("Target"),
        _("% of target"), _("Status"),
    ]  # fmt: skip
    return _label(data.get("period")), _indicator_source(data), headers, rows


def _kpi(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    headers = [
        _("Unit code"), _("Administrative unit"), _("Period"), _("Value"), _("Unit of measure"),
        _("Target year"), _("Target"), _("% of target"), _("Status"),
    ]  # fmt: skip
    row = [
        data["unit"]["code"],
        data["unit"]["name"],
        _label(data.get("period")),
        data.get("value"),
        _measure(data),
        data.get("target_year"),
        data.get("target"),
        data.get("percent"),
        _status(data),
    ]
    return _label(data.get("period")), _indicator_source(data), headers, [row]


def _timeseries(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    points = data.get("points") or []
    headers = [
        _("Unit code"), _("Administrative unit"), _("Period"), _("Value"), _("Unit of measure"),
        _("Target"),
    ]  # fmt: skip
    rows = [
        [
            data["unit"]["code"],
            data["unit"]["name"],
            period_label(point["period"]),
            point["value"],
            _measure(data),
            data.get("target"),
        ]
        for point in points
    ]
    period = f"{period_label(points[0]['period'])} – {period_label(points[-1]['period'])}"
    return period if points else "–", _indicator_source(data), headers, rows


def _ranking(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    headers = [_("Rank"), _("Unit code"), _("Administrative unit"), _("Value")]
    rows = [[row["rank"], row["code"], row["name"], row["value"]] for row in data["rows"]]
    return _label(data.get("period")), _indicator_source(data), headers, rows


def _status_counts(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    plan = data["plan"]
    source = _("Plan %(number)s: %(title)s") % {
        "number": plan["number"],
        "title": localised(plan["title_vi"], plan["title_en"]),
    }
    year = data.get("as_of") or datetime.now(LOCAL_TIMEZONE).year
    rows = [[localised(item["vi"], item["en"]), item["count"]] for item in data["counts"]]
    rows.append([_("All statuses"), data["total"]])
    return str(year), source, [_("Status"), _("Targets and units")], rows


def _exchange(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    since = date.fromisoformat(str(data["since"])[:10]).strftime("%d/%m/%Y")
    period = ngettext("The last %(num)d day", "The last %(num)d days", data["days"]) % {
        "num": data["days"]
    }
    headers = [_("Service"), _("Exchanges"), _("Errors"), _("Error rate (%)")]
    rows = [
        [s["service"] or _("Unknown service"), s["exchanges"], s["errors"], s["error_rate"]]
        for s in data["services"]
    ]
    rows.append([_("All services"), data["exchanges"], data["errors"], data["error_rate"]])
    shown = _("%(period)s (since %(date)s)") % {"period": period, "date": since}
    return shown, _("Data exchange log"), headers, rows


def _field_reports(data: dict[str, Any]) -> tuple[str, str, list[str], list[list[Any]]]:
    headers = [
        _("Unit code"), _("Administrative unit"), _("Month"), _("Received"),
        _("Not handled yet"), _("Handled"), _("Late"), _("Share on time (%)"), _("Late share (%)"),
    ]  # fmt: skip
    unit = data["unit"]
    months = data["trend"]
    fields = ("received", "open", "handled", "late", "on_time_share", "late_share")
    rows = [
        [unit["code"], unit["name"], period_label(m["month"]), *(m[name] for name in fields)]
        for m in months
    ]
    period = f"{period_label(months[0]['month'])} – {period_label(months[-1]['month'])}"
    return period if months else "–", _("Field reports"), headers, rows


_BUILDERS = {
    PanelKind.MAP: _map,
    PanelKind.KPI: _kpi,
    PanelKind.TIMESERIES: _timeseries,
    PanelKind.RANKING: _ranking,
    PanelKind.STATUS_COUNTS: _status_counts,
    PanelKind.EXCHANGE: _exchange,
    PanelKind.FIELD_REPORTS: _field_reports,
}


def panel_table(view: PanelView, shown: dict[str, Any]) -> PanelTable:
    """A panel's data as a table in the page's language (``shown``: the page's panel)."""
    position = view.panel.position + 1
    if view.error or view.data is None:
        message = view.error
        text = (message.vi if current_locale.get() == "vi" else message.en) if message else ""
        return PanelTable(position, shown["title"], "–", "", [_("Note")], [[text]])
    period, source, headers, rows = _BUILDERS[PanelKind(view.panel.kind)](view.data)
    return PanelTable(position, shown["title"], period, source, headers, rows)


@dataclass
class DashboardExport:
    """What an export holds: the dashboard's lines (what, where, when, from where) and its
    panels' tables."""

    slug: str
    title: str
    unit_code: str
    lines: list[tuple[str, str]]
    tables: list[PanelTable]
    day: date

    @property
    def stem(self) -> str:
        """``<slug>-<unit code>-<dd-mm-yyyy>``: the files' names."""
        return f"{self.slug}-{self.unit_code}-{self.day:%d-%m-%Y}"

    def panel_lines(self, table: PanelTable) -> list[tuple[str, str]]:
        return [
            *self.lines[:2],
            (_("Panel"), f"{table.position}. {table.title}"),
            (_("Period"), table.period),
            *self.lines[3:],
            *([(_("Figures"), table.source)] if table.source else []),
        ]


def dashboard_export(found: DashboardView, page_url: str) -> DashboardExport:
    """The export of a dashboard as computed for its chosen unit (``found``)."""
    shown = _panels(found, pick=False)
    tables = [panel_table(view, page) for view, page in zip(found.panels, shown, strict=True)]
    day = datetime.now(LOCAL_TIMEZONE).date()
    unit = f"{found.selected.name} ({found.selected.code})"
    if found.selected.id != found.unit.id:
        unit = _("%(unit)s, in %(scope)s") % {"unit": unit, "scope": found.unit.name}
    periods = list(dict.fromkeys(t.period for t in tables if t.period != "–"))
    dashboard = found.dashboard
    title = localised(dashboard.title_vi, dashboard.title_en)
    lines = [
        (_("Dashboard"), title),
        (_("Unit"), unit),
        (_("Period"), "; ".join(periods) or "–"),
        (_("Exported on"), f"{day:%d/%m/%Y}"),
        (_("Source"), _("Tỉnh số, the operations centre's dashboard: %(url)s") % {"url": page_url}),
    ]
    return DashboardExport(dashboard.slug, title, found.selected.code, lines, tables, day)


# -- the files ------------------------------------------------------------------------------------


def write_csv(lines: Sequence[tuple[str, str]], table: PanelTable) -> bytes:
    """One panel as CSV in the page's convention (UTF-8 with a byte-order mark): the lines
    saying what it is, an empty line, the headers, the rows."""
    lang = current_locale.get()
    output = io.StringIO()
    writer = csv.writer(output, delimiter=";" if lang == "vi" else ",", lineterminator="\r\n")
    for label, value in lines:
        writer.writerow([csv_cell(label, lang), csv_cell(value, lang)])
    writer.writerow([])
    writer.writerow([csv_cell(header, lang) for header in table.headers])
    for row in table.rows:
        writer.writerow([csv_cell(value, lang) for value in row])
    return ("\ufeff" + output.getvalue()).encode("utf-8")


def _sheet_name(table: PanelTable) -> str:
    return f"{table.position}. {table.title}"


def write_xlsx(export: DashboardExport, tables: Sequence[PanelTable]) -> bytes:
    """The panels, one sheet each (the lines above its headers), then what the export is."""
    first, *rest = tables
    return table_workbook(
        _sheet_name(first),
        first.headers,
        first.rows,
        export.lines,
        title=export.title,
        freeze="A2",
        more=[(_sheet_name(t), t.headers, t.rows) for t in rest],
        preambles=[export.panel_lines(t) for t in tables],
    )


def _file_part(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text).lower()).strip("-")[:40] or "o"


def write_zip(export: DashboardExport) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in export.tables:
            name = f"{table.position:02d}-{_file_part(table.title)}.csv"
            archive.writestr(name, write_csv(export.panel_lines(table), table))
    return buffer.getvalue()


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# -- routes ---------------------------------------------------------------------------------------


def _found(session: Session, slug: str, unit: str | None) -> DashboardView:
    """The dashboard computed for the unit chosen, checked as the dashboard page checks it."""
    dashboard = dashboard_service.get(session, slug)
    return dashboard_service.view(session, dashboard, (unit or "").strip() or None)


def _export(request: Request, found: DashboardView) -> DashboardExport:
    url = f"{str(request.base_url).rstrip('/')}/monitoring/dashboards/{found.dashboard.slug}"
    if found.selected.id != found.unit.id:
        url += f"?unit={found.selected.code}"
    return dashboard_export(found, url)


def _panel(found: DashboardView, export: DashboardExport, panel_id: int) -> PanelTable:
    ids = [view.panel.id for view in found.panels]
    if panel_id not in ids:
        raise NotFound(
            "Không tìm thấy ô này trên bảng điều khiển", "No such panel on this dashboard",
            field="panel",
        )  # fmt: skip
    return export.tables[ids.index(panel_id)]


@router.get(
    "/monitoring/dashboards/{slug}/export.xlsx",
    summary="A dashboard's data as XLSX, a sheet per panel (any official)",
)
def dashboard_xlsx(
    request: Request, session: DbSession, principal: PortalUser, slug: Slug, unit: UnitQuery = None
) -> Response:
    export = _export(request, _found(session, slug, unit))
    if not export.tables:
        empty = PanelTable(0, _("No panel"), "–", "", [_("Note")], [])
        return download(write_xlsx(export, [empty]), f"{export.stem}.xlsx")
    return download(write_xlsx(export, export.tables), f"{export.stem}.xlsx")


@router.get(
    "/monitoring/dashboards/{slug}/export.zip",
    summary="A dashboard's data as CSV files, one per panel, in a ZIP (any official)",
)
def dashboard_csv_zip(
    request: Request, session: DbSession, principal: PortalUser, slug: Slug, unit: UnitQuery = None
) -> Response:
    export = _export(request, _found(session, slug, unit))
    return _attachment(write_zip(export), "application/zip", f"{export.stem}.zip")


@router.get(
    "/monitoring/dashboards/{slug}/panels/{panel_id}/export.csv",
    summary="A panel's data as CSV (any official)",
)
def panel_csv(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    panel_id: PanelId,
    unit: UnitQuery = None,
) -> Response:
    found = _found(session, slug, unit)
    export = _export(request, found)
    table = _panel(found, export, panel_id)
    content = write_csv(export.panel_lines(table), table)
    return _attachment(content, CSV_TYPE, f"{export.stem}-o{table.position}.csv")


@router.get(
    "/monitoring/dashboards/{slug}/panels/{panel_id}/export.xlsx",
    summary="A panel's data as XLSX (any official)",
)
def panel_xlsx(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    panel_id: PanelId,
    unit: UnitQuery = None,
) -> Response:
    found = _found(session, slug, unit)
    export = _export(request, found)
    table = _panel(found, export, panel_id)
    return download(write_xlsx(export, [table]), f"{export.stem}-o{table.position}.xlsx")


@router.get(
    "/monitoring/dashboards/{slug}/print",
    summary="A dashboard laid out on A4 for the monthly report (any official)",
)
def print_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    slug: Slug,
    unit: UnitQuery = None,
    month: Month = None,
) -> Response:
    found = _found(session, slug, unit)
    export = _export(request, found)
    today = datetime.now(LOCAL_TIMEZONE).date()
    year, number = (int(part) for part in (month or f"{today:%Y-%m}").split("-"))
    return render(
        request,
        "monitoring/dashboard_print.html",
        {
            **_common(),
            "dashboard": _dashboard_context(found),
            "panels": _panels(found, pick=False),
            "month": f"{number:02d}/{year}",
            "periods": export.lines[2][1],
            "exported_on": f"{export.day:%d/%m/%Y}",
            "stem": export.stem,
        },
    )
