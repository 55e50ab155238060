"""Portal pages (placeholder until the portal shell lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install_portal(app: FastAPI) -> None:
    """Mount the portal's routes and static files on the control-plane app."""
