"""Import and export routes under /api/v1/monitoring: files (CSV, XLSX) and DHIS2 JSON.

Owners and rules (see `tinhso.monitoring.auth`):
- importing writes values, so every row must be a unit the official may enter values for
  (officers of the organisation tied to that unit or a unit above it; platform admins);
  one forbidden row refuses the whole file (403) and nothing is written;
- exports and the template are read-only and open to every logged-in official, as the
  values and computed tables are in the monitoring API (viewers included).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from tinhso.core.i18n import Locale
from tinhso.core.web import DbSession
from tinhso.monitoring.auth import value_writer
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.transfer import dhis2
from tinhso.monitoring.transfer.export import Table, write_table_to, write_template
from tinhso.monitoring.transfer.file_import import import_file
from tinhso.monitoring.transfer.formats import (
    CSV_MEDIA_TYPE,
    MAX_FILE_BYTES,
    XLSX_MEDIA_TYPE,
    FileFormat,
    FileTooLarge,
)
from tinhso.monitoring.transfer.tables import (
    index_table,
    indicator_values_table,
    plan_progress_table,
    ranking_table,
    values_table,
)
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.registry.auth import CurrentUser, Principal
from tinhso.registry.models import UnitLevel, UnitSet

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring: import/export"])

FormatQuery = Annotated[Literal["xlsx", "csv"], Query(description="xlsx (default) or csv")]
LangQuery = Annotated[Literal["vi", "en"], Query(description="Column headers: vi (default) or en")]
PeriodsQuery = Annotated[
    list[str] | None, Query(description="Periods: 2025, 2025-Q3, 2025-07 (repeatable)")
]


class ImportOut(BaseModel):
    file_name: str
    rows: int
    inserted: int
    corrected: int
    unchanged: int


# A file answer: what the OpenAPI document says the 200 of a download is.
_BINARY = {"schema": {"type": "string", "format": "binary"}}
FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file (XLSX or CSV, as asked) / Tệp XLSX hoặc CSV",
        "content": {XLSX_MEDIA_TYPE: _BINARY, CSV_MEDIA_TYPE: _BINARY},
    }
}
# Exports are written to a temporary file (spilling to disk beyond this size), then sent
# from it in chunks: neither the rows nor the file are held in memory as a whole.
SPOOL_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 64 * 1024


def _disposition(stem: str, fmt: FileFormat) -> dict[str, str]:
    name = f"{stem}.{fmt}"
    return {
        "Content-Disposition": f'attachment; filename="{quote(name)}"; '
        f"filename*=UTF-8''{quote(name)}"
    }


def _file(content: bytes, stem: str, fmt: FileFormat) -> Response:
    return Response(content, media_type=Table.media_types[fmt], headers=_disposition(stem, fmt))


def _send(table: Table, fmt: FileFormat, lang: Locale) -> Response:
    """Write the table (its rows possibly read from the database as they go) to a spooled
    temporary file, then stream that file. Errors (bad filters, too many rows, the
    database) happen before the answer starts, so they are still problem+json."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by chunks()
    try:
        write_table_to(table, fmt, lang, spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := spool.read(CHUNK_BYTES):
                yield chunk
        finally:
            spool.close()

    headers = {**_disposition(table.name, fmt), "Content-Length": str(size)}
    return StreamingResponse(chunks(), media_type=Table.media_types[fmt], headers=headers)


def _authoriser(session: DbSession, principal: Principal) -> Any:
    return value_writer(session, principal)  # writable units worked out once per file


@router.get(
    "/imports/template",
    response_class=Response,
    responses=FILE_ANSWER,
    summary="Download the import template, Vietnamese or English headers (any official)",
)
def import_template(
    session: DbSession, principal: CurrentUser, format: FormatQuery = "xlsx", lang: LangQuery = "vi"
) -> Response:
    stem = "mau-nhap-so-lieu" if lang == "vi" else "data-import-template"
    return _file(write_template(session, format, lang), stem, format)


@router.post(
    "/imports",
    summary="Import values from a CSV/XLSX file, all or nothing (officers, for their units)",
    responses={
        413: {"description": "File too large"},
        415: {"description": "Not a CSV or XLSX file"},
        422: {"description": "Errors per row and column; nothing was written"},
    },
)
def import_values_file(
    session: DbSession,
    principal: CurrentUser,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8) or .xlsx file following the template")
    ],
    number_format: Annotated[
        NumberFormat | None,
        Query(
            description="How numbers are written: vi (1.380,5) or en (1,380.5); "
            "default: as the value column's header declares (Giá trị: vi, Value: en)"
        ),
    ] = None,
) -> ImportOut:
    content = file.file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise FileTooLarge(
            f"Tệp lớn hơn giới hạn {MAX_FILE_BYTES // (1024 * 1024)} MB",
            f"The file is larger than the {MAX_FILE_BYTES // (1024 * 1024)} MB limit",
            field="file",
        )
    result = import_file(
        session,
        file.filename or "",
        content,
        user_id=principal.user_id,
        authorise=_authoriser(session, principal),
        number_format=number_format,
    )
    return ImportOut(
        file_name=result.file_name,
        rows=result.rows,
        inserted=result.inserted,
        corrected=result.corrected,
        unchanged=result.unchanged,
    )


