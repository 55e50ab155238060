"""The tables monitoring exports, built from the domain's services: stored values (the
import columns first, so an exported file can be edited and imported again) and computed
tables (indicator values, rankings, plan progress, the composite index) from the
monitoring progress service, so they show what the API shows. `transfer.export` writes
them as CSV or XLSX.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from tinhso.core.errors import FieldError, InvalidInput, Message
from tinhso.core.i18n import Locale
from tinhso.monitoring import repository
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import DataElement, DataValue
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.transfer.export import Table
from tinhso.monitoring.transfer.formats import DATA_SHEET, IMPORT_COLUMNS, Column
from tinhso.registry.models import UnitLevel, UnitSet, User
from tinhso.registry.schemas import UnitRef
from tinhso.registry.unit_catalogue import CURRENT_VALID_FROM
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

# An export of recorded values is written row by row to a temporary file (never built in
# memory); beyond this many rows it is refused with the filters to use.
MAX_EXPORT_ROWS = 200_000
EXPORT_CHUNK_ROWS = 1_000


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
        "chỉ tiêu (element), năm (year), kỳ (period) hoặc đơn vị (unit)",
        f"{count:,} rows is over the export limit of {MAX_EXPORT_ROWS:,} rows: filter by "
        "element, year, period or unit",
        errors=[
            FieldError(
                name,
                Message(
                    f"Lọc theo {name} để xuất ít hơn {MAX_EXPORT_ROWS:,} dòng",
                    f"Filter by {name} to export fewer than {MAX_EXPORT_ROWS:,} rows",
                ),
            )
            for name in ("element", "year", "period", "unit")
        ],
    )


ValueRow = tuple[DataValue, DataElement, tuple[UnitSet, str, str], str | None]


def values_query(
    session: Session,
    *,
    elements: Sequence[str] = (),
    unit_set: UnitSet | None = None,
    units: Sequence[str] = (),
    periods: Sequence[str] = (),
    year: int | None = None,
) -> Select[DataValue, DataElement]:
    """Stored values (filtered), in export order; unknown elements and units are refused."""
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
    return query.order_by(DataElement.code, DataValue.unit_id, DataValue.period)


def require_exportable(session: Session, query: Select[DataValue, DataElement]) -> int:
    """The number of rows ``query`` exports, refused (422) beyond `MAX_EXPORT_ROWS`."""
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if count > MAX_EXPORT_ROWS:
        raise _too_many(count)
    return count


def iter_value_rows(session: Session, query: Select[DataValue, DataElement]) -> Iterator[ValueRow]:
    """The rows of ``query``, read `EXPORT_CHUNK_ROWS` at a time (a server-side cursor on
    PostgreSQL), each with its element, unit (set, code, name) and author: the export is
    never held in memory as a whole."""
    units: dict[int, tuple[UnitSet, str, str]] = {}
    users: dict[int, str] = {}
    result = session.execute(query.execution_options(yield_per=EXPORT_CHUNK_ROWS))
    for partition in result.partitions():
        pairs = [(row[0], row[1]) for row in partition]
        new_units = {value.unit_id for value, _ in pairs} - units.keys()
        if new_units:
            units.update(
                (unit_id, (row[0], row[1], row[2]))
                for unit_id, row in repository.unit_rows(session, new_units).items()
            )
        new_users = {v.entered_by_id for v, _ in pairs if v.entered_by_id} - users.keys()
        users.update(usernames(session, new_users))
        for value, element in pairs:
            yield value, element, units[value.unit_id], users.get(value.entered_by_id or 0)


def value_rows(session: Session, **filters: Any) -> list[ValueRow]:
    """Stored values (filtered) as a list, for the DHIS2 document and the pages."""
    query = values_query(session, **filters)
    require_exportable(session, query)
    return list(iter_value_rows(session, query))


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(User.id, User.username).where(User.id.in_(ids))
    return {row.id: row.username for row in session.execute(query)}


def values_table(session: Session, lang: Locale, **filters: Any) -> Table:
    """Recorded values as a table whose rows are read from the database as they are
    written out (`iter_value_rows`), within the export limit."""
    query = values_query(session, **filters)
    count = require_exportable(session, query)

    def rows() -> Iterator[list[object]]:
        for value, element, (unit_set, code, unit_name), author in iter_value_rows(session, query):
            yield [
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

    return Table(
        "so-lieu" if lang == "vi" else "values",
        DATA_SHEET,
        "Data",
        VALUE_COLUMNS,
        rows(),
        row_count=count,
    )


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


PUBLISHED_VALUE_COLUMNS = (
    Column("unit_set", "Bộ đơn vị (hiện hành/cũ)", "Unit set (current/legacy)"),
    *INDICATOR_VALUE_COLUMNS,
)
# Levels published in each tree: the legacy tree keeps its districts.
_PUBLISHED_LEVELS = {
    Tree.CURRENT: (UnitLevel.PROVINCE, UnitLevel.COMMUNE),
    Tree.LEGACY: (UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE),
}


def indicator_periods(session: Session, code: str) -> list[str]:
    """Every period with a stored value of one of the indicator's elements, in time order."""
    indicator = catalogue_service.indicator(session, code)
    codes = formulas.parse(indicator.formula).elements
    ids = [element.id for element in repository.elements_by_codes(session, codes).values()]
    periods = repository.periods_with_values(session, ids)
    return sorted(periods, key=lambda text: (parse_period(text).end, text))


def published_indicator_table(session: Session, code: str) -> Table:
    """An indicator's values for open data: every period with values, by province and
    commune of the current units (legacy values re-aggregated onto them), and, for periods
    that ended before 01/07/2025, by the legacy units as recorded; in Vietnamese."""
    periods = indicator_periods(session, code)
    legacy_periods = [p for p in periods if parse_period(p).end < CURRENT_VALID_FROM]
    rows: list[list[object]] = []
    for tree, tree_periods in ((Tree.CURRENT, periods), (Tree.LEGACY, legacy_periods)):
        if not tree_periods:
            continue
        label = unit_set_label(UnitSet(tree.value), "vi")
        for level in _PUBLISHED_LEVELS[tree]:
            table = indicator_values_table(session, "vi", code, tree_periods, tree, level=level)
            rows.extend([label, *row] for row in table.rows if row[5] is not None)
    return Table(
        f"chi-so-{code}", "Giá trị chỉ số", "Indicator values", PUBLISHED_VALUE_COLUMNS, rows
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
