"""Export of monitoring tables as CSV (UTF-8 with BOM) or XLSX, Vietnamese or English headers.

Values export with the import columns first, so an exported file can be edited and
imported again; computed tables (indicator values, rankings, plan progress, the index)
come from the monitoring progress service, so they show what the API shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
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
from tinhso.monitoring.transfer import (
    CSV_MEDIA_TYPE,
    DATA_SHEET,
    IMPORT_COLUMNS,
    XLSX_MEDIA_TYPE,
    Column,
    FileFormat,
)
from tinhso.registry.models import UnitLevel, UnitSet, User
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MAX_EXPORT_ROWS = 200_000


@dataclass
class Table:
    """Rows to export, with bilingual column titles."""

    name: str  # file name stem, e.g. "so-lieu"
    sheet_vi: str
    sheet_en: str
    columns: Sequence[Column]
    rows: list[list[object]]
    media_types: ClassVar[dict[str, str]] = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}


def csv_number(value: object) -> object:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return value


def write_csv(table: Table, lang: Locale) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.title(lang) for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else csv_number(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")


def _style_header(sheet: Any, columns: Sequence[Column], lang: Locale) -> None:
    sheet.append([c.title(lang) for c in columns])
    for position, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=position)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        width = max(12, min(48, len(column.title(lang)) + 4))
        sheet.column_dimensions[get_column_letter(position)].width = width
    sheet.freeze_panes = "A2"


def write_xlsx(table: Table, lang: Locale) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # noqa: S101 - a new workbook always has one sheet
    sheet.title = (table.sheet_vi if lang == "vi" else table.sheet_en)[:31]
    _style_header(sheet, table.columns, lang)
    for row in table.rows:
        sheet.append([_xlsx_cell(v) for v in row])
    for position, column in enumerate(table.columns, start=1):
        if column.kind == "text":
            for (cell,) in sheet.iter_rows(
                min_row=2, min_col=position, max_col=position, max_row=len(table.rows) + 1
            ):
                cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: written in UTC
    return value


def write_table(table: Table, fmt: FileFormat, lang: Locale) -> bytes:
    return write_csv(table, lang) if fmt == "csv" else write_xlsx(table, lang)


def unit_set_label(unit_set: UnitSet, lang: Locale) -> str:
    if lang == "en":
        return unit_set.value
    return "hiện hành" if unit_set is UnitSet.CURRENT else "cũ"


# --- template --------------------------------------------------------------------------

_GUIDE_VI = [
    "Mẫu nhập số liệu chỉ tiêu (tinhso)",
    "Mỗi dòng của trang «Số liệu» là một giá trị: chỉ tiêu dữ liệu × đơn vị hành chính × kỳ báo cáo.",
    "Mã chỉ tiêu dữ liệu: xem trang «Chỉ tiêu dữ liệu».",
    "Mã đơn vị hành chính: mã GSO (tỉnh 2 chữ số, huyện cũ 3 chữ số, xã 5 chữ số), ví dụ 24 hoặc 00004.",
    "Bộ đơn vị: «hiện hành» (34 tỉnh, từ 01/07/2025) hoặc «cũ» (63 tỉnh); để trống là hiện hành. Cùng một mã có thể là hai đơn vị khác nhau ở hai bộ.",
    "Kỳ báo cáo: năm 2025; quý 2025-Q3 hoặc Quý 3/2025; tháng 2025-07 hoặc 07/2025 (đúng loại kỳ của chỉ tiêu).",
    "Giá trị: số theo kiểu Việt Nam (1.380 hoặc 47,85) hoặc kiểu thông thường (1380, 47.85).",
    "Tệp được kiểm tra toàn bộ trước khi ghi: có lỗi ở bất kỳ dòng nào thì không ghi gì, và danh sách lỗi nêu rõ dòng, cột.",
    "Nhập lại một giá trị đã có với số khác là một lần hiệu chỉnh, được lưu trong lịch sử.",
    "CSV: lưu dạng «CSV UTF-8»; dấu phân cách «,» hoặc «;».",
]
_GUIDE_EN = [
    "Template for indicator data (tinhso)",
    "Each row of the data sheet is one value: data element x administrative unit x period.",
    "Data element code: see the data elements sheet.",
    "Administrative unit code: the GSO code (province 2 digits, legacy district 3, commune 5), e.g. 24 or 00004.",
    "Unit set: «current» (34 provinces, from 01/07/2025) or «legacy» (63 provinces); empty means current. One code can name different units in the two sets.",
    "Period: year 2025; quarter 2025-Q3 or Quý 3/2025; month 2025-07 or 07/2025 (the element's period type).",
    "Value: Vietnamese format (1.380 or 47,85) or plain (1380, 47.85).",
    "The whole file is checked before anything is written: an error on any row writes nothing, and the errors name the row and column.",
    "Importing a different number for a stored value is a correction, kept in the value's history.",
    "English headers are accepted too. CSV: save as «CSV UTF-8»; separator «,» or «;».",
]
ELEMENT_COLUMNS = (
    Column("code", "Mã chỉ tiêu dữ liệu", "Data element code"),
    Column("name", "Tên chỉ tiêu dữ liệu", "Data element name"),
    Column("unit_of_measure", "Đơn vị tính", "Unit of measure"),
    Column("value_type", "Kiểu giá trị", "Value type"),
    Column("period_type", "Loại kỳ", "Period type"),
)


def template_table() -> Table:
    return Table("mau-nhap-so-lieu", DATA_SHEET, "Data", IMPORT_COLUMNS, [])


def write_template(session: Session, fmt: FileFormat, lang: Locale) -> bytes:
    """The import template: headers only (CSV), or with a guide and the elements (XLSX)."""
    table = template_table()
    if fmt == "csv":
        return write_csv(table, lang)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # noqa: S101 - a new workbook always has one sheet
    sheet.title = DATA_SHEET if lang == "vi" else "Data"
    _style_header(sheet, IMPORT_COLUMNS, lang)
    for position, column in enumerate(IMPORT_COLUMNS, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = 28
        if column.kind == "text":  # keep leading zeros and periods as typed
            for row in range(2, 1002):
                sheet.cell(row=row, column=position).number_format = "@"
    choices = '"hiện hành,cũ"' if lang == "vi" else '"current,legacy"'
    validation = DataValidation(type="list", formula1=choices, allow_blank=True)
    sheet.add_data_validation(validation)
    validation.add("C2:C1001")
    guide = workbook.create_sheet("Hướng dẫn" if lang == "vi" else "Guide")
    lines = [*_GUIDE_VI, "", *_GUIDE_EN] if lang == "vi" else [*_GUIDE_EN, "", *_GUIDE_VI]
    for line in lines:
        guide.append([line])
    guide.column_dimensions["A"].width = 120
    elements = workbook.create_sheet("Chỉ tiêu dữ liệu" if lang == "vi" else "Data elements")
    _style_header(elements, ELEMENT_COLUMNS, lang)
    for element in repository.all_elements(session):
        elements.append(
            [
                element.code,
                element.name_vi if lang == "vi" else (element.name_en or element.name_vi),
                element.unit_of_measure
                if lang == "vi"
                else (element.unit_of_measure_en or element.unit_of_measure),
                element.value_type.value,
                element.period_type.value,
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- exports ---------------------------------------------------------------------------

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
