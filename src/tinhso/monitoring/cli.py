"""`tinhso monitoring ...` commands: plan progress, the index, the DuckDB analytics copy.

Commands are registered on ``monitoring_app`` (a group of the root command); import and
export commands live next to these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from tinhso.core.commands import console, output
from tinhso.core.commands import failure as _fail
from tinhso.core.commands import settings_or_exit as _settings
from tinhso.core.db import engine_from_settings, make_sessionmaker
from tinhso.core.errors import DomainError
from tinhso.core.i18n import format_number
from tinhso.monitoring.computation.effective_values import Tree

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


app = typer.Typer(no_args_is_help=True)
monitoring_app = typer.Typer(
    help="Giám sát chỉ tiêu, kế hoạch, chỉ số / indicators, plans, index", no_args_is_help=True
)
app.add_typer(monitoring_app, name="monitoring")


def _number(value: float | None) -> str:
    return "-" if value is None else format_number(round(value, 2))


@monitoring_app.command("progress")
def progress(
    plan: Annotated[str, typer.Argument(help="Mã kế hoạch / plan code")],
    as_of: Annotated[int | None, typer.Option(help="Năm đánh giá / assessment year")] = None,
) -> None:
    """Tiến độ thực hiện mục tiêu của kế hoạch / a plan's target progress."""
    from tinhso.monitoring.plans import plan_service  # noqa: PLC0415
    from tinhso.monitoring.progress.service import progress_service  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine)() as session:
            found = plan_service.get(session, plan)
            table = Table(
                "Chỉ số / indicator",
                "Đơn vị / unit",
                "Năm / year",
                "Mục tiêu / goal",
                "Thực hiện / actual",
                "Kỳ / period",
                "Trạng thái / status",
            )
            for item in progress_service.plan_progress(session, found, as_of):
                table.add_row(
                    item.indicator_code,
                    item.unit_name,
                    str(item.year),
                    f"{item.comparison.value} {_number(item.goal)}",
                    _number(item.actual),
                    item.actual_period or "-",
                    item.status_vi,
                )
            output.print(f"{found.number} — {found.title_vi}")
            output.print(table)
    except DomainError as error:
        raise _fail(error) from error
    finally:
        engine.dispose()


@monitoring_app.command("index")
def index(
    methodology: Annotated[str, typer.Argument(help="Mã bộ chỉ số / methodology code")],
    period: Annotated[str, typer.Option(help="Kỳ / period, e.g. 2024")],
    tree: Annotated[Tree, typer.Option(help="legacy | current")] = Tree.CURRENT,
) -> None:
    """Chỉ số tổng hợp theo đơn vị / the composite index per unit."""
    from tinhso.monitoring.methodologies import methodology_service  # noqa: PLC0415
    from tinhso.monitoring.progress.service import progress_service  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine)() as session:
            found = methodology_service.get(session, methodology)
            table = Table("#", "Đơn vị / unit", "Điểm / points", "Chuẩn hóa / normalised")
            for item in progress_service.index(session, found, period, tree):
                table.add_row(
                    str(item.rank), item.unit_name, _number(item.total), _number(item.normalised)
                )
            output.print(table)
    except DomainError as error:
        raise _fail(error) from error
    finally:
        engine.dispose()


@monitoring_app.command("snapshot")
def snapshot(
    path: Annotated[Path, typer.Argument(help="Tệp DuckDB / DuckDB file")],
) -> None:
    """Sao chép số liệu sang DuckDB để phân tích / copy values into a DuckDB analytics file."""
    import duckdb  # noqa: PLC0415

    from tinhso.monitoring.computation.analytics import copy_to_duckdb  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    duck = duckdb.connect(str(path))
    try:
        with engine.connect() as connection:
            counts = copy_to_duckdb(connection, duck)
    finally:
        duck.close()
        engine.dispose()
    console.print(
        "[green]OK[/green] " + ", ".join(f"{table}={count:,}" for table, count in counts.items())
    )


