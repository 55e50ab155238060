"""`tinhso reports`: Open311 API keys of client applications (issue, list, revoke).

``tinhso reports api-key create NAME`` prints the new key as the last word of its output; the
key is shown only then (only its hash is stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from tinhso.core.commands import console
from tinhso.core.commands import database as _database
from tinhso.core.commands import failure as _fail
from tinhso.core.db import make_sessionmaker
from tinhso.core.errors import DomainError
from tinhso.reports.figures import indicators
from tinhso.reports.open311 import keys

reports_app = typer.Typer(help="Phản ánh hiện trường / citizen field reports", no_args_is_help=True)
api_key_app = typer.Typer(
    help="Khoá Open311 của ứng dụng / Open311 API keys of applications", no_args_is_help=True
)
reports_app.add_typer(api_key_app, name="api-key")


@api_key_app.command("create")
def api_key_create(
    name: Annotated[str, typer.Argument(help="Tên ứng dụng / the application's name")],
) -> None:
    """Cấp khoá mới (chỉ hiện một lần) / issue a key (shown once)."""
    try:
        with _database() as engine, make_sessionmaker(engine).begin() as session:
            issued = keys.issue(session, name)
            key_id = issued.record.id
    except DomainError as error:
        raise _fail(error) from error
    console.print(
        f"Đã cấp khoá số {key_id} cho “{name}”; lưu lại ngay, khoá không hiện lại / "
        f"key {key_id} issued for “{name}”; store it now, it is not shown again:",
        markup=False,
        highlight=False,
    )
    console.print(issued.key, markup=False, highlight=False, soft_wrap=True)


@api_key_app.command("list")
def api_key_list() -> None:
    """Liệt kê khoá / list the keys."""
    with _database() as engine, make_sessionmaker(engine)() as session:
        for record in keys.listed(session):
            state = (
                f"thu hồi / revoked {record.revoked_at:%d/%m/%Y}"
                if record.revoked_at
                else "đang dùng / active"
            )
            console.print(
                f"{record.id}\t{record.prefix}…\t{record.name}\t{state}",
                markup=False,
                highlight=False,
            )


@api_key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[int, typer.Argument(help="Số khoá / the key's number")],
) -> None:
    """Thu hồi khoá / revoke a key."""
    try:
        with _database() as engine, make_sessionmaker(engine).begin() as session:
            record = keys.revoke(session, key_id)
            name = record.name
    except DomainError as error:
        raise _fail(error) from error
    console.print(f"Đã thu hồi khoá của “{name}” / revoked the key of “{name}”", markup=False)


@reports_app.command("publish-statistics")
def publish_statistics(
    month: Annotated[
        str | None, typer.Option(help="mm/yyyy; mặc định tháng trước / default: last month")
    ] = None,
) -> None:
    """Đưa số liệu phản ánh của một tháng vào giám sát / write a month's figures to monitoring."""
    try:
        chosen = (
            datetime.strptime(month, "%m/%Y").date()  # noqa: DTZ007 - a calendar month
            if month
            else indicators.previous_month()
        )
    except ValueError as error:
        raise typer.BadParameter(f"mm/yyyy: {month}", param_hint="--month") from error
    try:
        with _database() as engine, make_sessionmaker(engine).begin() as session:
            written = indicators.publish_month(session, chosen)
    except DomainError as error:
        raise _fail(error) from error
    console.print(
        f"Đã ghi {written} số liệu tháng {chosen:%m/%Y} / wrote {written} values for {chosen:%m/%Y}",
        markup=False,
    )
