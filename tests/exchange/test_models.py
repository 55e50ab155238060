"""The exchange tables as migrated match the models, on both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.migrations import model_drift
from tinhso.models import metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _mentions_exchange(diff: object) -> bool:
    return "exchange_" in repr(diff)


def test_exchange_migration_matches_models(engine: Engine) -> None:
    drift = [diff for diff in model_drift(engine, metadata) if _mentions_exchange(diff)]
    assert drift == []
