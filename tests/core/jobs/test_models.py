"""The job tables as migrated match the models, on both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.migrations import model_drift
from tinhso.models import metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def test_job_migration_matches_models(engine: Engine) -> None:
    assert [diff for diff in model_drift(engine, metadata) if "core_job" in repr(diff)] == []
