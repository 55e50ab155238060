"""Collection runs: what ``tinhso worker`` does with a due source, around the gateway call.

A run claims a due source (a short transaction: two workers never run the same source at
once), calls the exchange gateway with the hub's own credentials (see
`collection/worker.py`), reads the values from the answer by the source's JSON paths, and
records them (all or nothing) and closes the run in one transaction. The gateway's
request id, which is the exchange audit record's ``request_id``, is stored with every
collected value (source ``automatic``) and with the run. A failed run is retried with
exponential backoff, capped at the source's interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError
from tinhso.monitoring.collection.models import CollectionRun, CollectionSource, RunStatus
from tinhso.monitoring.collection.rules import PathMissing, extract, period_for, resolve_query
from tinhso.monitoring.models import DataElement, ValueSource
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import ValueIn


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


class CollectionRunService:
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


collection_run_service = CollectionRunService()
