"""Automatic collection: data elements sourced from exchange services, and their runs.

A collection source names an exchange service (as the gateway addresses it), a path and
query, a JSON path to the value (and, for a list of rows, to each row's unit code), the
administrative unit (fixed, or read from the answer) and a period rule. ``tinhso worker``
(see :mod:`tinhso.monitoring.collection_worker`) calls the gateway with the hub's own
credentials; the gateway's request id, which is the exchange audit record's ``request_id``,
is stored with every collected value (source ``automatic``) and with the run.

JSON paths are a small, safe subset: ``$``, ``.name``, ``['name']`` and ``[index]``
(negative counts from the end), e.g. ``$.data.total`` or ``$.items[0].value``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select, update

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, DomainError, InvalidInput, Message, NotFound
from tinhso.core.pagination import PageParams, fetch_page
from tinhso.exchange.schemas import Code as ExchangeCode
from tinhso.exchange.schemas import ServiceKey, Version
from tinhso.exchange.service import catalogue_service as exchange_catalogue
from tinhso.monitoring import repository
from tinhso.monitoring.collection_models import (
    CollectionRun,
    CollectionSource,
    PeriodRule,
    RunStatus,
)
from tinhso.monitoring.models import DataElement, PeriodType, ValueSource
from tinhso.monitoring.periods import Period
from tinhso.monitoring.schemas import Code, ElementCode, Name, Strict
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values import Provenance, value_service
from tinhso.registry.models import UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import ValueIn

# Vietnam has kept UTC+7 without daylight saving since 1975: periods follow the local date.
VIETNAM = timezone(timedelta(hours=7))
MAX_PATH_STEPS = 32

# -- JSON paths -----------------------------------------------------------------------------------
_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | \[\s*(?P<index>-?\d{1,9})\s*\]
      | \[\s*'(?P<single>[^'\\]*)'\s*\]
      | \[\s*"(?P<double>[^"\\]*)"\s*\]""",
    re.VERBOSE,
)
Step = str | int


def parse_json_path(text: str, field: str = "value_path") -> tuple[Step, ...]:
    """``$.a.b[0]['c d']`` -> ``("a", "b", 0, "c d")``; InvalidInput names the bad position."""
    if not text.startswith("$"):
        raise InvalidInput(
            f"Đường dẫn JSON '{text}' phải bắt đầu bằng $ (ví dụ $.data.total)",
            f"JSON path '{text}' must start with $ (e.g. $.data.total)",
            field=field,
        )
    steps: list[Step] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or len(steps) >= MAX_PATH_STEPS:
            raise InvalidInput(
                f"Đường dẫn JSON '{text}' không hợp lệ tại vị trí {position + 1}: chỉ dùng "
                ".ten, ['ten'] hoặc [so] (tối đa {MAX_PATH_STEPS} bước)",
                f"JSON path '{text}' is not valid at position {position + 1}: use only .name, "
                f"['name'] or [index] (at most {MAX_PATH_STEPS} steps)",
                field=field,
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("name") or match.group("single") or match.group("double"))
        position = match.end()
    return tuple(steps)


