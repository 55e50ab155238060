"""The reports domain's scheduled jobs, run by ``tinhso worker`` on the durable job table:

- ``reports.deadlines`` (every 15 minutes): reminders before a deadline and notices once it
  has passed (:func:`tinhso.reports.notifications.deadlines`);
- ``reports.statistics`` (the 1st of each month, 06:00): last month's figures per commune
  as monitoring values (:mod:`tinhso.reports.figures.indicators`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.calendar import load_calendar, office_hours
from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.reports import notifications
from tinhso.reports.figures import indicators

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

DEADLINES = "reports.deadlines"
STATISTICS = "reports.statistics"


def reports_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    sessions = make_sessionmaker(engine)

    async def check_deadlines(context: JobContext) -> str:
        with sessions.begin() as session:
            calendar = load_calendar(session, office_hours(settings))
            reminders, overdue = notifications.deadlines(session, calendar)
        return f"{reminders} reminders, {overdue} overdue notices"

    async def publish_statistics(context: JobContext) -> str:
        month = indicators.previous_month()
        with sessions.begin() as session:
            written = indicators.publish_month(session, month)
        return f"{written} values for {month:%m/%Y}"

    jobs = [
        Job(
            name=STATISTICS,
            schedule=Schedule.monthly(1, 6, 0),
            handler=publish_statistics,
            title_vi="Đưa số liệu phản ánh hiện trường tháng trước vào giám sát",
            title_en="Last month's field report figures into monitoring",
        ),
        Job(
            name=DEADLINES,
            schedule=Schedule.every(15),
            handler=check_deadlines,
            title_vi="Nhắc hạn và báo quá hạn phản ánh hiện trường",
            title_en="Field report deadline reminders and overdue notices",
        ),
    ]
    return jobs, []
