"""Demo open data: the licences and themes, and datasets made from the registry's real data.

- the communes and wards of the province after 01/07/2025, each with the legacy units it was
  made of (the registry's unit successions), as a generated CSV file;
- the province's agencies (the registry's organisations), as a generated CSV file.

Idempotent: a dataset whose name exists is left as it is.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.core.errors import NotFound
from tinhso.core.text import neutralise_formula
from tinhso.monitoring.schemas import IndicatorUpdate
from tinhso.monitoring.service import catalogue_service
from tinhso.opendata.access import PLATFORM
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.metadata import FileUpload
from tinhso.opendata.catalogue.reference import LICENCES, THEMES, load_reference
from tinhso.opendata.models import OpendataDataset
from tinhso.opendata.publishing.indicators import publish_indicators
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from tinhso.core.storage import FileStore

PUBLISHER = "so-tttt-bac-giang"
LEGACY_PROVINCE = "24"  # Bắc Giang, merged into Bắc Ninh on 01/07/2025
COMMUNES = "xa-phuong-tu-01-07-2025"
AGENCIES = "co-quan-don-vi-cua-tinh"


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    """UTF-8 with a BOM (spreadsheets then read Vietnamese right), formula-like cells defused."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[neutralise_formula(cell) for cell in row] for row in rows])
    return ("\ufeff" + output.getvalue()).encode("utf-8")


def communes_csv(session: Session, legacy_province: str) -> tuple[str, str, bytes] | None:
    """(current province code, name, CSV) of the communes of the current province that the
    legacy province's communes became part of (successions are recorded commune by commune)."""
    legacy = unit_service.get(session, UnitSet.LEGACY, legacy_province)
    province = None
    for node in unit_service.subtree(session, legacy.id):
        successors = unit_service.successors(session, node.code)
        if node.level is UnitLevel.COMMUNE and successors:
            current_commune = successors[0][1]
            parent_id = current_commune.parent_id
            province = (
                unit_service.nodes(session, [parent_id]).get(parent_id) if parent_id else None
            )
            break
    if province is None:
        return None
    rows: list[list[str]] = []
    for node in unit_service.subtree(session, province.id):
        if node.level is not UnitLevel.COMMUNE:
            continue
        for legacy, _current, partial in unit_service.predecessors(session, node.code):
            rows.append(
                [node.code, node.name, legacy.code, legacy.name, "có" if partial else "không"]
            )
    header = ["ma_xa", "ten_xa", "ma_don_vi_cu", "ten_don_vi_cu", "mot_phan"]
    return province.code, province.name, _csv(header, rows)


def agencies_csv(session: Session) -> bytes:
    organisations = organisation_service.list_all(session)
    by_id = {organisation.id: organisation for organisation in organisations}
    rows = [
        [
            organisation.code,
            organisation.name_vi,
            organisation.name_en or "",
            organisation.kind.value,
            by_id[organisation.parent_id].code if organisation.parent_id in by_id else "",
        ]
        for organisation in organisations
    ]
    return _csv(["ma", "ten", "ten_tieng_anh", "loai", "ma_cap_tren"], rows)


def load_opendata_demo(
    session: Session,
    files: FileStore | None,
    progress: Callable[[str, int], None] | None = None,
) -> None:
    """Load the reference lists, and the datasets where files can be stored (``files``)."""
    load_reference(session)
    count = 0
    try:
        organisation_service.get(session, PUBLISHER)
    except NotFound:
        files = None  # no demo publisher: the reference lists are all there is
    if files is None:
        if progress:
            progress("opendata", len(LICENCES) + len(THEMES))
        return
    existing = set(session.scalars(select(OpendataDataset.name)))
    communes = communes_csv(session, LEGACY_PROVINCE)
    if COMMUNES not in existing and communes is not None:
        code, name, content = communes
        dataset = dataset_service.create(
            session,
            PLATFORM,
            {
                "name": COMMUNES,
                "title": f"Danh sách xã, phường của {name[:1].lower() + name[1:]} từ 01/07/2025 "
                "và các đơn vị hành chính cũ hợp thành",
                "title_en": f"Communes and wards of {name} from 01/07/2025 "
                "and the legacy units they were made of",
                "notes": "Mỗi dòng là một cặp (xã/phường hiện hành, đơn vị cấp xã cũ hợp thành "
                "nó), theo Nghị quyết sắp xếp đơn vị hành chính cấp xã năm 2025; cột mot_phan "
                "cho biết đơn vị cũ chỉ nhập một phần.",
                "owner_org": PUBLISHER,
                "license_id": "vn-open-data",
                "groups": [{"name": "hanh-chinh-cong"}, {"name": "dan-cu-lao-dong"}],
                "tags": [{"name": "đơn vị hành chính"}, {"name": "sắp xếp đơn vị hành chính"}],
                "update_frequency": "irregular",
                "temporal_start": "01/07/2025",
                "spatial_unit_set": UnitSet.CURRENT.value,
                "spatial_unit_code": code,
            },
        )
        dataset_service.attach_file(
            session,
            PLATFORM,
            dataset.id,
            FileUpload(
                "xa-phuong-tu-01-07-2025.csv", content, name="Danh sách xã, phường", format="CSV"
            ),
            files,
        )
        count += 1
    if AGENCIES not in existing:
        dataset = dataset_service.create(
            session,
            PLATFORM,
            {
                "name": AGENCIES,
                "title": "Danh mục cơ quan, đơn vị của tỉnh",
                "title_en": "The province's agencies and units",
                "notes": "Các cơ quan, đơn vị trong danh mục tổ chức của nền tảng: mã, tên, "
                "loại và cơ quan cấp trên.",
                "owner_org": PUBLISHER,
                "license_id": "cc-by-4.0",
                "groups": [{"name": "hanh-chinh-cong"}],
                "tags": [{"name": "cơ quan nhà nước"}],
                "update_frequency": "monthly",
            },
        )
        dataset_service.attach_file(
            session,
            PLATFORM,
            dataset.id,
            FileUpload("co-quan-don-vi.csv", agencies_csv(session), name="Danh mục", format="CSV"),
            files,
        )
        count += 1
    count += _publish_indicators(session, files)
    if progress:
        progress("opendata", count)


def _publish_indicators(session: Session, files: FileStore) -> int:
    """The seeds' indicators published as open data by the demo publisher."""
    for indicator in catalogue_service.indicators_with_values(session):
        if indicator.open_data_publisher_id is None:
            catalogue_service.update_indicator(
                session, indicator, IndicatorUpdate(open_data_publisher=PUBLISHER)
            )
    done = publish_indicators(session, files)
    return len(done.created)
