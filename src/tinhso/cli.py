"""The one `tinhso` command."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tinhso.core import migrations
from tinhso.core.commands import console
from tinhso.core.commands import database as _database
from tinhso.core.commands import failure as _fail
from tinhso.core.commands import settings_or_exit as _settings
from tinhso.core.config import displayed_settings
from tinhso.core.db import make_sessionmaker
from tinhso.core.errors import DomainError
from tinhso.models import metadata

app = typer.Typer(help="tinhso — Tỉnh số: nền tảng chuyển đổi số cấp tỉnh", no_args_is_help=True)
db_app = typer.Typer(help="Cơ sở dữ liệu / database", no_args_is_help=True)
units_app = typer.Typer(help="Đơn vị hành chính / administrative units", no_args_is_help=True)
config_app = typer.Typer(help="Cấu hình / configuration", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(config_app, name="config")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Địa chỉ lắng nghe / bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Cổng / port")] = None,
) -> None:
    """Chạy control plane (API + cổng thông tin) / run the control plane."""
    import uvicorn  # noqa: PLC0415

    from tinhso.app import create_app  # noqa: PLC0415

    settings = _settings()
    with _database(settings) as engine:
        up_to_date = migrations.is_up_to_date(engine)
    if not up_to_date:
        console.print(
            "[red]Cơ sở dữ liệu chưa được nâng cấp: chạy `tinhso db upgrade` / run `tinhso db upgrade`[/red]"
        )
        raise typer.Exit(1)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,  # RequestContextMiddleware logs each request once, as JSON
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Áp dụng các migration / apply migrations."""
    with _database() as engine:
        migrations.upgrade(engine)
        revisions = migrations.current_revisions(engine)
    console.print(f"[green]OK[/green] {', '.join(sorted(revisions))}")


@db_app.command("check")
def db_check() -> None:
    """Kiểm tra CSDL đã nâng cấp và khớp với mô hình / check migrations are applied and match the models."""
    with _database() as engine:
        up_to_date = migrations.is_up_to_date(engine)
        drift = migrations.model_drift(engine, metadata) if up_to_date else []
    if not up_to_date:
        console.print("[red]Chưa nâng cấp / not at head: run `tinhso db upgrade`[/red]")
        raise typer.Exit(1)
    if drift:
        console.print("[red]Mô hình và migration lệch nhau / models and migrations differ:[/red]")
        for diff in drift:
            console.print(f"  {diff}")
        raise typer.Exit(1)
    console.print("[green]OK[/green]")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@units_app.command("import")
def units_import() -> None:
    """Nạp đơn vị hành chính (34 tỉnh mới, 63 tỉnh cũ, bảng chuyển đổi) / load administrative units."""
    from tinhso.registry.units import unit_service  # noqa: PLC0415

    with (
        _database() as engine,
        _progress() as progress,
        make_sessionmaker(engine).begin() as session,
    ):
        task = progress.add_task("Đơn vị hành chính / units", total=None)

        def report(step: str, count: int) -> None:
            progress.update(task, advance=count, description=f"Đơn vị hành chính / units: {step}")

        result = unit_service.import_catalogue(session, report)
    console.print(
        f"[green]OK[/green] current={result.current_units:,} legacy={result.legacy_units:,} "
        f"successions={result.successions:,} inserted={result.inserted:,} updated={result.updated:,}"
    )


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="Tên đăng nhập / username")],
    full_name: Annotated[
        str, typer.Option("--full-name", help="Họ và tên / full name")
    ] = "Quản trị viên",
    email: Annotated[str | None, typer.Option(help="Email")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="Mật khẩu (bỏ trống để nhập) / password (prompted if omitted)",
            envvar="TINHSO_ADMIN_PASSWORD",
        ),
    ] = None,
) -> None:
    """Tạo quản trị viên nền tảng / create a platform administrator."""
    from tinhso.registry.accounts import account_service  # noqa: PLC0415
    from tinhso.registry.schemas import UserCreate  # noqa: PLC0415

    if password is None:
        password = typer.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, full_name=full_name, email=email, password=password)
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(p) for p in problem["loc"])
            console.print(f"[red]Trường {field} / field {field}:[/red] {problem['msg']}")
        raise typer.Exit(2) from error
    try:
        with _database() as engine, make_sessionmaker(engine).begin() as session:
            account_service.create(session, data, platform_admin=True)
    except DomainError as error:
        raise _fail(error) from error
    console.print(f"[green]OK[/green] {data.username}")


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Cổng / port")] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Chạy máy chủ sau khi nạp / serve afterwards")
    ] = True,
) -> None:
    """Nạp dữ liệu mẫu vào SQLite và chạy / load demo data on SQLite and serve it."""
    from tinhso.demo import load_demo  # noqa: PLC0415
    from tinhso.exchange.notices import announce_changes  # noqa: PLC0415

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    password_file = settings.data_dir / "demo-admin-password.txt"
    password = _demo_password(password_file)
    with _database(settings) as engine, _progress() as progress:
        migrations.upgrade(engine)
        task = progress.add_task("Dữ liệu mẫu / demo data", total=None)

        def report(step: str, count: int) -> None:
            progress.update(task, advance=count, description=f"Dữ liệu mẫu / demo data: {step}")

        sessions = make_sessionmaker(engine)
        announce_changes(sessions, settings.redis_url)  # exchange registry notices (Redis)
        with sessions.begin() as session:
            load_demo(session, admin_password=password, progress=report)
    url = f"http://{settings.host}:{port or settings.port}"
    console.print(
        f"[green]Sẵn sàng / ready[/green]: {url}  API: {url}/api/docs\n"
        f"Đăng nhập / log in: admin / {password}  (lưu tại / saved in {password_file})"
    )
    if serve_after:
        serve(host=None, port=port)


def _demo_password(path: Path) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return password


@config_app.command("check")
def config_check() -> None:
    """Kiểm tra cấu hình (không in bí mật) / validate configuration (secrets are not printed)."""
    settings = _settings()
    for name, shown in displayed_settings(settings):
        console.print(f"{name} = {shown}", markup=False, highlight=False)
    try:
        with _database(settings) as engine:
            up_to_date = migrations.is_up_to_date(engine)
    except Exception as error:
        console.print(
            f"[red]Không kết nối được CSDL / database unreachable:[/red] {type(error).__name__}"
        )
        raise typer.Exit(1) from error
    console.print(f"database migrated: {up_to_date}")
    if settings.environment == "production" and not settings.base_url.startswith("https://"):
        console.print("[yellow]Cảnh báo / warning: base_url should be https in production[/yellow]")


def _add_domain_commands() -> None:
    from tinhso.exchange.cli import app as exchange_cli  # noqa: PLC0415
    from tinhso.monitoring.cli import app as monitoring_cli  # noqa: PLC0415

    # Domain commands are registered on the root command (e.g. `tinhso gateway`,
    # `tinhso audit verify`, `tinhso worker`, `tinhso monitoring data`).
    for domain_cli in (exchange_cli, monitoring_cli):
        for command in domain_cli.registered_commands:
            app.registered_commands.append(command)
        for group in domain_cli.registered_groups:
            app.registered_groups.append(group)


_add_domain_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
