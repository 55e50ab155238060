"""API shapes of alert rules and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tinhso.core.text import SingleLine
from tinhso.monitoring.alerts.models import AlertKind, AlertState
from tinhso.monitoring.models import Comparison
from tinhso.registry.models import Role, UnitLevel
from tinhso.registry.schemas import UnitRef

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True), SingleLine
]
Period = Annotated[str, StringConstraints(max_length=10), SingleLine]


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name_vi: Name
    name_en: Name | None = None
    kind: AlertKind
    indicator_code: (
        Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] | None
    ) = Field(default=None, description="The indicator watched (every kind but reports_late_share)")
    scope_unit: UnitRef = Field(description="A current unit (the province, or one unit)")
    scope_level: UnitLevel | None = Field(
        default=None, description="The units of this level below the scope unit (None: itself)"
    )
    period: Period | None = Field(
        default=None, description="2025, 2025-Q3, 2025-03; None: this year"
    )
    operator: Comparison | None = Field(
        default=None, description="threshold rules: >=, >, <=, <, ="
    )
    threshold: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="threshold rules: the value compared; reports_late_share: the late share "
        "in percent (0–100) above which an alert opens",
    )
    cooldown_hours: int = Field(default=24, ge=0, le=24 * 365)
    due_days: int = Field(
        default=5,
        ge=0,
        le=366,
        description="missing_value: working days after the period's end (core.calendar)",
    )
    window_days: int | None = Field(
        default=None,
        ge=1,
        le=366,
        description="reports_late_share: the last N days (None: the current month). The late "
        "share is (reports handled late in the window + reports still open at its end past "
        "their deadline) / (reports handled in the window + reports still open at its end)",
    )
    recipient_roles: list[Role] = Field(default_factory=lambda: [Role.ORGANISATION_ADMIN])
    enabled: bool = True


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_vi: Name | None = None
    name_en: Name | None = None
    operator: Comparison | None = None
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    cooldown_hours: int | None = Field(default=None, ge=0, le=24 * 365)
    due_days: int | None = Field(default=None, ge=0, le=366)
    window_days: int | None = Field(default=None, ge=1, le=366)
    recipient_roles: list[Role] | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    kind: AlertKind
    indicator_code: str | None
    scope_unit: UnitRef
    scope_level: UnitLevel | None
    period: str | None
    operator: Comparison | None
    threshold: float | None
    cooldown_hours: int
    due_days: int
    window_days: int | None
    recipient_roles: list[str]
    enabled: bool


class AlertOut(BaseModel):
    id: int
    rule_code: str
    rule_name_vi: str
    rule_name_en: str | None
    kind: AlertKind
    indicator_code: str | None
    indicator_name_vi: str | None
    indicator_name_en: str | None
    unit: UnitRef
    unit_name: str
    period: str
    state: AlertState
    value_seen: float | None
    status_seen: str | None
    opened_at: datetime
    resolved_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class Evaluation(BaseModel):
    opened: int = 0
    resolved: int = 0
    mailed: int = 0
