"""The ``monitoring.alerts`` job: every enabled rule evaluated every 15 minutes, and at the
worker's next poll after values are written (the value service makes the job due once
its transaction has committed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.monitoring.alerts import ALERTS_JOB
from tinhso.monitoring.alerts.service import alert_service

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def alerts_job(engine: Engine) -> Job:
    sessions = make_sessionmaker(engine)

    async def evaluate(context: JobContext) -> str:
        with sessions.begin() as session:
            done = alert_service.evaluate(session)
        return f"opened={done.opened} resolved={done.resolved} mailed={done.mailed}"

    return Job(
        name=ALERTS_JOB,
        schedule=Schedule.every(15),
        handler=evaluate,
        title_vi="Đánh giá các quy tắc cảnh báo chỉ số",
        title_en="Evaluate the indicator alert rules",
    )
