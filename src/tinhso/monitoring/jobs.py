"""Monitoring's jobs for `tinhso worker`: the automatic collection of values, and the
monthly reminder to units that have not reported last month."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.monitoring import repository, submissions
from tinhso.monitoring.alerts.job import alerts_job
from tinhso.monitoring.collection.worker import Collector, WorkerOptions
from tinhso.monitoring.models import PeriodType
from tinhso.monitoring.values.checks import today_in_vietnam

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

COLLECTION = "monitoring.collection"
REMINDERS = "monitoring.reporting_reminders"


def _reminders(engine: Engine) -> Job:
    sessions = make_sessionmaker(engine)

    async def remind(context: JobContext) -> str:
        today = today_in_vietnam()
        last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
        period = f"{last:%Y-%m}"
        with sessions.begin() as session:
            elements = [
                e.id for e in repository.all_elements(session) if e.period_type is PeriodType.MONTH
            ]
            reminded = submissions.queue_reminders(session, period, elements) if elements else 0
        return f"{reminded} units reminded for {period}"

    return Job(
        name=REMINDERS,
        schedule=Schedule.monthly(5, 7, 0),
        handler=remind,
        title_vi="Nhắc đơn vị chưa báo cáo số liệu tháng trước",
        title_en="Remind units that have not reported last month",
    )


def monitoring_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    """The jobs this worker can run, and why any other cannot (a missing setting, named)."""
    reminders = _reminders(engine)
    alerts = alerts_job(engine)
    try:
        options = WorkerOptions.from_settings(settings)
    except ValueError as error:
        return [reminders, alerts], [f"{COLLECTION}: {error}"]
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
    return [reminders, alerts, collection], []
