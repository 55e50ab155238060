"""Monitoring's jobs for `tinhso worker`: the automatic collection of values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.monitoring.collection.worker import Collector, WorkerOptions

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

COLLECTION = "monitoring.collection"


def monitoring_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    """The jobs this worker can run, and why any other cannot (a missing setting, named)."""
    try:
        options = WorkerOptions.from_settings(settings)
    except ValueError as error:
        return [], [f"{COLLECTION}: {error}"]
    collector = Collector(engine, options)  # keeps the hub's token between runs

    async def collect(context: JobContext) -> str:
        result = await collector.run_once()
        return f"succeeded={result.succeeded} failed={result.failed} skipped={result.skipped}"

    collection = Job(
        name=COLLECTION,
        # Each source has its own interval and back-off; the job looks for due ones.
        schedule=Schedule.every(1),
        handler=collect,
        title_vi="Thu thập số liệu tự động qua trục trao đổi",
        title_en="Automatic collection of values through the exchange hub",
        lease=options.lease,
    )
    return [collection], []
