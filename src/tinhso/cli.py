"""The one `tinhso` command."""

from __future__ import annotations

import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tinhso.core import generations, migrations
from tinhso.core.calendar import VIETNAM
from tinhso.core.calendar_commands import calendar_app
from tinhso.core.commands import console, output
from tinhso.core.commands import database as _database
from tinhso.core.commands import failure as _fail
from tinhso.core.commands import settings_or_exit as _settings
from tinhso.core.config import displayed_settings
from tinhso.core.db import make_sessionmaker
from tinhso.core.errors import DomainError
from tinhso.core.storage import StorageUnavailable
from tinhso.models import metadata
from tinhso.opendata.catalogue.storage import resource_store
from tinhso.opendata.cli import opendata_app
from tinhso.reports.cli import reports_app
from tinhso.reports.media.storage import media_store

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings
    from tinhso.core.jobs.runner import Job, JobRunner

app = typer.Typer(help="tinhso — Tỉnh số: nền tảng chuyển đổi số cấp tỉnh", no_args_is_help=True)
db_app = typer.Typer(help="Cơ sở dữ liệu / database", no_args_is_help=True)
units_app = typer.Typer(help="Đơn vị hành chính / administrative units", no_args_is_help=True)
config_app = typer.Typer(help="Cấu hình / configuration", no_args_is_help=True)
jobs_app = typer.Typer(help="Công việc định kỳ / scheduled jobs", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(config_app, name="config")
app.add_typer(jobs_app, name="jobs")
app.add_typer(calendar_app, name="calendar")
app.add_typer(reports_app, name="reports")
app.add_typer(opendata_app, name="opendata")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Địa chỉ lắng nghe / bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Cổng / port")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Số tiến trình phục vụ / worker processes (TINHSO_SERVE_WORKERS, mặc định 1)",
        ),
    ] = None,
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
    _check_storage(settings)
    count = workers or settings.serve_workers
    # With several, each worker process makes its own app (its engine, its kept figures) from
    # the same settings (environment, .env); what they keep is checked against the generations
    # in the database, so no process shows a figure another has seen change.
    uvicorn.run(
        create_app(settings) if count == 1 else "tinhso.app:create_app",
        factory=count > 1,
        workers=count if count > 1 else None,
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
        # what a migration changed was not seen by any running process's kept figures
        with make_sessionmaker(engine).begin() as session:
            generations.renew_all(session)
    console.print(f"[green]OK[/green] {', '.join(sorted(revisions))}")


@db_app.command("changed")
def db_changed() -> None:
    """Báo dữ liệu đã ghi ngoài tinhso (COPY, khôi phục) / announce data written outside tinhso.

    Every figure a running process keeps (plan progress, rankings, map values) is computed
    again on its next request; run it after a bulk ``COPY`` or a restore into a live database.
    """
    with _database() as engine, make_sessionmaker(engine).begin() as session:
        generations.renew_all(session)
    console.print("[green]OK[/green]")


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
            load_demo(
                session, admin_password=password, progress=report, files=resource_store(settings)
            )
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


def _check_storage(settings: Settings) -> None:
    """The file store answers (S3: the bucket exists and these credentials reach it; on disk:
    open data's and field reports' folders can be made)."""
    try:
        resource_store(settings).check()
        media_store(settings).check()
    except StorageUnavailable as error:
        console.print(
            f"[red]Kho tệp / file storage ({settings.storage.backend}):[/red] "
            f"{error.message.vi} / {error.message.en}",
        )
        raise typer.Exit(1) from error


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
    _check_storage(settings)
    console.print(f"storage reachable: {settings.storage.backend}")
    if settings.environment == "production" and not settings.base_url.startswith("https://"):
        console.print("[yellow]Cảnh báo / warning: base_url should be https in production[/yellow]")


def _hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


# --- jobs: `tinhso worker` runs every domain's jobs ------------------------------------------
def _domain_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    """Every domain's jobs this worker can run, and why any other cannot."""
    from tinhso.core.jobs.platform import platform_jobs  # noqa: PLC0415
    from tinhso.monitoring.jobs import monitoring_jobs  # noqa: PLC0415
    from tinhso.opendata.jobs import opendata_jobs  # noqa: PLC0415
    from tinhso.reports.figures.provider import install  # noqa: PLC0415
    from tinhso.reports.jobs import reports_jobs  # noqa: PLC0415

    install()  # monitoring.alerts evaluates field-report rules through reports' figures
    jobs: list[Job] = []
    reasons: list[str] = []
    for domain_jobs in (platform_jobs, monitoring_jobs, reports_jobs, opendata_jobs):
        found, skipped = domain_jobs(engine, settings)
        jobs += found
        reasons += skipped
    return jobs, reasons


def _vietnam_time(moment: datetime | None) -> str:
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M") if moment else "—"


@app.command()
def worker(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Chạy mỗi công việc một lần rồi dừng / run each job once, exit"
        ),
    ] = False,
    poll_seconds: Annotated[
        float | None,
        typer.Option(
            min=0.2,
            help="Giây giữa các lần xét / seconds between polls (TINHSO_WORKER_POLL_SECONDS)",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--job", help="Chỉ chạy công việc này / run only this job (repeatable)"),
    ] = None,
) -> None:
    """Chạy các công việc định kỳ của mọi miền / run every domain's scheduled jobs."""
    import asyncio  # noqa: PLC0415

    from tinhso.core.jobs.runner import JobRunner  # noqa: PLC0415
    from tinhso.core.logging import configure_logging  # noqa: PLC0415

    settings = _settings()
    configure_logging(settings.log_level, json=settings.log_json)
    _check_storage(settings)  # opendata.publish_indicators writes resource files
    with _database(settings) as engine:
        jobs, reasons = _domain_jobs(engine, settings)
        if only:
            unknown = [name for name in only if name not in {job.name for job in jobs}]
            for name in unknown:
                why = [r for r in reasons if r.startswith(f"{name}:")]
                console.print(
                    f"[red]Lỗi [job]:[/red] {why[0] if why else f'không có công việc {name}'}"
                    + ("" if why else f"\n[red]Error [job]:[/red] no job named {name}")
                )
            if unknown:
                raise typer.Exit(2)
            jobs = [job for job in jobs if job.name in only]
            reasons = []
        for reason in reasons:
            console.print(f"[yellow]Bỏ qua / skipped:[/yellow] {reason}")
        if not jobs:
            console.print("[red]Không có công việc nào chạy được / no job can run[/red]")
            raise typer.Exit(2)
        runner = JobRunner(engine, jobs)
        runner.register()
        if not once:
            asyncio.run(_work(runner, poll_seconds or settings.worker.poll_seconds))
            return
        for job in jobs:
            runner.run_now(job.name)
        outcomes = asyncio.run(runner.run_due())
    for outcome in outcomes:
        if outcome.status == "succeeded":
            console.print(f"[green]OK[/green] {outcome.job}: {outcome.summary or ''}")
        else:
            console.print(f"[red]LỖI / FAILED[/red] {outcome.job}: {outcome.error}")
    if any(outcome.status != "succeeded" for outcome in outcomes):
        raise typer.Exit(1)