class ImportCountOut(BaseModel):
    imported: int
    updated: int
    ignored: int
    deleted: int


class ImportConflictOut(BaseModel):
    object: str
    value: str
    valueVi: str  # noqa: N815 - DHIS2's camelCase
    property: str
    indexes: list[int]


class ImportSummaryOut(BaseModel):
    """DHIS2's ImportSummary (2.40): ``ignored`` counts the values not imported."""

    responseType: Literal["ImportSummary"]  # noqa: N815
    status: Literal["SUCCESS", "WARNING", "ERROR"]
    description: str
    importOptions: dict[str, Any]  # noqa: N815
    importCount: ImportCountOut  # noqa: N815
    conflicts: list[ImportConflictOut]


@router.post(
    "/dhis2/dataValueSets",
    summary="Import a DHIS2 dataValueSets JSON document as DHIS2 does: conflicts are ignored "
    "unless atomicMode=ALL; dryRun and importStrategy honoured (officers, for their units)",
    response_model=ImportSummaryOut,
    responses={
        409: {
            "description": "atomicMode=ALL and some values have conflicts: nothing was written "
            "(DHIS2 ImportSummary with status ERROR)",
            "model": ImportSummaryOut,
        }
    },
)
def import_dhis2(
    session: DbSession,
    principal: CurrentUser,
    response: Response,
    payload: Annotated[dict[str, Any], Body(description="DHIS2 dataValueSets JSON")],
    unit_set: Annotated[
        UnitSet | None, Query(description="Unit set of plain orgUnit codes (default current)")
    ] = None,
    name: Annotated[
        str, Query(max_length=200, description="Name kept as the values' source reference")
    ] = "api",
    dry_run: Annotated[
        bool, Query(alias="dryRun", description="Check and count, write nothing")
    ] = False,
    import_strategy: Annotated[
        dhis2.ImportStrategy, Query(alias="importStrategy", description="DHIS2 import strategy")
    ] = dhis2.ImportStrategy.CREATE_AND_UPDATE,
    atomic_mode: Annotated[
        dhis2.AtomicMode,
        Query(alias="atomicMode", description="ALL: nothing is written if any value conflicts"),
    ] = dhis2.AtomicMode.NONE,
) -> dict[str, Any]:
    outcome, reference = dhis2.import_data_value_set_as_dhis2(
        session,
        payload,
        name=name,
        user_id=principal.user_id,
        authorise=_authoriser(session, principal),
        default_unit_set=unit_set,
        strategy=import_strategy,
        atomic_mode=atomic_mode,
        dry_run=dry_run,
    )
    if outcome.refused:
        response.status_code = 409
    return outcome.summary(reference)


