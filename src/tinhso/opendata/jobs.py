"""Open data's scheduled job, run by ``tinhso worker`` on the durable job table:

- ``opendata.publish_indicators`` (every 15 minutes): the datasets of the indicators
  published as open data, refreshed when their values changed
  (:func:`tinhso.opendata.publishing.indicators.publish_indicators`);
- ``opendata.stewardship`` (the 1st of each month, 06:30): stale datasets and overdue list
  reviews as monitoring values (:func:`tinhso.opendata.stewardship.agency_lists.publish_month`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.opendata.catalogue.storage import resource_store
from tinhso.opendata.publishing.indicators import publish_indicators
from tinhso.opendata.stewardship.agency_lists import end_of_month_before, publish_month

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

PUBLISH_INDICATORS = "opendata.publish_indicators"
STEWARDSHIP = "opendata.stewardship"


def opendata_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    sessions = make_sessionmaker(engine)

    async def publish(context: JobContext) -> str:
        with sessions.begin() as session:
            return publish_indicators(session, resource_store(settings)).summary()

    job = Job(
        name=PUBLISH_INDICATORS,
        schedule=Schedule.every(15),
        handler=publish,
        title_vi="Công bố chỉ số giám sát thành dữ liệu mở",
        title_en="Publish monitoring indicators as open data",
    )

    async def stewardship(context: JobContext) -> str:
        month = end_of_month_before()
        with sessions.begin() as session:
            done = publish_month(session, month)
        return (
            f"{done.values} values for {month:%Y-%m}; "
            f"{done.agencies_without_unit} agencies without an administrative unit"
        )

    lists = Job(
        name=STEWARDSHIP,
        schedule=Schedule.monthly(1, 6, 30),
        handler=stewardship,
        title_vi="Thống kê dữ liệu mở quá hạn cập nhật, danh mục quá hạn rà soát",
        title_en="Count stale open datasets and overdue open-data list reviews",
    )
    return [job, lists], []