async def _work(runner: JobRunner, poll_seconds: float) -> None:
    import asyncio  # noqa: PLC0415
    import contextlib  # noqa: PLC0415
    import signal  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await runner.run_forever(poll_seconds, stop)


@jobs_app.command("list")
def jobs_list() -> None:
    """Các công việc, lịch, lần chạy gần nhất và lỗi / jobs, schedules, last runs, failures."""
    from rich.table import Table  # noqa: PLC0415

    from tinhso.core.jobs.runner import job_views  # noqa: PLC0415

    with _database() as engine, make_sessionmaker(engine)() as session:
        views = job_views(session, recent=1)
    table = Table(
        "Công việc / job", "Lịch / schedule", "Lần tới / next", "Lần cuối / last", "Lỗi / error"
    )
    for view in views:
        job = view.job
        last = f"{job.last_status or '—'} {_vietnam_time(job.last_finished_at)}"
        if job.failures:
            last += f" ({job.failures}×)"
        table.add_row(
            f"{job.name}\n{job.title_vi}",
            view.schedule.describe("vi"),
            _vietnam_time(job.next_run_at),
            last,
            (job.last_error or "")[:200],
        )
    output.print(table)
    if not views:
        console.print(
            "Chưa có công việc nào; chạy `tinhso worker` / no job yet; run `tinhso worker`"
        )


@jobs_app.command("run-now")
def jobs_run_now(name: Annotated[str, typer.Argument(help="Tên công việc / job name")]) -> None:
    """Cho công việc chạy ngay ở lần xét tới của worker / run a job at the worker's next poll."""
    from tinhso.core.jobs.runner import make_due  # noqa: PLC0415

    with _database() as engine, make_sessionmaker(engine).begin() as session:
        found = make_due(session, name)
    if not found:
        console.print(
            f"[red]Lỗi [name]:[/red] không có công việc {name}\n[red]Error [name]:[/red] no job named {name}"
        )
        raise typer.Exit(1)
    console.print(f"[green]OK[/green] {name}: chạy ở lần xét tới / runs at the next poll")


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