@router.get(
    "/dhis2/dataValueSets",
    summary="Export values of one unit set as DHIS2 dataValueSets JSON (any official)",
)
def export_dhis2(
    session: DbSession,
    principal: CurrentUser,
    unit_set: UnitSet = UnitSet.CURRENT,
    element: Annotated[list[str] | None, Query(description="Element codes")] = None,
    unit: Annotated[list[str] | None, Query(description="Unit codes in the set")] = None,
    period: PeriodsQuery = None,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> dict[str, Any]:
    return dhis2.export_data_value_set(
        session,
        unit_set=unit_set,
        elements=element or (),
        units=unit or (),
        periods=period or (),
        year=year,
    )


@router.get(
    "/exports/values",
    response_class=Response,
    responses=FILE_ANSWER,
    summary="Export recorded values as CSV/XLSX (any official)",
)
def export_values(
    session: DbSession,
    principal: CurrentUser,
    format: FormatQuery = "xlsx",
    lang: LangQuery = "vi",
    element: Annotated[list[str] | None, Query(description="Element codes")] = None,
    unit_set: UnitSet | None = None,
    unit: Annotated[list[str] | None, Query(description="Unit codes")] = None,
    period: PeriodsQuery = None,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> Response:
    table = values_table(
        session,
        lang,
        elements=element or (),
        unit_set=unit_set,
        units=unit or (),
        periods=period or (),
        year=year,
    )
    return _send(table, format, lang)


@router.get(
    "/exports/indicators/{code}/values",
    response_class=Response,
    responses=FILE_ANSWER,
    summary="Export computed indicator values as CSV/XLSX (any official)",
)
def export_indicator_values(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    period: Annotated[list[str], Query(description="Periods: 2025, 2025-Q3, 2025-07")],
    format: FormatQuery = "xlsx",
    lang: LangQuery = "vi",
    tree: Tree = Tree.CURRENT,
    level: UnitLevel | None = None,
    parent: str | None = None,
    unit: Annotated[list[str] | None, Query(description="Unit codes in the tree")] = None,
) -> Response:
    table = indicator_values_table(
        session, lang, code, period, tree, level=level, parent=parent, units=unit or ()
    )
    return _send(table, format, lang)


@router.get(
    "/exports/indicators/{code}/ranking",
    response_class=Response,
    responses=FILE_ANSWER,
    summary="Export the units' ranking on an indicator as CSV/XLSX (any official)",
)
def export_ranking(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    period: str,
    format: FormatQuery = "xlsx",
    lang: LangQuery = "vi",
    tree: Tree = Tree.CURRENT,
    level: UnitLevel = UnitLevel.PROVINCE,
    parent: str | None = None,
) -> Response:
    return _send(ranking_table(session, lang, code, period, tree, level, parent), format, lang)


@router.get(
    "/exports/plans/{code}/progress",
    response_class=Response,
    responses=FILE_ANSWER,
    summary="Export a plan's target achievements as CSV/XLSX (any official)",
)
def export_plan_progress(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    format: FormatQuery = "xlsx",
    lang: LangQuery = "vi",
    as_of: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> Response:
    return _send(plan_progress_table(session, lang, code, as_of), format, lang)


@router.get(
    "/exports/methodologies/{code}/index",
    response_class=Response,
    responses=FILE_ANSWER,
    summary="Export the composite index and ranking as CSV/XLSX (any official)",
)
def export_index(
    session: DbSession,
    principal: CurrentUser,
    code: str,
    period: str,
    format: FormatQuery = "xlsx",
    lang: LangQuery = "vi",
    tree: Tree = Tree.CURRENT,
    parent: str | None = None,
) -> Response:
    return _send(index_table(session, lang, code, period, tree, parent), format, lang)