@monitoring_app.command("recompute")
def recompute(
    path: Annotated[Path, typer.Argument(help="Tệp DuckDB đã sao chép / the DuckDB copy")],
    tree: Annotated[Tree, typer.Option(help="legacy | current")] = Tree.CURRENT,
    level: Annotated[str, typer.Option(help="commune | district | province")] = "province",
) -> None:
    """Tính lại mọi chỉ số trên bản sao DuckDB / recompute every indicator on the DuckDB copy.

    Every indicator, every unit of the level, every period with values (and the quarters and
    years containing them), stored in the copy's ``indicator_value`` table.
    """
    import time  # noqa: PLC0415

    import duckdb  # noqa: PLC0415
    from sqlalchemy import select  # noqa: PLC0415

    from tinhso.monitoring.computation.analytics import (  # noqa: PLC0415
        analysis_periods,
        materialise_indicator_values,
    )
    from tinhso.monitoring.computation.specs import element_specs, indicator_spec  # noqa: PLC0415
    from tinhso.monitoring.models import Indicator  # noqa: PLC0415
    from tinhso.registry.models import UnitLevel  # noqa: PLC0415

    if level not in {item.value for item in UnitLevel}:
        console.print("[red]Cấp không hợp lệ / invalid level[/red]")
        raise typer.Exit(2)
    if not path.exists():
        console.print(
            "[red]Chưa có bản sao, chạy `tinhso monitoring snapshot` trước /"
            " no copy yet, run `tinhso monitoring snapshot` first[/red]"
        )
        raise typer.Exit(1)
    engine = engine_from_settings(_settings())
    duck = duckdb.connect(str(path))
    try:
        with make_sessionmaker(engine)() as session:
            catalogue = element_specs(session)
            indicators = [
                indicator_spec(row)
                for row in session.scalars(select(Indicator).order_by(Indicator.id))
            ]
        started = time.perf_counter()
        periods = analysis_periods(duck)
        count = materialise_indicator_values(
            duck, indicators, catalogue, periods, tree, UnitLevel(level)
        )
        elapsed = time.perf_counter() - started
    finally:
        duck.close()
        engine.dispose()
    console.print(
        f"[green]OK[/green] indicator_value={count:,} ({len(indicators)} indicators,"
        f" {len(periods)} periods, {elapsed:.1f} s)"
    )


# --- import and export (tinhso monitoring data ...) -------------------------------------

data_app = typer.Typer(
    help="Nhập/xuất số liệu: CSV, Excel, DHIS2 / import and export values", no_args_is_help=True
)
monitoring_app.add_typer(data_app, name="data")
AsUser = Annotated[
    str,
    typer.Option(
        "--as",
        help="Cán bộ được ghi là người nhập; quyền của người đó được áp dụng / "
        "the official recorded as entering the values (their rights apply)",
    ),
]


def _official(session: Session, username: str) -> tuple[int, Callable[[int, str, str], None]]:
    """The official's id and a check that they may write each unit (as in the API)."""
    from tinhso.monitoring.auth import value_writer  # noqa: PLC0415
    from tinhso.registry.accounts import account_service  # noqa: PLC0415
    from tinhso.registry.auth import principal_of  # noqa: PLC0415

    user = account_service.get(session, username)
    principal = principal_of(session, user)
    return user.id, value_writer(session, principal)  # writable units worked out once


def _import_failed(error: DomainError) -> typer.Exit:
    for problem in error.errors[:50]:
        console.print(f"  {problem.message.vi}")
    return _fail(error)


