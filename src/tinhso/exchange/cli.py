"""`tinhso` commands of the exchange domain (control plane: signing keys, overdue requests).

The data-plane commands (`tinhso gateway`, `tinhso audit ...`) are added to the same ``app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from tinhso.core.commands import console, output
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
    from tinhso.exchange.audit.chain import CheckpointHead
    from tinhso.exchange.audit.proof import VerifyResult

app = typer.Typer(no_args_is_help=True)
keys_app = typer.Typer(
    help="Khóa ký của nền tảng (Ed25519) / platform signing keys", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


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
        output.print(table)
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
        output.print(table)
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
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Số tiến trình / worker processes (mặc định / default: TINHSO_GATEWAY_WORKERS)",
    ),
) -> None:
    """Chạy cổng trao đổi dữ liệu (data plane) / run the exchange gateway."""
    from tinhso.core.logging import configure_logging  # noqa: PLC0415
    from tinhso.exchange.gateway.app import serve  # noqa: PLC0415 - only when serving

    settings = _settings()  # fail early, with the root CLI's message, on bad settings
    # Before the workers are forked: they inherit it (each line carries its own pid).
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        status = serve(host, port, workers or settings.gateway.workers)
    except OSError as error:  # the port is taken, the address is not this host's, ...
        console.print(
            f"[red]Không thể lắng nghe trên {host}:{port} (--host/--port)[/red] / "
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        )
        raise typer.Exit(2) from None
    if status:
        raise typer.Exit(status)


def _witnessed_heads(settings: Settings, files: list[str]) -> list[tuple[str, CheckpointHead]]:
    """Checkpoint heads witnessed outside the database: this node's disk, Redis, ``files``."""
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from tinhso.exchange.audit import witness as audit_witness  # noqa: PLC0415

    heads: list[tuple[str, CheckpointHead]] = []
    local = audit_witness.node_witness_path(settings.data_dir)
    try:
        head = audit_witness.read_head(local)
    except ValueError as error:
        console.print(f"[red]Tệp chứng kiến hỏng[/red] / unreadable witness {local}: {error}")
        raise typer.Exit(1) from None
    if head is not None:
        heads.append((str(local), head))
    if settings.redis_url:
        try:
            head = audit_witness.redis_head(settings.redis_url)
        except Exception as error:
            console.print(
                "[yellow]Không đọc được điểm kiểm tra trên Redis[/yellow] / "
                f"could not read the witnessed head in Redis: {type(error).__name__}"
            )
        else:
            if head is not None:
                heads.append(("Redis " + audit_witness.REDIS_KEY, head))
    for name in files:
        try:
            head = audit_witness.head_of(json.loads(Path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            console.print(f"[red]Không đọc được --witness {name}[/red] / cannot read it: {error}")
            raise typer.Exit(1) from None
        heads.append((name, head))
    return heads


@audit_app.command("verify")
def audit_verify(
    witness: list[str] = typer.Option(  # noqa: B008 - typer's way
        [],
        "--witness",
        help=(
            "Tệp điểm kiểm tra do bên thứ ba giữ (`tinhso audit witness`) / a head kept by a "
            "third party (repeatable)"
        ),
    ),
) -> None:
    """Kiểm tra chuỗi băm, điểm kiểm tra đã ký và điểm đã chứng kiến / prove the chain.

    Proves the chain, its numbered signed checkpoints, and that the database still holds every
    head witnessed outside it (this node's disk, Redis, --witness files). Exit 1: broken or
    cut short; exit 2: the chain is sound but answered exchanges are still in this node's
    spool, not yet in it.
    """
    from tinhso.exchange.audit import proof as audit_proof  # noqa: PLC0415
    from tinhso.exchange.audit.log import spooled_records  # noqa: PLC0415

    settings = _settings()
    heads = _witnessed_heads(settings, witness)
    engine = engine_from_settings(settings)
    try:
        result = audit_proof.verify(engine, heads)
    finally:
        engine.dispose()
    if not result.ok:
        console.print(_broken(result))
        raise typer.Exit(1)
    console.print(
        f"[green]OK[/green] {result.records} bản ghi / records, "
        f"{result.checkpoints} điểm kiểm tra / checkpoints, head seq {result.head_seq}, "
        f"{result.witnesses} điểm đã chứng kiến / witnessed heads"
    )
    spooled = spooled_records(settings.data_dir)
    if spooled:
        total = sum(spooled.values())
        console.print(
            f"[yellow]Chưa đủ: {total} bản ghi còn nằm trong spool của nút này, chưa vào "
            f"chuỗi[/yellow] / incomplete: {total} answered exchanges are still spooled on this "
            "node, not yet in the chain:"
        )
        for path, count in spooled.items():
            console.print(f"  {path}: {count}")
        raise typer.Exit(2)


def _broken(result: VerifyResult) -> str:
    where = f" ({result.witness})" if result.witness else ""
    if result.reason == "truncated":
        return (
            f"[red]Chuỗi bị cắt: kết thúc ở seq={result.head_seq}, trước điểm kiểm tra đã chứng "
            f"kiến tại seq={result.witnessed_seq}[/red]{where} / the chain was cut short: it ends "
            f"at seq={result.head_seq}, before the witnessed head at seq={result.witnessed_seq}"
        )
    if result.reason == "checkpoint_missing":
        return (
            f"[red]Thiếu điểm kiểm tra số {result.missing_checkpoint}[/red]{where} / "
            f"checkpoint number {result.missing_checkpoint} is missing"
        )
    if result.reason == "witness_mismatch":
        return (
            f"[red]Bản ghi seq={result.witnessed_seq} khác với điểm đã chứng kiến[/red]{where} / "
            f"the record at seq={result.witnessed_seq} differs from the witnessed head"
        )
    if result.reason == "witness_unverifiable":
        return (
            f"[red]Điểm đã chứng kiến không có chữ ký hợp lệ của khóa nào trong cơ sở dữ liệu"
            f"[/red]{where} / the witnessed head is not signed by any key in the database"
        )
    if result.bad_checkpoint_id is not None:
        return (
            f"[red]Điểm kiểm tra {result.bad_checkpoint_id} không hợp lệ[/red] / "
            f"checkpoint {result.bad_checkpoint_id} is invalid"
        )
    return (
        f"[red]Chuỗi bị phá vỡ tại bản ghi seq={result.first_broken_seq}[/red] / "
        f"chain broken at record seq={result.first_broken_seq} ({result.reason})"
    )


@audit_app.command("witness")
def audit_witness_export(
    out: str = typer.Option(..., "--out", help="Tệp JSON / output JSON file"),
) -> None:
    """Xuất điểm kiểm tra mới nhất để bên thứ ba lưu giữ / export the newest head for a witness.

    The newest signed checkpoint (of the database and of this node's disk) with the public
    key that signed it. Whoever keeps it can later run `tinhso audit verify --witness FILE`:
    the database's chain must still reach it.
    """
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from sqlalchemy import select  # noqa: PLC0415

    from tinhso.exchange.audit import witness as audit_witness  # noqa: PLC0415
    from tinhso.exchange.audit.chain import CheckpointHead, timestamp  # noqa: PLC0415
    from tinhso.exchange.models import AuditCheckpoint, SigningKey  # noqa: PLC0415

    settings = _settings()
    engine = engine_from_settings(settings)
    try:
        with make_sessionmaker(engine)() as session:
            row = session.scalars(
                select(AuditCheckpoint).order_by(AuditCheckpoint.number.desc()).limit(1)
            ).first()
            heads = [head for _, head in _witnessed_heads(settings, [])]
            if row is not None:
                heads.append(
                    CheckpointHead(
                        row.number,
                        row.last_seq,
                        row.last_hash,
                        timestamp(row.signed_at),
                        row.kid,
                        row.signature,
                    )
                )
            if not heads:
                console.print("Chưa có điểm kiểm tra / there is no checkpoint yet")
                raise typer.Exit(1)
            head = max(heads, key=lambda h: h.number)
            jwk = session.scalar(select(SigningKey.public_jwk).where(SigningKey.kid == head.kid))
    finally:
        engine.dispose()
    if jwk is None or not head.signature_valid(dict(jwk)):
        console.print(
            f"[red]Điểm kiểm tra số {head.number} không có chữ ký hợp lệ[/red] / "
            f"checkpoint {head.number} is not validly signed"
        )
        raise typer.Exit(1)
    text = json.dumps(audit_witness.document(head, dict(jwk)), ensure_ascii=False, indent=1)
    Path(out).write_text(text, encoding="utf-8")
    console.print(f"[green]OK[/green] checkpoint {head.number} (seq {head.last_seq}) -> {out}")


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

    from tinhso.exchange.audit import proof as audit_proof  # noqa: PLC0415

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
    from tinhso.exchange.audit import chain as audit  # noqa: PLC0415
    from tinhso.exchange.audit.witness import NodeWitness  # noqa: PLC0415

    settings = _settings()
    engine = engine_from_settings(settings)
    try:
        signed = audit.write_checkpoint(
            engine, settings, NodeWitness(settings.data_dir, settings.redis_url)
        )
    finally:
        engine.dispose()
    if signed is None:
        console.print("Nhật ký trống / the log is empty")
        return
    console.print(
        f"[green]OK[/green] checkpoint {signed.number} at seq {signed.last_seq} "
        f"({signed.last_hash[:16]}…)"
    )