class PathMissing(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def extract(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``; PathMissing when any step does not exist."""
    current = document
    for step in parse_json_path(path):
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                raise PathMissing(path)
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                raise PathMissing(path)
            current = current[step]
    return current


# -- periods --------------------------------------------------------------------------------------
RULE_TYPE = {
    PeriodRule.CURRENT_MONTH: PeriodType.MONTH,
    PeriodRule.PREVIOUS_MONTH: PeriodType.MONTH,
    PeriodRule.CURRENT_QUARTER: PeriodType.QUARTER,
    PeriodRule.PREVIOUS_QUARTER: PeriodType.QUARTER,
    PeriodRule.CURRENT_YEAR: PeriodType.YEAR,
    PeriodRule.PREVIOUS_YEAR: PeriodType.YEAR,
}
_PLACEHOLDERS = {
    PeriodType.MONTH: {"period", "year", "quarter", "month"},
    PeriodType.QUARTER: {"period", "year", "quarter"},
    PeriodType.YEAR: {"period", "year"},
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def period_for(rule: PeriodRule, moment: datetime) -> Period:
    """The period ``rule`` names at ``moment`` (by the date in Vietnam)."""
    local = moment.astimezone(VIETNAM)
    year, month = local.year, local.month
    kind = RULE_TYPE[rule]
    previous = rule.value.startswith("previous")
    if kind is PeriodType.MONTH:
        if previous:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return Period(year, month, kind)
    if kind is PeriodType.QUARTER:
        quarter = (month - 1) // 3 + 1
        if previous:
            year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
        return Period(year, quarter, kind)
    return Period(year - 1 if previous else year, 0, kind)


def resolve_query(query: dict[str, str], period: Period) -> dict[str, str]:
    """Query values with ``{period}``, ``{year}``, ``{quarter}``, ``{month}`` filled in."""
    month = period.index if period.type is PeriodType.MONTH else 0
    quarter = (
        period.index if period.type is PeriodType.QUARTER else (month - 1) // 3 + 1 if month else 0
    )
    values = {
        "period": period.code,
        "year": f"{period.year:04d}",
        "quarter": str(quarter),
        "month": f"{month:02d}",
    }
    return {
        name: _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), value)
        for name, value in query.items()
    }


# -- API shapes -----------------------------------------------------------------------------------
JsonPathText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(description="JSON path subset: $, .name, ['name'], [index]; e.g. $.data.total"),
]
RequestPath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,999}$"),
    Field(description="Path after the service's address, e.g. /thong-ke/ho-so"),
]
Query = Annotated[
    dict[str, Annotated[str, StringConstraints(max_length=500)]], Field(max_length=30)
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
    unit_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = None
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


# -- failures -------------------------------------------------------------------------------------
class CollectionFailed(Exception):
    """Why a run collected nothing (stored on the run, Vietnamese and English)."""

    def __init__(self, code: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.code, self.vi, self.en = code, vi, en


@dataclass(frozen=True)
class RunPlan:
    """What a claimed run needs, read from the database before any network call."""

    run_id: int
    source_id: int
    source_code: str
    element_code: str
    service_path: str  # org/system/service/version
    request_path: str
    query: dict[str, str]
    rows_path: str | None
    value_path: str
    unit_set: UnitSet
    unit_code: str | None
    unit_code_path: str | None
    period: str
    interval: timedelta
    attempt: int


@dataclass(frozen=True)
class Fetched:
    """A gateway answer: status, the audit record's request id, the body and its hash."""

    status: int
    request_id: str | None
    sha256: str
    body: bytes
    content_type: str


def backoff(failures: int, interval: timedelta, base: timedelta) -> timedelta:
    """base, 2 base, 4 base, ... after consecutive failures; never beyond the interval."""
    factor: int = 2 ** min(max(failures - 1, 0), 20)
    return min(interval, base * factor)


# -- the service ----------------------------------------------------------------------------------
class CollectionService:
    def get(self, session: Session, code: str) -> CollectionSource:
        source = session.scalar(select(CollectionSource).where(CollectionSource.code == code))
        if source is None:
            raise NotFound(
                f"Không tìm thấy nguồn thu thập {code}",
                f"Collection source {code} not found",
                field="code",
            )
        return source

    def page(self, session: Session, params: PageParams) -> tuple[list[CollectionSource], int]:
        return fetch_page(session, select(CollectionSource).order_by(CollectionSource.code), params)

    def runs(
        self, session: Session, source: CollectionSource, params: PageParams
    ) -> tuple[list[CollectionRun], int]:
        query = (
            select(CollectionRun)
            .where(CollectionRun.source_id == source.id)
            .order_by(CollectionRun.started_at.desc(), CollectionRun.id.desc())
        )
        return fetch_page(session, query, params)

    def create(self, session: Session, data: CollectionSourceCreate) -> CollectionSource:
        element = catalogue_service.element(session, data.element_code)
        self._check(session, data, element)
        if session.scalar(select(CollectionSource.id).where(CollectionSource.code == data.code)):
            raise Conflict(
                f"Nguồn thu thập {data.code} đã tồn tại",
                f"Collection source {data.code} already exists",
                field="code",
            )
        source = CollectionSource(
            code=data.code,
            name_vi=data.name_vi,
            name_en=data.name_en,
            data_element_id=element.id,
            service_organisation_code=data.service.organisation_code,
            service_system_code=data.service.system_code,
            service_code=data.service.code,
            service_version=data.service.version,
            request_path=data.request_path,
            query=dict(data.query),
            rows_path=data.rows_path,
            value_path=data.value_path,
            unit_set=data.unit_set,
            unit_code=data.unit_code,
            unit_code_path=data.unit_code_path,
            period_rule=data.period_rule,
            interval_minutes=data.interval_minutes,
            enabled=data.enabled,
            next_run_at=utcnow(),
            consecutive_failures=0,
        )
        session.add(source)
        session.flush()
        return source

    def update(
        self, session: Session, source: CollectionSource, data: CollectionSourceUpdate
    ) -> CollectionSource:
        changes = data.model_dump(exclude_unset=True)
        if "value_path" in changes and changes["value_path"] is not None:
            parse_json_path(changes["value_path"], "value_path")
        if "query" in changes and changes["query"] is not None:
            self._check_query(changes["query"], source.period_rule)
        for name, value in changes.items():
            if value is None and name not in {"name_en"}:
                continue
            setattr(source, name, value)
        if changes.get("enabled") or "interval_minutes" in changes:
            source.next_run_at = utcnow()
            source.consecutive_failures = 0
        session.flush()
        return source

    def run_now(self, session: Session, source: CollectionSource) -> CollectionSource:
        """Make the source due at once (the worker picks it up on its next cycle)."""
        source.next_run_at = utcnow()
        session.flush()
        return source

    def _check(self, session: Session, data: CollectionSourceCreate, element: DataElement) -> None:
        exchange_catalogue.get(
            session,
            ServiceKey(
                organisation_code=data.service.organisation_code,
                system_code=data.service.system_code,
                code=data.service.code,
                version=data.service.version,
            ),
        )
        wanted = RULE_TYPE[data.period_rule]
        if wanted is not element.period_type:
            raise InvalidInput(
                f"Quy tắc kỳ {data.period_rule.value} cho kỳ {wanted.value}, nhưng chỉ tiêu "
                f"{element.code} được báo cáo theo kỳ {element.period_type.value}",
                f"Period rule {data.period_rule.value} gives a {wanted.value}, but element "
                f"{element.code} is reported by {element.period_type.value}",
                field="period_rule",
            )
        for name in ("rows_path", "value_path", "unit_code_path"):
            text = getattr(data, name)
            if text is not None:
                parse_json_path(text, name)
        if data.unit_code is not None:
            found = repository.unit_ids_by_ref(session, [(data.unit_set, data.unit_code)])
            if not found:
                raise InvalidInput(
                    f"Đơn vị hành chính {data.unit_code} ({data.unit_set.value}) không tồn tại",
                    f"Administrative unit {data.unit_code} ({data.unit_set.value}) does not exist",
                    field="unit_code",
                )
        self._check_query(data.query, data.period_rule)
        if ".." in data.request_path.split("/"):
            raise InvalidInput(
                "Đường dẫn không được chứa '..'",
                "The path may not contain '..'",
                field="request_path",
            )

    def _check_query(self, query: dict[str, str], rule: PeriodRule) -> None:
        allowed = _PLACEHOLDERS[RULE_TYPE[rule]]
        for name, value in query.items():
            for placeholder in _PLACEHOLDER.findall(value):
                if placeholder not in allowed:
                    listed = ", ".join("{" + p + "}" for p in sorted(allowed))
                    raise InvalidInput(
                        f"Tham số {name}: không có {{{placeholder}}} cho quy tắc kỳ "
                        f"{rule.value}; dùng {listed}",
                        f"Query parameter {name}: {{{placeholder}}} is not available for "
                        f"period rule {rule.value}; use {listed}",
                        field=f"query.{name}",
                    )

    # -- the worker's side (short transactions around the network call) --
    def due(self, session: Session, now: datetime, limit: int = 100) -> list[int]:
        return list(
            session.scalars(
                select(CollectionSource.id)
                .where(CollectionSource.enabled.is_(True), CollectionSource.next_run_at <= now)
                .order_by(CollectionSource.next_run_at, CollectionSource.id)
                .limit(limit)
            )
        )

    def claim(
        self, session: Session, source_id: int, now: datetime, lease: timedelta
    ) -> RunPlan | None:
        """Take a due source (None if another worker took it) and open its run."""
        claimed = session.execute(
            update(CollectionSource)
            .where(
                CollectionSource.id == source_id,
                CollectionSource.enabled.is_(True),
                CollectionSource.next_run_at <= now,
            )
            .values(next_run_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        # A run still open here belonged to a worker that stopped before closing it (its
        # lease ran out): close it as interrupted.
        session.execute(
            update(CollectionRun)
            .where(CollectionRun.source_id == source_id, CollectionRun.status == RunStatus.RUNNING)
            .values(
                status=RunStatus.FAILED,
                finished_at=now,
                error_code="interrupted",
                error_vi="Lượt thu thập bị gián đoạn (tiến trình worker dừng giữa chừng)",
                error_en="The run was interrupted (the worker stopped before finishing it)",
            )
            .execution_options(synchronize_session=False)
        )
        source = session.get(CollectionSource, source_id)
        element = session.get(DataElement, source.data_element_id) if source else None
        if source is None or element is None:  # pragma: no cover - FK guarantees
            return None
        period = period_for(source.period_rule, now)
        run = CollectionRun(
            source_id=source.id,
            started_at=now,
            status=RunStatus.RUNNING,
            period=period.code,
            attempt=source.consecutive_failures + 1,
            values_written=0,
        )
        session.add(run)
        session.flush()
        return RunPlan(
            run_id=run.id,
            source_id=source.id,
            source_code=source.code,
            element_code=element.code,
            service_path="/".join(
                (
                    source.service_organisation_code,
                    source.service_system_code,
                    source.service_code,
                    source.service_version,
                )
            ),
            request_path=source.request_path,
            query=resolve_query(dict(source.query or {}), period),
            rows_path=source.rows_path,
            value_path=source.value_path,
            unit_set=source.unit_set,
            unit_code=source.unit_code,
            unit_code_path=source.unit_code_path,
            period=period.code,
            interval=timedelta(minutes=source.interval_minutes),
            attempt=run.attempt,
        )

    def items(self, plan: RunPlan, fetched: Fetched) -> list[ValueIn]:
        """The values of a successful answer; CollectionFailed says why there are none."""
        from tinhso.monitoring.schemas import ValueIn  # noqa: PLC0415 - runtime model
        from tinhso.registry.schemas import UnitRef  # noqa: PLC0415

        if not fetched.request_id:
            raise CollectionFailed(
                "no_audit_record",
                "Cổng trao đổi không trả mã yêu cầu (X-Tinhso-Request-Id): không có bản ghi "
                "nhật ký để dẫn chiếu, không ghi số liệu",
                "The gateway returned no request id (X-Tinhso-Request-Id): no audit record "
                "to cite, nothing was written",
            )
        document = _json(fetched.body)
        rows = [document]
        if plan.rows_path is not None:
            found = _at(document, plan.rows_path)
            if not isinstance(found, list) or not found:
                raise CollectionFailed(
                    "not_a_list",
                    f"Giá trị tại {plan.rows_path} không phải là danh sách có phần tử",
                    f"The value at {plan.rows_path} is not a non-empty list",
                )
            rows = found
        reference = f"exchange {plan.service_path}{plan.request_path} (run {plan.run_id})"
        items: list[ValueIn] = []
        for position, row in enumerate(rows):
            where = f" (dòng {position + 1})" if plan.rows_path else ""
            where_en = f" (row {position + 1})" if plan.rows_path else ""
            raw = _at(row, plan.value_path, where, where_en)
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
                shown = repr(raw)[:80]
                raise CollectionFailed(
                    "not_a_number",
                    f"Giá trị tại {plan.value_path}{where} không phải là số: {shown}",
                    f"The value at {plan.value_path}{where_en} is not a number: {shown}",
                )
            unit_code = plan.unit_code
            if plan.unit_code_path is not None:
                found_code = _at(row, plan.unit_code_path, where, where_en)
                if not isinstance(found_code, str | int) or isinstance(found_code, bool):
                    raise CollectionFailed(
                        "bad_unit_code",
                        f"Mã đơn vị tại {plan.unit_code_path}{where} không hợp lệ",
                        f"The unit code at {plan.unit_code_path}{where_en} is not valid",
                    )
                unit_code = str(found_code).strip()
            items.append(
                ValueIn(
                    element_code=plan.element_code,
                    unit=UnitRef(unit_set=plan.unit_set, code=unit_code or ""),
                    period=plan.period,
                    value=raw,
                    source=ValueSource.AUTOMATIC,
                    source_reference=reference,
                    audit_record_id=fetched.request_id,
                )
            )
        return items

    def succeed(
        self,
        session: Session,
        plan: RunPlan,
        fetched: Fetched,
        items: list[ValueIn],
    ) -> CollectionRun:
        """Write the values (all or nothing) and close the run; a refused batch fails it."""
        try:
            with session.begin_nested():
                result = value_service.record_many(
                    session,
                    items,
                    Provenance(entered_by_id=None, source=ValueSource.AUTOMATIC),
                    field_prefix="",
                )
        except DomainError as error:
            return self.fail(
                session,
                plan,
                CollectionFailed(
                    "values_refused",
                    f"Số liệu thu được bị từ chối, không ghi gì: {error.message.vi}",
                    f"The collected values were refused, nothing was written: {error.message.en}",
                ),
                fetched,
            )
        now = utcnow()
        run = self._close(session, plan, RunStatus.SUCCEEDED, fetched, now)
        run.values_written = result.inserted + result.corrected
        source = session.get(CollectionSource, plan.source_id)
        if source is not None:
            source.consecutive_failures = 0
            source.last_run_at = now
            source.next_run_at = run.started_at + plan.interval
        session.flush()
        return run

    def fail(
        self,
        session: Session,
        plan: RunPlan,
        failure: CollectionFailed,
        fetched: Fetched | None,
        retry_base: timedelta = timedelta(minutes=1),
    ) -> CollectionRun:
        now = utcnow()
        run = self._close(session, plan, RunStatus.FAILED, fetched, now)
        run.error_code, run.error_vi, run.error_en = failure.code, failure.vi, failure.en
        source = session.get(CollectionSource, plan.source_id)
        if source is not None:
            source.consecutive_failures += 1
            source.last_run_at = now
            source.next_run_at = now + backoff(
                source.consecutive_failures, plan.interval, retry_base
            )
        session.flush()
        return run

    def _close(
        self,
        session: Session,
        plan: RunPlan,
        status: RunStatus,
        fetched: Fetched | None,
        now: datetime,
    ) -> CollectionRun:
        run = session.get(CollectionRun, plan.run_id)
        if run is None:  # pragma: no cover - the run was opened by claim()
            msg = f"collection run {plan.run_id} vanished"
            raise RuntimeError(msg)
        run.status = status
        run.finished_at = now
        if fetched is not None:
            run.http_status = fetched.status
            run.request_id = fetched.request_id
            run.response_sha256 = fetched.sha256
        return run


def _json(body: bytes) -> Any:
    import json  # noqa: PLC0415

    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise CollectionFailed(
            "invalid_json",
            "Câu trả lời của dịch vụ không phải JSON hợp lệ",
            "The service's answer is not valid JSON",
        ) from error


def _at(document: Any, path: str, where: str = "", where_en: str = "") -> Any:
    try:
        return extract(document, path)
    except PathMissing as error:
        raise CollectionFailed(
            "path_missing",
            f"Không tìm thấy {path}{where} trong câu trả lời của dịch vụ",
            f"{path}{where_en} was not found in the service's answer",
        ) from error


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


collection_service = CollectionService()