@data_app.command("import")
def data_import(
    path: Annotated[Path, typer.Argument(help="Tệp .csv hoặc .xlsx / a .csv or .xlsx file")],
    username: AsUser,
    number_format: Annotated[
        str | None,
        typer.Option(
            "--number-format",
            help="vi (1.380,5) | en (1,380.5); mặc định theo tiêu đề tệp / default: the headers'",
        ),
    ] = None,
) -> None:
    """Nhập số liệu từ tệp, tất cả hoặc không gì / import a file of values, all or nothing."""
    from tinhso.monitoring.transfer.file_import import import_file  # noqa: PLC0415
    from tinhso.monitoring.values.number_format import NumberFormat  # noqa: PLC0415

    if number_format not in {None, "vi", "en"}:
        console.print("[red]--number-format: vi | en[/red]")
        raise typer.Exit(2)
    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine).begin() as session:
            user_id, authorise = _official(session, username)
            result = import_file(
                session,
                path.name,
                path.read_bytes(),
                user_id=user_id,
                authorise=authorise,
                number_format=NumberFormat(number_format) if number_format else None,
            )
    except DomainError as error:
        raise _import_failed(error) from error
    finally:
        engine.dispose()
    console.print(
        f"[green]OK[/green] {result.file_name}: rows={result.rows} inserted={result.inserted} "
        f"corrected={result.corrected} unchanged={result.unchanged}"
    )


@data_app.command("template")
def data_template(
    path: Annotated[Path, typer.Argument(help="Tệp mẫu .xlsx hoặc .csv / template file")],
    lang: Annotated[str, typer.Option(help="vi | en")] = "vi",
) -> None:
    """Tạo tệp mẫu nhập số liệu / write the import template."""
    from tinhso.monitoring.transfer.export import write_template  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine)() as session:
            path.write_bytes(write_template(session, _format(path), _lang(lang)))
    finally:
        engine.dispose()
    console.print(f"[green]OK[/green] {path}")


@data_app.command("export")
def data_export(
    path: Annotated[Path, typer.Argument(help="Tệp .xlsx hoặc .csv / output file")],
    element: Annotated[list[str] | None, typer.Option(help="Mã chỉ tiêu / element code")] = None,
    year: Annotated[int | None, typer.Option(help="Năm / year")] = None,
    unit_set: Annotated[str | None, typer.Option(help="current | legacy")] = None,
    lang: Annotated[str, typer.Option(help="vi | en")] = "vi",
) -> None:
    """Xuất số liệu đã nhập (nhập lại được) / export recorded values (re-importable)."""
    from tinhso.monitoring.transfer.export import write_table_to  # noqa: PLC0415
    from tinhso.monitoring.transfer.tables import values_table  # noqa: PLC0415
    from tinhso.registry.models import UnitSet  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine)() as session:
            table = values_table(
                session,
                _lang(lang),
                elements=element or (),
                unit_set=UnitSet(unit_set) if unit_set else None,
                year=year,
            )
            with path.open("wb") as out:  # rows are read and written one by one
                write_table_to(table, _format(path), _lang(lang), out)
    except DomainError as error:
        raise _fail(error) from error
    finally:
        engine.dispose()
    console.print(f"[green]OK[/green] {path}: {table.row_count:,} rows")


@data_app.command("dhis2-import")
def data_dhis2_import(
    path: Annotated[Path, typer.Argument(help="Tệp JSON dataValueSets / DHIS2 JSON file")],
    username: AsUser,
    unit_set: Annotated[str | None, typer.Option(help="current | legacy")] = None,
) -> None:
    """Nhập số liệu DHIS2 dataValueSets / import DHIS2 dataValueSets JSON."""
    import json  # noqa: PLC0415

    from tinhso.monitoring.transfer.dhis2 import import_data_value_set  # noqa: PLC0415
    from tinhso.registry.models import UnitSet  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        with make_sessionmaker(engine).begin() as session:
            user_id, authorise = _official(session, username)
            result = import_data_value_set(
                session,
                payload,
                name=path.name,
                user_id=user_id,
                authorise=authorise,
                default_unit_set=UnitSet(unit_set) if unit_set else None,
            )
    except json.JSONDecodeError as error:
        console.print(f"[red]JSON không hợp lệ / invalid JSON:[/red] {error}")
        raise typer.Exit(1) from error
    except DomainError as error:
        raise _import_failed(error) from error
    finally:
        engine.dispose()
    console.print(
        f"[green]OK[/green] imported={result.inserted} updated={result.corrected} "
        f"ignored={result.unchanged}"
    )


