"""`tinhso` commands of the monitoring domain."""

import typer

app = typer.Typer(no_args_is_help=True)
