"""The monitoring tables as migrated match the models, on both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.db import Base
from tinhso.core.migrations import model_drift
from tinhso.models import metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_TABLES = {
    table.name
    for table in Base.metadata.sorted_tables
    if table.name
    in {
        "monitoring_pillar",
        "data_element",
        "indicator",
        "validation_rule",
        "plan",
        "plan_target",
        "data_value",
        "data_value_correction",
        "methodology",
        "methodology_component",
    }
}


def _mentions_monitoring(diff: object) -> bool:
    text = repr(diff)
    return any(f"'{name}'" in text or f"{name}." in text for name in _TABLES)


def test_monitoring_migration_matches_models(engine: Engine) -> None:
    assert len(_TABLES) == 10
    drift = [diff for diff in model_drift(engine, metadata) if _mentions_monitoring(diff)]
    assert drift == []
