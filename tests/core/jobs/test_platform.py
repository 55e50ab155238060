"""The platform's own job: the decided calendar must cover a year ahead, or the job fails
(shown on the jobs page) naming the year whose notice is missing."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import TYPE_CHECKING

from tinhso.core.calendar import (
    VIETNAM,
    DayKind,
    DecidedDay,
    load_calendar,
    remove_decided_day,
    save_decided_day,
)
from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.platform import CALENDAR_COVERAGE, platform_jobs
from tinhso.core.jobs.runner import JobRunner

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings


def _run(engine: Engine, settings: Settings) -> tuple[str, str | None, str | None]:
    jobs, reasons = platform_jobs(engine, settings)
    assert [job.name for job in jobs] == [CALENDAR_COVERAGE]  # no mail host: no mail job
    assert len(reasons) == 1 and "TINHSO_MAIL_HOST" in reasons[0]
    runner = JobRunner(engine, jobs, worker="w")
    runner.register()
    runner.run_now(CALENDAR_COVERAGE)
    [outcome] = asyncio.run(runner.run_due())
    return outcome.status, outcome.summary, outcome.error


def test_the_coverage_job_fails_until_the_missing_year_is_decided(
    engine: Engine, settings: Settings
) -> None:
    sessions = make_sessionmaker(engine)
    today = datetime.now(VIETNAM).date()
    with sessions() as session:
        gap = load_calendar(session).coverage_gap(today)
    if gap is not None:  # the shipped table runs short: the job says which year to add
        status, _, error = _run(engine, settings)
        assert status == "failed"
        assert f"năm {gap.first_missing_year}" in (error or "")
        assert f"the {gap.first_missing_year} notice" in (error or "")
    # an operator adds the notices up to next year: the job passes (the rows are removed
    # after: the decided calendar is reference data the suite keeps between tests)
    added: list[date] = []
    try:
        with sessions.begin() as session:
            for year in range(today.year, today.year + 2):
                day = date(year, 12, 31)
                notice = DecidedDay(
                    day=day,
                    kind=DayKind.WORKING,
                    reason="test notice",
                    source=f"Thông báo thử {year}",
                    issuer="Bộ Nội vụ",
                )
                if save_decided_day(session, notice):
                    added.append(day)
        status, summary, _ = _run(engine, settings)
        assert status == "succeeded"
        assert summary == f"decided until 31/12/{today.year + 1}"
    finally:
        with sessions.begin() as session:
            for day in added:
                remove_decided_day(session, day)
