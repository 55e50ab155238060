"""API shapes of automatic collection: sources (exchange service -> data element) and runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from tinhso.core.errors import Message
from tinhso.core.text import SingleLine
from tinhso.exchange.schemas import Code as ExchangeCode
from tinhso.exchange.schemas import Version
from tinhso.monitoring.collection.models import CollectionRun, PeriodRule, RunStatus
from tinhso.monitoring.schemas import Code, ElementCode, Name, Strict
from tinhso.registry.models import UnitSet

JsonPathText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    SingleLine,
    Field(description="JSON path subset: $, .name, ['name'], [index]; e.g. $.data.total"),
]
RequestPath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,999}$"),
    Field(description="Path after the service's address, e.g. /thong-ke/ho-so"),
]
Query = Annotated[
    dict[Annotated[str, SingleLine], Annotated[str, StringConstraints(max_length=500), SingleLine]],
    Field(max_length=30),
]


class SourceService(Strict):
    organisation_code: ExchangeCode
    system_code: ExchangeCode
    code: ExchangeCode
    version: Version


class CollectionSourceCreate(Strict):
    code: Code
    name_vi: Name
    name_en: Name | None = None
    element_code: ElementCode
    service: SourceService
    request_path: RequestPath
    query: Query = Field(default_factory=dict)
    rows_path: JsonPathText | None = Field(
        default=None, description="A list of rows, one value per row; omit for one value"
    )
    value_path: JsonPathText
    unit_set: UnitSet = UnitSet.CURRENT
    unit_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=16), SingleLine] | None
    ) = None
    unit_code_path: JsonPathText | None = None
    period_rule: PeriodRule
    interval_minutes: int = Field(ge=1, le=366 * 24 * 60)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_unit_mapping(self) -> CollectionSourceCreate:
        if (self.unit_code is None) == (self.unit_code_path is None):
            raise ValueError("give exactly one of unit_code and unit_code_path")
        return self


class CollectionSourceUpdate(Strict):
    name_vi: Name | None = None
    name_en: Name | None = None
    request_path: RequestPath | None = None
    query: Query | None = None
    value_path: JsonPathText | None = None
    interval_minutes: int | None = Field(default=None, ge=1, le=366 * 24 * 60)
    enabled: bool | None = None


class CollectionSourceOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    element_code: str
    service: SourceService
    request_path: str
    query: dict[str, str]
    rows_path: str | None
    value_path: str
    unit_set: UnitSet
    unit_code: str | None
    unit_code_path: str | None
    period_rule: PeriodRule
    interval_minutes: int
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    consecutive_failures: int


class CollectionRunOut(BaseModel):
    id: int
    source_code: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    period: str | None
    attempt: int
    http_status: int | None
    request_id: str | None = Field(description="The exchange audit record's request_id")
    response_sha256: str | None
    values_written: int
    error_code: str | None
    error: Message | None


def run_out(run: CollectionRun, source_code: str) -> CollectionRunOut:
    error = Message(run.error_vi, run.error_en) if run.error_vi and run.error_en else None
    return CollectionRunOut(
        id=run.id,
        source_code=source_code,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        period=run.period,
        attempt=run.attempt,
        http_status=run.http_status,
        request_id=run.request_id,
        response_sha256=run.response_sha256,
        values_written=run.values_written,
        error_code=run.error_code,
        error=error,
    )
