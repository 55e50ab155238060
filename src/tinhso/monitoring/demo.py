"""Monitoring demo data (Plan 324/KH-UBND and the reported figures of the seed articles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session


def load_monitoring_demo(session: Session, progress: Callable[[str, int], None] | None = None) -> None:
    """Load the monitoring demo data (idempotent)."""
