"""Open data's scheduled job, run by ``tinhso worker`` on the durable job table:

- ``opendata.publish_indicators`` (every 15 minutes): the datasets of the indicators
  published as open data, refreshed when their values changed
  (:func:`tinhso.opendata.publication.publish_indicators`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.opendata.publication import publish_indicators

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

PUBLISH_INDICATORS = "opendata.publish_indicators"


def opendata_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    sessions = make_sessionmaker(engine)

    async def publish(context: JobContext) -> str:
        with sessions.begin() as session:
            return publish_indicators(session, settings.data_dir).summary()

    job = Job(
        name=PUBLISH_INDICATORS,
        schedule=Schedule.every(15),
        handler=publish,
        title_vi="Công bố chỉ số giám sát thành dữ liệu mở",
        title_en="Publish monitoring indicators as open data",
    )
    return [job], []
