"""Dashboards: create, change and delete them, keep their panels in order, check each panel's
settings (the model of its kind, then what they name: the indicator, the plan, the period),
and compute the panels for a unit.

Who may write is decided by the callers with ``monitoring.auth.require_catalogue_manager``
(platform administrators and the province organisation's administrators); every official
reads. A panel whose data cannot be computed (an indicator deleted since, a period with no
values) is shown with the reason instead of failing the dashboard.

The panels made only of figures that data generations watch (map, KPI, time series, ranking,
plan status counts: ``KEPT_KINDS``) are kept per settings, unit and day with their JSON text
until a commit writes the units, the figures or the boundaries (``core.generations``); exchange
traffic and field reports are counted live on every view.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy import func, select

from tinhso.core.calendar import VIETNAM
from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, DomainError, FieldError, InvalidInput, Message, NotFound
from tinhso.core.generations import GenerationCache
from tinhso.monitoring.dashboards.models import Dashboard, DashboardPanel
from tinhso.monitoring.dashboards.panel_data import Scope, panels_data
from tinhso.monitoring.dashboards.schemas import (
    MAX_PANELS,
    SETTINGS,
    SLUG_PATTERN,
    DashboardCreate,
    DashboardUpdate,
    PanelIn,
    PanelKind,
    Strict,
)
from tinhso.monitoring.models import BOUNDARIES_GENERATION, FIGURES_GENERATION
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from tinhso.registry.units import UnitNode

KIND_NAMES: dict[PanelKind, tuple[str, str]] = {
    PanelKind.MAP: ("Bản đồ", "Map"),
    PanelKind.KPI: ("Số liệu chính", "Key figure"),
    PanelKind.TIMESERIES: ("Diễn biến theo kỳ", "Over time"),
    PanelKind.RANKING: ("Xếp hạng", "Ranking"),
    PanelKind.STATUS_COUNTS: ("Tiến độ kế hoạch", "Plan progress"),
    PanelKind.EXCHANGE: ("Trao đổi dữ liệu", "Data exchange"),
    PanelKind.FIELD_REPORTS: ("Phản ánh hiện trường", "Field reports"),
}

# pydantic's error types in both languages (the rest: "invalid value").
_PYDANTIC_TEXT: dict[str, tuple[str, str]] = {
    "missing": ("Bắt buộc nhập", "Required"),
    "extra_forbidden": ("Không có thiết lập này", "No such setting"),
    "string_too_short": ("Không được để trống", "Cannot be empty"),
    "string_too_long": ("Quá dài", "Too long"),
    "string_pattern_mismatch": (
        "Chỉ gồm chữ thường không dấu, chữ số và dấu gạch ngang",
        "Lower-case letters, digits and hyphens only",
    ),
    "int_parsing": ("Phải là số nguyên", "Must be a whole number"),
    "int_type": ("Phải là số nguyên", "Must be a whole number"),
    "greater_than_equal": ("Nhỏ hơn giá trị cho phép", "Below the smallest value allowed"),
    "less_than_equal": ("Lớn hơn giá trị cho phép", "Above the largest value allowed"),
    "literal_error": ("Không phải một lựa chọn hợp lệ", "Not one of the choices"),
    "string_type": ("Phải là chuỗi ký tự", "Must be text"),
    "dict_type": ("Phải là một đối tượng", "Must be an object"),
    "enum": ("Không phải một lựa chọn hợp lệ", "Not one of the choices"),
}


def field_errors(error: ValidationError, prefix: str) -> list[FieldError]:
    """pydantic's errors as the platform's field errors (vi/en), each with its field's path."""
    found: list[FieldError] = []
    for item in error.errors():
        path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        vi, en = _PYDANTIC_TEXT.get(item["type"], ("Giá trị không hợp lệ", "Invalid value"))
        found.append(FieldError(path, Message(vi, en)))
    return found


@dataclass
class PanelView:
    panel: DashboardPanel
    title_vi: str
    title_en: str
    data: dict[str, Any] | None = None  # shared with other views: never changed by a reader
    error: Message | None = None
    text: str | None = None  # data as the API's JSON text


@dataclass(frozen=True)
class PanelFigures:
    data: dict[str, Any] | None
    text: str | None
    error: Message | None


@dataclass
class _Valid:
    """A panel whose settings are valid, on its way to its figures."""

    shown: PanelView
    kind: PanelKind
    checked: Strict
    raw: dict[str, Any]