@data_app.command("dhis2-export")
def data_dhis2_export(
    path: Annotated[Path, typer.Argument(help="Tệp JSON / output JSON file")],
    unit_set: Annotated[str, typer.Option(help="current | legacy")] = "current",
    element: Annotated[list[str] | None, typer.Option(help="Mã chỉ tiêu / element code")] = None,
    year: Annotated[int | None, typer.Option(help="Năm / year")] = None,
) -> None:
    """Xuất số liệu dạng DHIS2 dataValueSets / export values as DHIS2 dataValueSets JSON."""
    import json  # noqa: PLC0415

    from tinhso.monitoring.transfer.dhis2 import export_data_value_set  # noqa: PLC0415
    from tinhso.registry.models import UnitSet  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine)() as session:
            document = export_data_value_set(
                session, unit_set=UnitSet(unit_set), elements=element or (), year=year
            )
    except DomainError as error:
        raise _fail(error) from error
    finally:
        engine.dispose()
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    console.print(f"[green]OK[/green] {path}: {len(document['dataValues']):,} values")


def _format(path: Path) -> Literal["csv", "xlsx"]:
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        console.print("[red]Tệp phải là .csv hoặc .xlsx / the file must be .csv or .xlsx[/red]")
        raise typer.Exit(2)
    return "csv" if suffix == ".csv" else "xlsx"


def _lang(lang: str) -> Literal["vi", "en"]:
    return "en" if lang == "en" else "vi"


boundaries_app = typer.Typer(
    help="Ranh giới đơn vị cho bản đồ / units' boundaries for the maps", no_args_is_help=True
)
monitoring_app.add_typer(boundaries_app, name="boundaries")


@boundaries_app.command("load")
def boundaries_load(
    path: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection, khoá theo mã đơn vị")],
    level: Annotated[str, typer.Option(help="province | commune")] = "province",
    parent: Annotated[
        str | None, typer.Option(help="Mã tỉnh khi tải ranh giới xã / a province's code")
    ] = None,
    unit_set: Annotated[
        str, typer.Option("--unit-set", help="current | legacy (bộ trước 01/07/2025)")
    ] = "current",
) -> None:
    """Tải ranh giới đơn vị / load the boundaries of a level's units (current set, or legacy)."""
    from tinhso.monitoring.maps.boundaries import load_upload  # noqa: PLC0415
    from tinhso.registry.models import UnitLevel, UnitSet  # noqa: PLC0415

    if level not in {"province", "district", "commune"}:
        console.print("[red]--level: province | district | commune[/red]")
        raise typer.Exit(2)
    if unit_set not in {"current", "legacy"}:
        console.print("[red]--unit-set: current | legacy[/red]")
        raise typer.Exit(2)
    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine).begin() as session:
            stored = load_upload(
                session,
                path.read_bytes(),
                path.name,
                UnitLevel(level),
                parent,
                unit_set=UnitSet(unit_set),
            )
    except DomainError as error:
        raise _import_failed(error) from error
    finally:
        engine.dispose()
    for vi, _en in stored.messages:
        console.print(f"  {vi}")
    console.print(f"[green]OK[/green] {path.name}: stored={stored.stored}")


@boundaries_app.command("synthetic")
def boundaries_synthetic(
    province: Annotated[str, typer.Argument(help="Mã tỉnh (bộ hiện hành) / a province's code")],
) -> None:
    """Ranh giới mô phỏng (Voronoi) cho các tỉnh và các xã của một tỉnh, nơi chưa có ranh giới
    thật / synthetic boundaries where no real one was uploaded."""
    from tinhso.monitoring.maps.boundaries import load_synthetic  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        with make_sessionmaker(engine).begin() as session:
            stored = load_synthetic(session, province)
    except DomainError as error:
        raise _fail(error) from error
    finally:
        engine.dispose()
    console.print(f"[green]OK[/green] synthetic={stored.stored}")
