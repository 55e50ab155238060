"""Request and response bodies of the officers' reports API (``/api/v1/reports``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel, Rating, ReportState, Severity

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepIn(Strict):
    action: Action
    note: str = Field(default="", max_length=4000)
    assignee: Code | None = None
    organisation_code: Code | None = None
    duplicate_of: Annotated[str, StringConstraints(max_length=32)] | None = None
    extra_working_days: int | None = Field(default=None, ge=1, le=30)


class RatingIn(Strict):
    key: str = Field(min_length=1, max_length=100)
    rating: Rating
    comment: str = Field(default="", max_length=2000)


class ReopenIn(Strict):
    key: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=4000)


class EventOut(BaseModel):
    at: datetime
    action: str
    from_state: ReportState | None
    to_state: ReportState
    actor: str
    note: str
    public: bool


class ReportOut(BaseModel):
    code: str
    category_code: str
    description: str
    state: ReportState
    severity: Severity
    channel: Channel
    organisation_code: str | None
    unit_code: str | None
    latitude: float | None
    longitude: float | None
    address: str
    attributes: dict[str, str | list[str]]
    reporter_name: str
    reporter_email: str
    reporter_phone: str
    created_at: datetime
    accept_due_at: datetime
    resolve_due_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    late: bool
    extended: bool
    answer: str
    rating: Rating | None
    timeline: list[EventOut]


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    key: str | None = None  # only in the answer that issues it


class RouteIn(Strict):
    category_code: Code | None = None
    unit_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = None
    organisation_code: Code


class ChoiceIn(Strict):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class QuestionIn(Strict):
    """One extra question of a category (an Open311 attribute); ``order`` is its position."""

    code: str = Field(min_length=1, max_length=64)
    datatype: str = Field(max_length=32)
    required: bool = False
    description: str = Field(min_length=1, max_length=500)
    description_en: str = Field(default="", max_length=500)
    values: list[ChoiceIn] = Field(default_factory=list, max_length=50)


class CategoryIn(Strict):
    """A category as an operator writes it (``PUT`` replaces every field but the code)."""

    name_vi: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    severity: Severity
    description_vi: str = Field(default="", max_length=4000)
    description_en: str = Field(default="", max_length=4000)
    group_vi: str = Field(default="", max_length=200)
    keywords: str = Field(default="", max_length=500)
    duplicate_radius_m: int = Field(default=100, ge=0, le=5000)
    active: bool = True
    attributes: list[QuestionIn] = Field(default_factory=list, max_length=20)


class CategoryCreate(CategoryIn):
    code: Code


class CategoryOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    severity: Severity
    description_vi: str
    description_en: str
    group_vi: str
    keywords: str
    duplicate_radius_m: int
    active: bool
    attributes: list[dict[str, Any]]