KEPT_KINDS = frozenset(
    {
        PanelKind.MAP,
        PanelKind.KPI,
        PanelKind.TIMESERIES,
        PanelKind.RANKING,
        PanelKind.STATUS_COUNTS,
    }
)
# A panel's figures per (kind, settings, province, unit shown, day); bounded by panels kept
# (a province's communes map is ~100 KB).
PANELS: GenerationCache[tuple[PanelFigures, ...]] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION, BOUNDARIES_GENERATION), max_weight=1_000
)


def data_text(data: dict[str, Any]) -> str:
    """A panel's data as the API sends it (as FastAPI encodes a ``dict[str, Any]`` field)."""
    return json.dumps(
        to_jsonable_python(data), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )


@dataclass
class DashboardView:
    dashboard: Dashboard
    unit: UnitNode  # the dashboard's own unit
    selected: UnitNode  # the unit the panels show (its own, or one chosen on the map)
    owner_code: str | None
    panels: list[PanelView] = field(default_factory=list)


class DashboardService:
    # -- reads ---------------------------------------------------------------------------------

    def all(self, session: Session) -> list[Dashboard]:
        return list(session.scalars(select(Dashboard).order_by(Dashboard.slug)))

    def panel_counts(self, session: Session) -> dict[int, int]:
        rows = session.execute(
            select(DashboardPanel.dashboard_id, func.count()).group_by(DashboardPanel.dashboard_id)
        )
        return {dashboard_id: count for dashboard_id, count in rows}  # noqa: C416

    def get(self, session: Session, slug: str) -> Dashboard:
        well_formed = re.fullmatch(SLUG_PATTERN, slug) is not None and len(slug) <= 64
        found = (
            session.scalars(select(Dashboard).where(Dashboard.slug == slug)).first()
            if well_formed
            else None
        )
        if found is None:
            raise NotFound(
                f"Không tìm thấy bảng điều khiển {slug}",
                f"Dashboard {slug} not found",
                field="slug",
            )
        return found

    def panels(self, session: Session, dashboard: Dashboard) -> list[DashboardPanel]:
        return list(
            session.scalars(
                select(DashboardPanel)
                .where(DashboardPanel.dashboard_id == dashboard.id)
                .order_by(DashboardPanel.position, DashboardPanel.id)
            )
        )

    def units(self, session: Session, dashboards: Sequence[Dashboard]) -> dict[int, UnitNode]:
        return unit_service.nodes(session, {d.unit_id for d in dashboards})

    def owner_codes(self, session: Session, dashboards: Sequence[Dashboard]) -> dict[int, str]:
        ids = {d.owner_organisation_id for d in dashboards if d.owner_organisation_id}
        return organisation_service.codes(session, ids) if ids else {}

    # -- checks --------------------------------------------------------------------------------

    def _unit(self, session: Session, code: str, field: str) -> int:
        unit = unit_service.get(session, UnitSet.CURRENT, code)
        if unit.level not in {UnitLevel.PROVINCE, UnitLevel.COMMUNE}:
            raise InvalidInput(
                "Bảng điều khiển dành cho một tỉnh hoặc một xã, phường hiện hành",
                "A dashboard is about a current province or commune",
                field=field,
            )
        return unit.id

    def settings(self, kind: PanelKind, settings: dict[str, Any], prefix: str) -> Strict:
        """A panel's settings read by the model of its kind (field errors name the paths)."""
        try:
            return SETTINGS[kind].model_validate(settings)
        except ValidationError as error:
            raise InvalidInput(
                "Thiết lập của ô không hợp lệ",
                "The panel's settings are not valid",
                errors=field_errors(error, f"{prefix}settings"),
            ) from None

    def check_panel(self, session: Session, panel: PanelIn, prefix: str = "") -> dict[str, Any]:
        """The settings as stored: valid for the kind, and naming what exists."""
        settings = self.settings(panel.kind, panel.settings, prefix)
        values = settings.model_dump(mode="json")
        errors: list[FieldError] = []

        def check(name: str, call: Any) -> None:
            try:
                call()
            except DomainError as problem:
                errors.append(FieldError(f"{prefix}settings.{name}", problem.message))

        if "indicator" in values:
            check("indicator", lambda: catalogue_service.indicator(session, values["indicator"]))
        if values.get("period"):
            check("period", lambda: parse_period(values["period"]))
        unit = getattr(settings, "unit", None)
        if unit is not None:
            ref = UnitRef(unit_set=unit.unit_set, code=unit.code)
            check("unit", lambda: unit_service.resolve(session, ref, "unit"))
        if "plan" in values:
            check("plan", lambda: plan_service.get(session, values["plan"]))
        if errors:
            raise InvalidInput(
                "Thiết lập của ô không hợp lệ", "The panel's settings are not valid", errors=errors
            )
        return values

    # -- writes --------------------------------------------------------------------------------

    def _owner(self, session: Session, code: str | None) -> int | None:
        if code is None:
            return None
        try:
            return organisation_service.get(session, code).id
        except NotFound:
            raise InvalidInput(
                f"Không tìm thấy tổ chức {code}",
                f"Organisation {code} not found",
                field="owner_organisation",
            ) from None

    def create(self, session: Session, data: DashboardCreate) -> Dashboard:
        if session.scalars(select(Dashboard.id).where(Dashboard.slug == data.slug)).first():
            raise Conflict(
                f"Đã có bảng điều khiển {data.slug}",
                f"Dashboard {data.slug} already exists",
                field="slug",
            )
        dashboard = Dashboard(
            slug=data.slug,
            title_vi=data.title_vi,
            title_en=data.title_en,
            unit_id=self._unit(session, data.unit, "unit"),
            rotation_seconds=data.rotation_seconds,
            owner_organisation_id=self._owner(session, data.owner_organisation),
        )
        session.add(dashboard)
        session.flush()
        self.replace_panels(session, dashboard, data.panels)
        return dashboard

    def update(self, session: Session, dashboard: Dashboard, data: DashboardUpdate) -> Dashboard:
        changes = data.model_dump(exclude_unset=True)
        if changes.get("title_vi", "") is None or changes.get("rotation_seconds", 0) is None:
            raise InvalidInput(
                "Tiêu đề và thời gian hiển thị không được để trống",
                "The title and the rotation time cannot be null",
                field="title_vi" if changes.get("title_vi", "") is None else "rotation_seconds",
            )
        if "unit" in changes:
            if changes["unit"] is None:
                raise InvalidInput(
                    "Đơn vị không được để trống", "The unit cannot be null", field="unit"
                )
            dashboard.unit_id = self._unit(session, changes["unit"], "unit")
        if "owner_organisation" in changes:
            dashboard.owner_organisation_id = self._owner(session, changes["owner_organisation"])
        for name in ("title_vi", "title_en", "rotation_seconds"):
            if name in changes:
                setattr(dashboard, name, changes[name])
        session.flush()
        return dashboard

    def delete(self, session: Session, dashboard: Dashboard) -> None:
        session.delete(dashboard)
        session.flush()

    def replace_panels(
        self, session: Session, dashboard: Dashboard, panels: Sequence[PanelIn]
    ) -> list[DashboardPanel]:
        """The dashboard's panels become these, in this order (all checked before any write)."""
        errors: list[FieldError] = []
        checked: list[dict[str, Any]] = []
        for index, panel in enumerate(panels):
            try:
                checked.append(self.check_panel(session, panel, f"panels.{index}."))
            except InvalidInput as problem:
                errors.extend(problem.errors)
        if errors:
            raise InvalidInput(
                "Thiết lập của ô không hợp lệ", "The panels' settings are not valid", errors=errors
            )
        for old in self.panels(session, dashboard):
            session.delete(old)
        session.flush()
        made = [
            DashboardPanel(
                dashboard_id=dashboard.id,
                position=position,
                kind=panel.kind.value,
                title_vi=panel.title_vi,
                title_en=panel.title_en,
                settings=settings,
            )
            for position, (panel, settings) in enumerate(zip(panels, checked, strict=True))
        ]
        session.add_all(made)
        session.flush()
        return made

    def _panel(self, session: Session, dashboard: Dashboard, panel_id: int) -> DashboardPanel:
        panel = session.get(DashboardPanel, panel_id)
        if panel is None or panel.dashboard_id != dashboard.id:
            raise NotFound(
                "Không tìm thấy ô này trên bảng điều khiển",
                "No such panel on this dashboard",
                field="panel",
            )
        return panel

    def add_panel(self, session: Session, dashboard: Dashboard, panel: PanelIn) -> DashboardPanel:
        existing = self.panels(session, dashboard)
        if len(existing) >= MAX_PANELS:
            raise InvalidInput(
                f"Một bảng điều khiển có tối đa {MAX_PANELS} ô",
                f"A dashboard holds at most {MAX_PANELS} panels",
                field="kind",
            )
        settings = self.check_panel(session, panel)
        made = DashboardPanel(
            dashboard_id=dashboard.id,
            position=(existing[-1].position + 1) if existing else 0,
            kind=panel.kind.value,
            title_vi=panel.title_vi,
            title_en=panel.title_en,
            settings=settings,
        )
        session.add(made)
        session.flush()
        return made

    def update_panel(
        self, session: Session, dashboard: Dashboard, panel_id: int, panel: PanelIn
    ) -> DashboardPanel:
        found = self._panel(session, dashboard, panel_id)
        found.settings = self.check_panel(session, panel)
        found.kind = panel.kind.value
        found.title_vi = panel.title_vi
        found.title_en = panel.title_en
        session.flush()
        return found

    def remove_panel(self, session: Session, dashboard: Dashboard, panel_id: int) -> None:
        session.delete(self._panel(session, dashboard, panel_id))
        session.flush()

    def move_panel(self, session: Session, dashboard: Dashboard, panel_id: int, step: int) -> None:
        """Move a panel one place up (-1) or down (+1); the positions are renumbered."""
        panels = self.panels(session, dashboard)
        found = self._panel(session, dashboard, panel_id)
        index = panels.index(found)
        target = min(max(index + (1 if step > 0 else -1), 0), len(panels) - 1)
        panels.insert(target, panels.pop(index))
        for position, panel in enumerate(panels):
            panel.position = position
        session.flush()

    # -- the panels computed -------------------------------------------------------------------

    def view(
        self, session: Session, dashboard: Dashboard, unit_code: str | None = None
    ) -> DashboardView:
        """The dashboard's panels with their data, for its unit or a unit inside it."""
        own = unit_service.nodes(session, [dashboard.unit_id])[dashboard.unit_id]
        selected = own
        if unit_code and unit_code != own.code:
            if re.fullmatch(r"[0-9A-Za-z]{1,16}", unit_code) is None:
                raise InvalidInput(
                    f"Mã đơn vị không hợp lệ: {unit_code[:16]!r}",
                    f"Not a unit code: {unit_code[:16]!r}",
                    field="unit",
                )
            unit = unit_service.get(session, UnitSet.CURRENT, unit_code)
            if own.id not in unit_service.ancestor_ids(session, unit.id):
                raise InvalidInput(
                    f"Đơn vị {unit_code} không thuộc {own.name}",
                    f"Unit {unit_code} is not in {own.name}",
                    field="unit",
                )
            selected = unit_service.nodes(session, [unit.id])[unit.id]
        province = own
        if own.level is not UnitLevel.PROVINCE and own.parent_id is not None:
            province = unit_service.nodes(session, [own.parent_id])[own.parent_id]
        scope = Scope(province=province, unit=selected)
        owners = self.owner_codes(session, [dashboard])
        found = DashboardView(
            dashboard, own, selected, owners.get(dashboard.owner_organisation_id or 0)
        )
        valid: list[_Valid] = []
        for panel in self.panels(session, dashboard):
            kind = PanelKind(panel.kind)
            vi, en = KIND_NAMES[kind]
            shown = PanelView(panel, panel.title_vi or vi, panel.title_en or panel.title_vi or en)
            try:
                checked = SETTINGS[kind].model_validate(panel.settings)
            except ValidationError:
                shown.error = Message(
                    "Thiết lập của ô không còn hợp lệ", "The panel's settings are no longer valid"
                )
            else:
                valid.append(_Valid(shown, kind, checked, panel.settings))
            found.panels.append(shown)
        kept = [panel for panel in valid if panel.kind in KEPT_KINDS]
        live = [panel for panel in valid if panel.kind not in KEPT_KINDS]
        for group, figures in (
            (kept, self._kept_figures(session, kept, scope)),
            (live, self._figures(session, live, scope)),
        ):
            for item, figure in zip(group, figures, strict=True):
                item.shown.data, item.shown.text = figure.data, figure.text
                item.shown.error = figure.error
        return found

    def _figures(
        self, session: Session, panels: list[_Valid], scope: Scope
    ) -> tuple[PanelFigures, ...]:
        """Every panel computed at once: the statements do not grow with the panels."""
        if not panels:
            return ()
        computed = panels_data(session, [(panel.kind, panel.checked) for panel in panels], scope)
        return tuple(
            PanelFigures(None, None, data.message)
            if isinstance(data, DomainError)
            else PanelFigures(data, data_text(data), None)
            for data in computed
        )

    def _kept_figures(
        self, session: Session, panels: list[_Valid], scope: Scope
    ) -> tuple[PanelFigures, ...]:
        """The panels of KEPT_KINDS, kept together per their settings, unit and day until a
        commit writes the units, the figures or the boundaries."""
        if not panels:
            return ()
        key = (
            tuple(
                (panel.kind.value, json.dumps(panel.raw, sort_keys=True, default=str))
                for panel in panels
            ),
            scope.province.id,
            scope.unit.id,
            utcnow().astimezone(VIETNAM).date(),  # "this year" of a plan's progress
        )
        return PANELS.get(session, key, lambda: self._figures(session, panels, scope))


dashboard_service = DashboardService()
