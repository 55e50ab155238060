"""`tinhso` commands of the exchange domain (control plane: signing keys, overdue requests).

The data-plane commands (`tinhso gateway`, `tinhso audit ...`) are added to the same ``app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from tinhso.core.commands import failure as _fail
from tinhso.core.commands import settings_or_exit as _settings
from tinhso.core.db import engine_from_settings, make_sessionmaker, utcnow
from tinhso.core.errors import DomainError
from tinhso.exchange import repository
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import KeyStatus
from tinhso.exchange.notices import announce_changes

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tinhso.core.config import Settings

app = typer.Typer(no_args_is_help=True)
keys_app = typer.Typer(
    help="Khóa ký của nền tảng (Ed25519) / platform signing keys", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")

console = Console(stderr=True)


def _changing_sessions(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    """Sessions whose committed registry changes are also announced on Redis (if set)."""
    sessions = make_sessionmaker(engine)
    announce_changes(sessions, settings.redis_url)
    return sessions


@keys_app.command("list")
def keys_list() -> None:
    """Liệt kê khóa ký / list signing keys."""
    settings = _settings()
    engine = engine_from_settings(settings)
    with make_sessionmaker(engine)() as session:
        table = Table("kid", "status", "created", "activated", "published until")
        for key in repository.signing_keys(session, set(KeyStatus)):
            table.add_row(
                key.kid,
                key.status.value,
                f"{key.created_at:%d/%m/%Y %H:%M}",
                f"{key.activated_at:%d/%m/%Y %H:%M}" if key.activated_at else "-",
                f"{key.retire_after:%d/%m/%Y %H:%M}" if key.retire_after else "-",
            )
        Console().print(table)
    engine.dispose()


@keys_app.command("ensure")
def keys_ensure() -> None:
    """Tạo khóa đầu tiên nếu chưa có / create the first key if there is none."""
    settings = _settings()
    engine = engine_from_settings(settings)
    with _changing_sessions(engine, settings).begin() as session:
        key = signing_key_service.ensure_active(session, settings)
        console.print(f"[green]OK[/green] active key {key.kid}")
    engine.dispose()


@keys_app.command("rotate")
def keys_rotate(
    promote: bool = typer.Option(
        False,  # noqa: FBT003
        "--promote",
        help="Kích hoạt ngay khóa kế tiếp đang chờ / promote the waiting next key now",
    ),
) -> None:
    """Xoay khóa: tạo khóa kế tiếp (công bố trước khi ký), hoặc kích hoạt nó với --promote.

    Rotate: create the next key (published in JWKS before it signs); run again with --promote
    once gateways and relying parties have fetched it (a few minutes). The old key stays in
    JWKS until every token it signed has expired.
    """
    settings = _settings()
    engine = engine_from_settings(settings)
    try:
        with _changing_sessions(engine, settings).begin() as session:
            if promote:
                key = signing_key_service.promote(session, settings)
                console.print(f"[green]OK[/green] {key.kid} is now active")
            else:
                signing_key_service.ensure_active(session, settings)
                key = signing_key_service.rotate(session, settings)
                console.print(
                    f"[green]OK[/green] next key {key.kid} published; "
                    "promote it with `tinhso keys rotate --promote`"
                )
    except DomainError as error:
        raise _fail(error) from error
    finally:
        engine.dispose()


@app.command("overdue-requests")
def overdue_requests() -> None:
    """Yêu cầu kết nối quá hạn trả lời / connection requests past their due date."""
    settings = _settings()
    engine = engine_from_settings(settings)
    with make_sessionmaker(engine)() as session:
        rows = list(session.scalars(repository.requests_query(overdue_at=utcnow())))
        labels = repository.system_labels(session, {row.consumer_system_id for row in rows})
        table = Table("id", "consumer", "service id", "due (UTC)")
        for row in rows:
            table.add_row(
                str(row.id),
                "/".join(labels[row.consumer_system_id]),
                str(row.service_id),
                f"{row.due_at:%d/%m/%Y %H:%M}",
            )
        Console().print(table)
    engine.dispose()


# -- data plane: gateway and audit log ------------------------------------------------------------
audit_app = typer.Typer(
    help="Nhật ký kiểm toán trao đổi (chuỗi băm) / exchange audit log (hash chain)",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


@app.command("gateway")
def gateway(
    host: str = typer.Option("127.0.0.1", "--host", help="Địa chỉ lắng nghe / listen address"),
    port: int = typer.Option(8080, "--port", help="Cổng / port"),
    workers: int = typer.Option(2, "--workers", min=1, help="Số tiến trình / worker processes"),
) -> None:
    """Chạy cổng trao đổi dữ liệu (data plane) / run the exchange gateway."""
    from tinhso.exchange.gateway import serve  # noqa: PLC0415 - only when serving

    _settings()  # fail early, with the root CLI's message, on bad settings
    try:
        status = serve(host, port, workers)
    except OSError as error:  # the port is taken, the address is not this host's, ...
        console.print(
            f"[red]Không thể lắng nghe trên {host}:{port} (--host/--port)[/red] / "
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        )
        raise typer.Exit(2) from None
    if status:
        raise typer.Exit(status)


@audit_app.command("verify")
def audit_verify() -> None:
    """Kiểm tra chuỗi băm và các điểm kiểm tra đã ký / prove the chain and signed checkpoints."""
    from tinhso.exchange import audit_proof  # noqa: PLC0415

    engine = engine_from_settings(_settings())
    try:
        result = audit_proof.verify(engine)
    finally:
        engine.dispose()
    if result.ok:
        console.print(
            f"[green]OK[/green] {result.records} bản ghi / records, "
            f"{result.checkpoints} điểm kiểm tra / checkpoints, head seq {result.head_seq}"
        )
        return
    if result.bad_checkpoint_id is not None:
        console.print(
            f"[red]Điểm kiểm tra {result.bad_checkpoint_id} không hợp lệ[/red] / "
            f"checkpoint {result.bad_checkpoint_id} is invalid"
        )
    else:
        console.print(
            f"[red]Chuỗi bị phá vỡ tại bản ghi seq={result.first_broken_seq}[/red] / "
            f"chain broken at record seq={result.first_broken_seq} ({result.reason})"
        )
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    start: str = typer.Option(..., "--from", help="Từ (ISO 8601, UTC) / from, inclusive"),
    end: str = typer.Option(..., "--to", help="Đến (ISO 8601, UTC) / to, exclusive"),
    out: str = typer.Option(..., "--out", help="Tệp JSON / output JSON file"),
) -> None:
    """Xuất một khoảng bản ghi kèm bằng chứng / export a range with its proof."""
    import json  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from tinhso.exchange import audit_proof  # noqa: PLC0415

    def moment(value: str) -> datetime:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    engine = engine_from_settings(_settings())
    try:
        document = audit_proof.export(engine, moment(start), moment(end))
    finally:
        engine.dispose()
    Path(out).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"[green]OK[/green] {len(document['records'])} records -> {out}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Ký ngay một điểm kiểm tra / sign a checkpoint of the chain head now."""
    from tinhso.exchange import audit  # noqa: PLC0415

    settings = _settings()
    engine = engine_from_settings(settings)
    try:
        signed = audit.write_checkpoint(engine, settings)
    finally:
        engine.dispose()
    if signed is None:
        console.print("Nhật ký trống / the log is empty")
        return
    console.print(f"[green]OK[/green] checkpoint at seq {signed[0]} ({signed[1][:16]}…)")
