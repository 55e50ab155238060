"""Dashboard shapes: what a write sends (checked whole: a panel's settings by the model of its
kind) and what a read returns (each panel with its data, or the reason it has none)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from tinhso.core.text import SingleLine
from tinhso.monitoring.schemas import Code
from tinhso.registry.models import UnitSet
from tinhso.registry.schemas import UnitRef

UnitCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{1,16}$"),
    Field(description="An administrative unit's official code"),
]
PeriodText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4}(-Q[0-9]|-[0-9]{2})?$"),
    Field(description="2024, 2024-Q3 or 2024-03; left out: the latest period with values"),
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=SLUG_PATTERN),
]
MAX_PANELS = 24


class PanelKind(enum.StrEnum):
    MAP = "map"  # an indicator over the dashboard province's communes
    KPI = "kpi"  # an indicator's value for the unit, its target and status
    TIMESERIES = "timeseries"  # an indicator over periods against its target
    RANKING = "ranking"  # units ranked on an indicator
    STATUS_COUNTS = "status_counts"  # a plan's targets counted by status
    EXCHANGE = "exchange"  # exchanges and errors per service (the audit log's counts)
    # Field reports received, open, handled, late and the share on time for the unit, this
    # month and the months before (live, through monitoring.field_reports)
    FIELD_REPORTS = "field_reports"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PinnedUnit(Strict):
    unit_set: UnitSet = UnitSet.CURRENT
    code: UnitCode


class MapSettings(Strict):
    indicator: Code
    period: PeriodText | None = None
    mode: Literal["value", "target"] = "value"


class KpiSettings(Strict):
    indicator: Code
    period: PeriodText | None = None
    unit: PinnedUnit | None = Field(
        None,
        description="Pin the panel to this unit (either set: a legacy unit shows the legacy "
        "tree); left out: the dashboard's unit, or the one chosen on the map",
    )


class TimeseriesSettings(Strict):
    indicator: Code
    last: int = Field(8, ge=2, le=60, description="How many of the latest periods")
    unit: PinnedUnit | None = Field(
        None,
        description="Pin the panel to this unit (either set: a legacy unit shows the legacy "
        "tree); left out: the dashboard's unit, or the one chosen on the map",
    )


class RankingSettings(Strict):
    indicator: Code
    period: PeriodText | None = None
    level: Literal["province", "commune"] = "commune"
    limit: int = Field(10, ge=1, le=50)


class StatusCountsSettings(Strict):
    plan: Code
    as_of: int | None = Field(None, ge=1990, le=2100, description="Year of the assessment")


class ExchangeSettings(Strict):
    days: int = Field(30, ge=1, le=366)
    limit: int = Field(8, ge=1, le=30, description="How many services, the busiest first")


class FieldReportsSettings(Strict):
    months: int = Field(6, ge=2, le=24, description="Months in the trend, this one included")


SETTINGS: dict[PanelKind, type[Strict]] = {
    PanelKind.MAP: MapSettings,
    PanelKind.KPI: KpiSettings,
    PanelKind.TIMESERIES: TimeseriesSettings,
    PanelKind.RANKING: RankingSettings,
    PanelKind.STATUS_COUNTS: StatusCountsSettings,
    PanelKind.EXCHANGE: ExchangeSettings,
    PanelKind.FIELD_REPORTS: FieldReportsSettings,
}


class PanelIn(Strict):
    kind: PanelKind
    title_vi: Title | None = None
    title_en: Title | None = None
    settings: dict[str, Any] = Field(
        default_factory=dict, description="The settings of the panel's kind"
    )


class DashboardCreate(Strict):
    slug: Slug
    title_vi: Title
    title_en: Title | None = None
    unit: UnitCode = Field(description="A current province's or commune's code")
    rotation_seconds: int = Field(30, ge=5, le=3600)
    owner_organisation: Code | None = None
    panels: list[PanelIn] = Field(default_factory=list, max_length=MAX_PANELS)


class DashboardUpdate(Strict):
    title_vi: Title | None = None
    title_en: Title | None = None
    unit: UnitCode | None = None
    rotation_seconds: int | None = Field(None, ge=5, le=3600)
    owner_organisation: Code | None = None


class PanelsReplace(Strict):
    panels: list[PanelIn] = Field(max_length=MAX_PANELS)


class MessageOut(BaseModel):
    vi: str
    en: str


class PanelOut(BaseModel):
    id: int
    position: int
    kind: PanelKind
    title_vi: str
    title_en: str
    settings: dict[str, Any]
    data: dict[str, Any] | None = None
    error: MessageOut | None = None


class DashboardSummary(BaseModel):
    slug: str
    title_vi: str
    title_en: str | None
    unit: UnitRef
    unit_name: str
    rotation_seconds: int
    owner_organisation: str | None
    panel_count: int


class DashboardOut(DashboardSummary):
    selected_unit: UnitRef
    selected_unit_name: str
    panels: list[PanelOut]


# -- kiosk links ----------------------------------------------------------------------------------

MAX_KIOSK_DASHBOARDS = 8
KioskState = Literal["active", "expired", "revoked"]


class KioskLinkCreate(Strict):
    label: Title = Field(description="Where the screen is, e.g. “Phòng họp UBND tỉnh”")
    dashboards: list[Slug] = Field(
        min_length=1, max_length=MAX_KIOSK_DASHBOARDS, description="The playlist, in order"
    )
    unit: UnitCode = Field(
        description="The current unit the panels show (inside every dashboard's unit)"
    )
    refresh_seconds: int = Field(60, ge=10, le=3600)
    expires_at: AwareDatetime | None = Field(
        None, description="When the link stops opening (empty: until revoked)"
    )


class KioskLinkOut(BaseModel):
    id: int
    label: str
    dashboards: list[str]
    unit: UnitRef
    unit_name: str
    refresh_seconds: int
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    state: KioskState


class KioskLinkCreated(KioskLinkOut):
    url: str = Field(description="The link, shown this once: only its digest is stored")
