"""Automatic collection sources: data elements sourced from exchange services.

A collection source names an exchange service (as the gateway addresses it), a path and
query, a JSON path to the value (and, for a list of rows, to each row's unit code), the
administrative unit (fixed, or read from the answer) and a period rule (see
`collection/rules.py`). This module defines, checks and lists sources; their runs (what
``tinhso worker`` does through the gateway, see `collection/runs.py`) are recorded in
`collection_models.CollectionRun`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.core.pagination import PageParams, fetch_page
from tinhso.exchange.catalogue.service import catalogue_service as exchange_catalogue
from tinhso.exchange.schemas import ServiceKey
from tinhso.monitoring import repository
from tinhso.monitoring.collection.models import CollectionRun, CollectionSource
from tinhso.monitoring.collection.rules import RULE_TYPE, check_query, parse_json_path
from tinhso.monitoring.models import DataElement
from tinhso.monitoring.service import catalogue_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.collection.schemas import (
        CollectionSourceCreate,
        CollectionSourceUpdate,
    )


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
            check_query(changes["query"], source.period_rule)
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
        check_query(data.query, data.period_rule)
        if ".." in data.request_path.split("/"):
            raise InvalidInput(
                "Đường dẫn không được chứa '..'",
                "The path may not contain '..'",
                field="request_path",
            )


collection_service = CollectionService()
