"""`tinhso opendata`: publish the monitoring indicators marked for open data now (the worker
does it every 15 minutes); `tinhso opendata storage gc`: the resource files no resource refers
to any more (replaced versions, orphans of failed transactions), listed or deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from tinhso.core.commands import console, output, settings_or_exit
from tinhso.core.commands import database as _database
from tinhso.core.commands import failure as _fail
from tinhso.core.db import make_sessionmaker
from tinhso.core.errors import DomainError
from tinhso.opendata.catalogue.storage import resource_store, unreferenced
from tinhso.opendata.publishing.indicators import publish_indicators

opendata_app = typer.Typer(help="Dữ liệu mở / open data", no_args_is_help=True)
storage_app = typer.Typer(help="Kho tệp tài nguyên / resource file storage", no_args_is_help=True)
opendata_app.add_typer(storage_app, name="storage")


@opendata_app.command("publish-indicators")
def publish_indicators_command() -> None:
    """Công bố chỉ số thành dữ liệu mở / publish indicators as open data."""
    settings = settings_or_exit()
    try:
        with _database(settings) as engine, make_sessionmaker(engine).begin() as session:
            done = publish_indicators(session, resource_store(settings))
    except DomainError as error:
        raise _fail(error) from error
    console.print(
        f"Tạo mới {len(done.created)}, cập nhật {len(done.refreshed)}, không đổi "
        f"{len(done.unchanged)}; {len(done.withdrawn)} bộ của chỉ số không còn công bố / "
        + done.summary()
    )


@storage_app.command("gc")
def storage_gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Chỉ liệt kê, không xoá / list only, delete nothing")
    ] = False,
    min_age_hours: Annotated[
        float,
        typer.Option(
            min=1.0, help="Chỉ tệp cũ hơn / only files older than this (an upload may be open)"
        ),
    ] = 24.0,
) -> None:
    """Tệp không còn tài nguyên nào dùng / files no resource refers to (listed, or deleted)."""
    settings = settings_or_exit()
    files = resource_store(settings)
    try:
        with _database(settings) as engine, make_sessionmaker(engine)() as session:
            found = unreferenced(session, files, older_than=timedelta(hours=min_age_hours))
        for item in found:
            output.print(f"{item.key}\t{item.size}", markup=False, highlight=False)
            if not dry_run:
                files.delete(item.key)
    except DomainError as error:
        raise _fail(error) from error
    total = sum(item.size for item in found)
    verb = "sẽ xoá / would delete" if dry_run else "đã xoá / deleted"
    console.print(f"{len(found)} tệp / files ({total:,} bytes) {verb}")
