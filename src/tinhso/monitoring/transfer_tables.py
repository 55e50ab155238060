"""The tables monitoring exports, built from the domain's services: stored values (the
import columns first, so an exported file can be edited and imported again) and computed
tables (indicator values, rankings, plan progress, the composite index) from the
monitoring progress service, so they show what the API shows. `transfer_export` writes
them as CSV or XLSX.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.errors import InvalidInput
from tinhso.core.i18n import Locale
from tinhso.monitoring import repository
from tinhso.monitoring.effective_values import Tree
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import DataElement, DataValue
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress import progress_service
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.transfer import DATA_SHEET, IMPORT_COLUMNS, Column
from tinhso.monitoring.transfer_export import Table
from tinhso.registry.models import UnitLevel, UnitSet, User
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MAX_EXPORT_ROWS = 200_000


def unit_set_label(unit_set: UnitSet, lang: Locale) -> str:
    if lang == "en":
        return unit_set.value
    return "hiện hành" if unit_set is UnitSet.CURRENT else "cũ"


VALUE_COLUMNS = (
    *IMPORT_COLUMNS,
    Column("element_name", "Tên chỉ tiêu dữ liệu", "Data element name"),
    Column("unit_name", "Tên đơn vị hành chính", "Administrative unit name"),
    Column("source", "Nguồn", "Source"),
    Column("source_reference", "Tham chiếu nguồn", "Source reference"),
    Column("entered_by", "Người nhập", "Entered by"),
    Column("entered_at", "Thời điểm nhập (UTC)", "Entered at (UTC)"),
    Column("version", "Phiên bản", "Version", "number"),
)


def _too_many(count: int) -> InvalidInput:
    return InvalidInput(
        f"Có {count:,} dòng, vượt giới hạn {MAX_EXPORT_ROWS:,} dòng mỗi lần xuất: hãy lọc theo "
        "chỉ tiêu, năm hoặc đơn vị",
        f"{count:,} rows is over the export limit of {MAX_EXPORT_ROWS:,}: filter by element, "
        "year or unit",
        field="limit",
    )


def value_rows(
    session: Session,
    *,
    elements: Sequence[str] = (),
    unit_set: UnitSet | None = None,
    units: Sequence[str] = (),
    periods: Sequence[str] = (),
    year: int | None = None,
) -> list[tuple[DataValue, DataElement, tuple[UnitSet, str, str], str | None]]:
    """Stored values (filtered), each with its element, unit (set, code, name) and author."""
    query = select(DataValue, DataElement).join(
        DataElement, DataElement.id == DataValue.data_element_id
    )
    if elements:
        ids = [catalogue_service.element(session, code).id for code in elements]
        query = query.where(DataValue.data_element_id.in_(ids))
    if units:
        wanted = [(unit_set or UnitSet.CURRENT, code) for code in units]
        found = repository.unit_ids_by_ref(session, wanted)
        missing = [code for s, code in wanted if (s, code) not in found]
        if missing:
            raise InvalidInput(
                f"Đơn vị hành chính {', '.join(missing)} không tồn tại",
                f"Administrative unit {', '.join(missing)} does not exist",
                field="unit",
            )
        query = query.where(DataValue.unit_id.in_(found.values()))
    if periods:
        query = query.where(DataValue.period.in_(list(periods)))
    if year is not None:
        query = query.where(DataValue.year == year)
    if unit_set is not None:
        query = query.where(DataValue.unit_id.in_(unit_service.ids_in_set(session, unit_set)))
    query = query.order_by(DataElement.code, DataValue.unit_id, DataValue.period)
    rows = [(row[0], row[1]) for row in session.execute(query.limit(MAX_EXPORT_ROWS + 1))]
    if len(rows) > MAX_EXPORT_ROWS:
        raise _too_many(len(rows))
    unit_info = repository.unit_rows(session, {value.unit_id for value, _ in rows})
    users = usernames(session, {v.entered_by_id for v, _ in rows if v.entered_by_id})
    return [
        (
            value,
            element,
            (unit_info[value.unit_id][0], unit_info[value.unit_id][1], unit_info[value.unit_id][2]),
            users.get(value.entered_by_id or 0),
        )
        for value, element in rows
    ]


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(User.id, User.username).where(User.id.in_(ids))
    return {row.id: row.username for row in session.execute(query)}


def values_table(session: Session, lang: Locale, **filters: Any) -> Table:
    rows: list[list[object]] = []
    for value, element, (unit_set, code, unit_name), author in value_rows(session, **filters):
        rows.append(
            [
                element.code,
                code,
                unit_set_label(unit_set, lang),
                value.period,
                value.value,
                value.comment,
                element.name_vi if lang == "vi" else (element.name_en or element.name_vi),
                unit_name,
                value.source.value,
                value.source_reference,
                author,
                value.entered_at.isoformat(timespec="seconds"),
                value.version,
            ]
        )
    return Table("so-lieu" if lang == "vi" else "values", DATA_SHEET, "Data", VALUE_COLUMNS, rows)


_BASIS_VI = {
    "recorded": "số liệu nhập",
    "aggregated": "tổng hợp",
    "reaggregated": "quy đổi từ đơn vị cũ",
    "recorded_over_legacy": "số liệu nhập (có cả số liệu đơn vị cũ, không dùng)",
}
INDICATOR_VALUE_COLUMNS = (
    Column("indicator_code", "Mã chỉ số", "Indicator code"),
    Column("indicator_name", "Tên chỉ số", "Indicator name"),
    Column("unit_code", "Mã đơn vị hành chính", "Administrative unit code"),
    Column("unit_name", "Tên đơn vị hành chính", "Administrative unit name"),
    Column("period", "Kỳ báo cáo", "Period"),
    Column("value", "Giá trị", "Value", "number"),
    Column("unit_of_measure", "Đơn vị tính", "Unit of measure"),
    Column("basis", "Cơ sở tính", "Basis"),
)


def _basis(name: str, lang: Locale) -> str:
    return _BASIS_VI.get(name, name) if lang == "vi" else name


def indicator_values_table(
    session: Session,
    lang: Locale,
    code: str,
    periods: list[str],
    tree: Tree = Tree.CURRENT,
    level: UnitLevel | None = None,
    parent: str | None = None,
    units: Sequence[str] = (),
) -> Table:
    indicator = catalogue_service.indicator(session, code)
    unit_set = UnitSet(tree.value)
    found = progress_service.indicator_values(
        session,
        indicator,
        periods,
        tree,
        level=level,
        parent=UnitRef(unit_set=unit_set, code=parent) if parent else None,
        units=[UnitRef(unit_set=unit_set, code=c) for c in units] or None,
    )
    name = indicator.name_vi if lang == "vi" else (indicator.name_en or indicator.name_vi)
    measure = (
        indicator.unit_of_measure
        if lang == "vi"
        else (indicator.unit_of_measure_en or indicator.unit_of_measure)
    )
    rows: list[list[object]] = [
        [
            indicator.code,
            name,
            v.unit.code,
            v.unit_name,
            v.period,
            v.value,
            measure,
            _basis(v.basis, lang),
        ]
        for v in found
    ]
    return Table(
        f"chi-so-{indicator.code}",
        "Giá trị chỉ số",
        "Indicator values",
        INDICATOR_VALUE_COLUMNS,
        rows,
    )


RANKING_COLUMNS = (
    Column("rank", "Thứ hạng", "Rank", "number"),
    Column("unit_code", "Mã đơn vị hành chính", "Administrative unit code"),
    Column("unit_name", "Tên đơn vị hành chính", "Administrative unit name"),
    Column("value", "Giá trị", "Value", "number"),
    Column("basis", "Cơ sở tính", "Basis"),
)


def ranking_table(
    session: Session,
    lang: Locale,
    code: str,
    period: str,
    tree: Tree = Tree.CURRENT,
    level: UnitLevel = UnitLevel.PROVINCE,
    parent: str | None = None,
) -> Table:
    indicator = catalogue_service.indicator(session, code)
    ranked = progress_service.ranking(
        session,
        indicator,
        period,
        tree,
        level,
        UnitRef(unit_set=UnitSet(tree.value), code=parent) if parent else None,
    )
    rows: list[list[object]] = [
        [r.rank, r.unit.code, r.unit_name, r.value, _basis(r.basis, lang)] for r in ranked
    ]
    return Table(
        f"xep-hang-{indicator.code}-{period}", "Xếp hạng", "Ranking", RANKING_COLUMNS, rows
    )


PROGRESS_COLUMNS = (
    Column("indicator_code", "Mã chỉ số", "Indicator code"),
    Column("indicator_name", "Tên chỉ số", "Indicator name"),
    Column("unit_code", "Mã đơn vị hành chính", "Administrative unit code"),
    Column("unit_name", "Tên đơn vị hành chính", "Administrative unit name"),
    Column("year", "Năm mục tiêu", "Target year", "number"),
    Column("comparison", "So sánh", "Comparison"),
    Column("goal", "Mục tiêu", "Goal", "number"),
    Column("baseline", "Giá trị gốc", "Baseline", "number"),
    Column("actual", "Giá trị thực hiện", "Actual", "number"),
    Column("actual_period", "Kỳ thực hiện", "Actual period"),
    Column("achievement_percent", "Tỷ lệ đạt (%)", "Achievement (%)", "number"),
    Column("status", "Tình trạng", "Status"),
)


def plan_progress_table(session: Session, lang: Locale, code: str, as_of: int | None) -> Table:
    plan = plan_service.get(session, code)
    rows: list[list[object]] = [
        [
            a.indicator_code,
            a.indicator_name_vi,
            a.unit.code,
            a.unit_name,
            a.year,
            a.comparison.value,
            a.goal,
            a.baseline_value,
            a.actual,
            a.actual_period,
            a.achievement_percent,
            a.status_vi if lang == "vi" else a.status_en,
        ]
        for a in progress_service.plan_progress(session, plan, as_of)
    ]
    return Table(f"tien-do-{plan.code}", "Tiến độ", "Progress", PROGRESS_COLUMNS, rows)


INDEX_COLUMNS = (
    Column("rank", "Thứ hạng", "Rank", "number"),
    Column("unit_code", "Mã đơn vị hành chính", "Administrative unit code"),
    Column("unit_name", "Tên đơn vị hành chính", "Administrative unit name"),
    Column("total", "Tổng điểm", "Total points", "number"),
    Column("normalised", "Điểm chuẩn hoá", "Normalised score", "number"),
    Column("components", "Số thành phần có số liệu", "Components with data", "number"),
)


def index_table(
    session: Session,
    lang: Locale,
    code: str,
    period: str,
    tree: Tree = Tree.CURRENT,
    parent: str | None = None,
) -> Table:
    methodology = methodology_service.get(session, code)
    scores = progress_service.index(
        session,
        methodology,
        period,
        tree,
        UnitRef(unit_set=UnitSet(tree.value), code=parent) if parent else None,
    )
    pillar_columns: list[Column] = []
    if scores:
        pillar_columns = [
            Column(
                f"pillar_{p.code}",
                f"Trụ cột: {p.name_vi}",
                f"Pillar: {p.name_en or p.name_vi}",
                "number",
            )
            for p in scores[0].pillars
        ]
    rows: list[list[object]] = [
        [
            s.rank,
            s.unit.code,
            s.unit_name,
            s.total,
            s.normalised,
            s.components_with_data,
            *(p.points for p in s.pillars),
        ]
        for s in scores
    ]
    return Table(
        f"chi-so-tong-hop-{methodology.code}-{period}",
        "Chỉ số tổng hợp",
        "Index",
        (*INDEX_COLUMNS, *pillar_columns),
        rows,
    )
