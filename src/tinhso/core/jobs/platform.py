"""The platform's own jobs (beside each domain's): today the calendar's coverage check.

``core.calendar_coverage`` runs daily and fails, with the year to add, while the decided
calendar (days off and make-up days of the government's yearly notice) covers less than a year
ahead: the failure shows on the jobs page and in ``tinhso jobs list`` until an operator adds the
notice with ``tinhso calendar add``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tinhso.core.calendar import VIETNAM, load_calendar
from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

CALENDAR_COVERAGE = "core.calendar_coverage"


class CalendarRunsShort(RuntimeError):
    """The decided calendar ends within a year."""


def platform_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    sessions = make_sessionmaker(engine)

    async def check_coverage(context: JobContext) -> str:
        today = datetime.now(VIETNAM).date()
        with sessions() as session:
            calendar = load_calendar(session)
        until = calendar.decided_until()
        gap = calendar.coverage_gap(today)
        if gap is not None:
            msg = (
                f"Lịch nghỉ đã quyết định chỉ đến {until:%d/%m/%Y}: thêm thông báo năm "
                f"{gap.first_missing_year} bằng `tinhso calendar add` / the decided calendar "
                f"ends {until:%d/%m/%Y}: add the {gap.first_missing_year} notice"
                if until
                else "Chưa có lịch nghỉ đã quyết định / no decided calendar"
            )
            raise CalendarRunsShort(msg)
        return f"decided until {until:%d/%m/%Y}" if until else "no decided days"

    coverage = Job(
        name=CALENDAR_COVERAGE,
        schedule=Schedule.daily(7, 0),
        handler=check_coverage,
        title_vi="Kiểm tra lịch nghỉ đã quyết định còn đủ một năm",
        title_en="Check that the decided calendar covers a year ahead",
        max_attempts=1,
    )
    return [coverage], []
