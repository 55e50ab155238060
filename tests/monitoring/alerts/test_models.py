"""The alert tables' migration matches their models, on both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.migrations import model_drift
from tinhso.models import metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_TABLES = ("monitoring_alert_rule", "monitoring_alert")


def test_alert_migration_matches_models(engine: Engine) -> None:
    assert all(name in metadata.tables for name in _TABLES)
    drift = [
        diff
        for diff in model_drift(engine, metadata)
        if any(f"'{name}'" in repr(diff) or f"{name}." in repr(diff) for name in _TABLES)
    ]
    assert drift == []
