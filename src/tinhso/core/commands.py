"""What every `tinhso` command shares: loading settings, opening the database, reporting errors.

The root command (`tinhso.cli`) and each domain's sub-commands import these, so no
sub-command imports the root command (which imports them all).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from tinhso.core.config import InsecureSettingsError, Settings, load_settings
from tinhso.core.db import engine_from_settings
from tinhso.core.errors import DomainError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# Messages (progress, errors) go to stderr; what a command answers (tables, figures) to stdout.
console = Console(stderr=True)
output = Console()


def settings_or_exit(**overrides: object) -> Settings:
    """The configured settings, or exit 2 with a message naming what is wrong."""
    try:
        return load_settings(**overrides)
    except (ValidationError, InsecureSettingsError) as error:
        console.print(f"[red]Cấu hình không hợp lệ / invalid configuration:[/red] {error}")
        raise typer.Exit(2) from error


@contextmanager
def database(settings: Settings | None = None) -> Iterator[Engine]:
    """The database of the configured settings, disposed when the command ends."""
    engine = engine_from_settings(settings or settings_or_exit())
    try:
        yield engine
    finally:
        engine.dispose()


def failure(error: DomainError) -> typer.Exit:
    """Print a domain error in Vietnamese and English, naming its fields; exit status 1."""
    fields = ", ".join(e.field for e in error.errors)
    # Escaped: "[reason]" is the field's name, not rich markup (which would swallow it).
    where = escape(f" [{fields}]") if fields else ""
    console.print(
        f"[red]Lỗi{where}:[/red] {escape(error.message.vi)}\n"
        f"[red]Error{where}:[/red] {escape(error.message.en)}"
    )
    return typer.Exit(1)
