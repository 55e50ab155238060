"""Open data the platform publishes by itself: monitoring's indicators.

Every indicator that names an open-data publisher (``open_data_publisher``) becomes the
dataset ``chi-so-<code>`` of that organisation, with one resource: its values by unit and
period (``monitoring.transfer.tables.published_indicator_table``: current units, and legacy
units for periods before 01/07/2025), as a Vietnamese CSV loaded into the datastore. The
job ``opendata.publish_indicators`` runs this every 15 minutes; a resource whose content
has not changed is left as it is, so its sha256 and last change say when values changed.
The dataset's notes cite where the figures come from. An indicator no longer published
keeps its dataset until a publisher deletes it (noted in the run's summary).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.errors import NotFound
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.transfer.export import write_csv
from tinhso.monitoring.transfer.tables import (
    PUBLISHED_VALUE_COLUMNS,
    indicator_periods,
    indicator_values_table,
    published_indicator_table,
)
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.access import PLATFORM
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.folding import slug
from tinhso.opendata.catalogue.metadata import FileUpload
from tinhso.opendata.datastore.columns import FieldType
from tinhso.opendata.models import DatasetState, OpendataDataset
from tinhso.registry.models import UnitLevel
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.storage import FileStore
    from tinhso.monitoring.models import Indicator

DATASET_PREFIX = "chi-so-"
RESOURCE_NAME = "Giá trị theo đơn vị hành chính và kỳ báo cáo"
FILE_NAME = "gia-tri.csv"
# Codes and periods are text, whatever their digits look like.
TEXT_COLUMNS = {
    column.vi: FieldType.TEXT
    for column in PUBLISHED_VALUE_COLUMNS
    if column.key in {"unit_code", "period", "indicator_code"}
}


@dataclass
class Publication:
    created: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)  # datasets of indicators no longer published

    def summary(self) -> str:
        return (
            f"created={len(self.created)} refreshed={len(self.refreshed)} "
            f"unchanged={len(self.unchanged)} no_longer_published={len(self.withdrawn)}"
        )


def dataset_name(indicator_code: str) -> str:
    return slug(DATASET_PREFIX + indicator_code)


def _notes(indicator: Indicator, periods: list[str]) -> str:
    span = f"{periods[0]}–{periods[-1]}" if periods else "chưa có"
    description = (indicator.description_vi or "").strip()
    formula = (
        f"Công thức: {indicator.formula} (đơn vị tính: {indicator.unit_of_measure}). "
        f"Các kỳ có số liệu: {span}."
    )
    return "\n\n".join(part for part in (description, formula, _PROVENANCE) if part)


_PROVENANCE = (
    "Nguồn: hệ thống giám sát chuyển đổi số của tỉnh (tinhso), tính từ số liệu các "
    "đơn vị báo cáo, nhập hoặc thu thập qua trục liên thông; cột «Cơ sở tính» cho "
    "biết mỗi giá trị là số liệu nhập, tổng hợp từ cấp dưới hay quy đổi từ đơn vị "
    "hành chính cũ (trước 01/07/2025). Bộ dữ liệu được cập nhật tự động khi số liệu "
    "thay đổi."
)


def _fields(indicator: Indicator, publisher: str, periods: list[str]) -> dict[str, Any]:
    return {
        "name": dataset_name(indicator.code),
        "title": f"Chỉ số: {indicator.name_vi}",
        "title_en": f"Indicator: {indicator.name_en}" if indicator.name_en else None,
        "notes": _notes(indicator, periods),
        "owner_org": publisher,
        "license_id": "cc-by-4.0",
        "tags": [{"name": "chỉ số"}, {"name": "chuyển đổi số"}],
        "groups": [{"name": "khoa-hoc-cong-nghe"}],
        "update_frequency": "monthly",
    }


def _existing(session: Session, name: str) -> OpendataDataset | None:
    try:
        return dataset_service.find(session, PLATFORM, name)
    except NotFound:
        return None


def publish_indicators(session: Session, files: FileStore) -> Publication:
    """Create or refresh the dataset of every published indicator (in the caller's
    transaction)."""
    done = Publication()
    published = catalogue_service.published_indicators(session)
    codes = organisation_service.codes(
        session, {i.open_data_publisher_id for i in published if i.open_data_publisher_id}
    )
    for indicator in published:
        publisher = codes[indicator.open_data_publisher_id or 0]
        periods = indicator_periods(session, indicator.code)
        name = dataset_name(indicator.code)
        content = write_csv(published_indicator_table(session, indicator.code), "vi")
        dataset = _existing(session, name)
        fields = _fields(indicator, publisher, periods)
        if dataset is None or dataset.state is DatasetState.DELETED:
            if dataset is not None:
                fields["id"] = dataset.id
                dataset = dataset_service.update(session, PLATFORM, fields)
            else:
                dataset = dataset_service.create(session, PLATFORM, fields)
            done.created.append(name)
        resource = next((r for r in dataset.resources if r.name == RESOURCE_NAME), None)
        upload = FileUpload(
            FILE_NAME,
            content,
            name=RESOURCE_NAME,
            format="CSV",
            number_format=NumberFormat.VI,
            field_types=TEXT_COLUMNS,
        )
        if resource is None:
            dataset_service.attach_file(session, PLATFORM, dataset.id, upload, files)
        elif resource.sha256 != _sha256(content):
            dataset_service.update(session, PLATFORM, {**fields, "id": dataset.id})
            dataset_service.replace_file(session, PLATFORM, resource.id, upload, files)
            done.refreshed.append(name)
        elif name not in done.created:
            done.unchanged.append(name)
    names = {dataset_name(i.code) for i in published}
    done.withdrawn = [
        found
        for found in session.scalars(
            select(OpendataDataset.name).where(
                OpendataDataset.name.startswith(DATASET_PREFIX),
                OpendataDataset.state == DatasetState.ACTIVE,
            )
        )
        if found not in names
    ]
    return done


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


CHART_UNITS = 5  # the provinces with the most values are drawn


def indicator_chart(session: Session, name: str) -> dict[str, Any] | None:
    """For an indicator's dataset, its values over time for the current provinces with the
    most values (the chart on the dataset's page); None for any other dataset."""
    if not name.startswith(DATASET_PREFIX):
        return None
    indicator = next(
        (
            i
            for i in catalogue_service.published_indicators(session)
            if dataset_name(i.code) == name
        ),
        None,
    )
    periods = indicator_periods(session, indicator.code) if indicator else []
    if indicator is None or not periods:
        return None
    table = indicator_values_table(
        session, "vi", indicator.code, periods, Tree.CURRENT, level=UnitLevel.PROVINCE
    )
    by_unit: dict[str, dict[str, Any]] = {}
    for row in table.rows:
        _code, _name, unit_code, unit_name, period, value, *_ = row
        if value is not None:
            by_unit.setdefault(str(unit_code), {"name": unit_name, "values": {}})["values"][
                period
            ] = value
    drawn = sorted(by_unit.values(), key=lambda unit: (-len(unit["values"]), unit["name"]))
    if not drawn:
        return None
    return {
        "periods": periods,
        "series": [
            {"name": unit["name"], "data": [unit["values"].get(p) for p in periods]}
            for unit in drawn[:CHART_UNITS]
        ],
        "targets": [],
        "unit": indicator.unit_of_measure,
        "decimals": indicator.decimals,
    }
