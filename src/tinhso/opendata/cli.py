"""`tinhso opendata`: publish the monitoring indicators marked for open data now (the worker
does it every 15 minutes)."""

from __future__ import annotations

import typer

from tinhso.core.commands import console, settings_or_exit
from tinhso.core.commands import database as _database
from tinhso.core.commands import failure as _fail
from tinhso.core.db import make_sessionmaker
from tinhso.core.errors import DomainError
from tinhso.opendata.publishing.indicators import publish_indicators

opendata_app = typer.Typer(help="Dữ liệu mở / open data", no_args_is_help=True)


@opendata_app.command("publish-indicators")
def publish_indicators_command() -> None:
    """Công bố chỉ số thành dữ liệu mở / publish indicators as open data."""
    settings = settings_or_exit()
    try:
        with _database(settings) as engine, make_sessionmaker(engine).begin() as session:
            done = publish_indicators(session, settings.data_dir)
    except DomainError as error:
        raise _fail(error) from error
    console.print(
        f"Tạo mới {len(done.created)}, cập nhật {len(done.refreshed)}, không đổi "
        f"{len(done.unchanged)}; {len(done.withdrawn)} bộ của chỉ số không còn công bố / "
        + done.summary()
    )
