"""The job runner on both databases: one run per due job across workers, leases that expire,
retries with back-off, the record operators read."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from tinhso.core.db import make_sessionmaker, utcnow
from tinhso.core.jobs.models import JobRun, ScheduledJob
from tinhso.core.jobs.runner import (
    Job,
    JobContext,
    JobRunner,
    RunOutcome,
    job_views,
    make_due_after_commit,
    safe_error,
)
from tinhso.core.jobs.schedule import Schedule

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _job(handler: object, **options: object) -> Job:
    return Job(
        name="test.job",
        schedule=Schedule.every(60),
        handler=handler,  # type: ignore[arg-type]
        title_vi="Việc thử",
        title_en="Test job",
        **options,  # type: ignore[arg-type]
    )


def _row(engine: Engine) -> ScheduledJob:
    with make_sessionmaker(engine)() as session:
        return session.scalars(select(ScheduledJob)).one()


def _runs(engine: Engine) -> list[JobRun]:
    with make_sessionmaker(engine)() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def test_two_workers_racing_for_a_due_job_run_it_once(engine: Engine) -> None:
    calls: list[str] = []

    async def handler(context: JobContext) -> str:
        calls.append(context.worker)
        await asyncio.sleep(0.2)
        return "done"

    runners = [JobRunner(engine, [_job(handler)], worker=f"w{i}") for i in range(2)]
    runners[0].register()
    runners[1].register()  # the second registration finds the row

    now = utcnow()
    barrier = threading.Barrier(4)
    attempts: list[int | None] = []

    def claim(runner: JobRunner) -> None:
        barrier.wait()
        attempts.append(runner.claim("test.job", now))

    threads = [threading.Thread(target=claim, args=(runners[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(attempts, key=str) == [1, None, None, None]

    # A lease is held: neither worker finds the job due now.
    assert runners[0].due(utcnow()) == [] and runners[1].due(utcnow()) == []


def test_run_due_on_two_workers_at_once_runs_the_job_once(engine: Engine) -> None:
    calls: list[str] = []

    async def handler(context: JobContext) -> str:
        calls.append(context.worker)
        await asyncio.sleep(0.1)
        return "ok"

    runners = [JobRunner(engine, [_job(handler)], worker=f"w{i}") for i in range(2)]
    runners[0].register()

    async def both() -> list[list[RunOutcome]]:
        return list(await asyncio.gather(runners[0].run_due(), runners[1].run_due()))

    outcomes = asyncio.run(both())
    assert sum(len(o) for o in outcomes) == 1
    assert len(calls) == 1
    [run] = _runs(engine)
    assert (run.status, run.summary, run.attempt) == ("succeeded", "ok", 1)
    row = _row(engine)
    assert row.lease_owner is None and row.failures == 0 and row.last_status == "succeeded"
    # next due a schedule interval later
    assert row.last_finished_at is not None
    assert abs(row.next_run_at - (row.last_finished_at + timedelta(minutes=60))) < timedelta(
        seconds=1
    )


def test_an_expired_lease_is_claimed_again(engine: Engine) -> None:
    async def handler(context: JobContext) -> str:
        return "ok"

    dead, alive = (JobRunner(engine, [_job(handler)], worker=w) for w in ("dead", "alive"))
    dead.register()
    now = utcnow()
    assert dead.claim("test.job", now) == 1  # then the worker dies
    assert alive.claim("test.job", now + timedelta(minutes=5)) is None  # lease still live
    assert alive.claim("test.job", now + timedelta(minutes=11)) == 1  # lease (10 min) expired
    assert _row(engine).lease_owner == "alive"


def test_a_failing_job_is_retried_with_back_off_then_waits_for_its_schedule(
    engine: Engine,
) -> None:
    async def handler(context: JobContext) -> str:
        msg = "provider at https://user:hunter2@example.vn/x refused"
        raise RuntimeError(msg)

    runner = JobRunner(engine, [_job(handler, max_attempts=3)], worker="w")
    runner.register()
    waits = []
    for attempt in (1, 2, 3):
        runner.run_now("test.job")
        [outcome] = asyncio.run(runner.run_due())
        assert (outcome.status, outcome.attempt) == ("failed", attempt)
        row = _row(engine)
        assert row.last_finished_at is not None
        waits.append(row.next_run_at - row.last_finished_at)
    # 30 s, then 60 s, then (given up) the schedule's next time, an hour later
    assert [round(w.total_seconds()) for w in waits] == [30, 60, 3600]
    assert _row(engine).failures == 0
    runs = _runs(engine)
    assert [r.status for r in runs] == ["failed"] * 3
    assert all("hunter2" not in (r.error or "") for r in runs)
    assert "https://***@example.vn/x" in (runs[0].error or "")


def test_a_success_after_failures_resets_the_count(engine: Engine) -> None:
    outcomes = iter([RuntimeError("down"), None])

    async def handler(context: JobContext) -> str:
        error = next(outcomes)
        if error:
            raise error
        return f"attempt {context.attempt}"

    runner = JobRunner(engine, [_job(handler)], worker="w")
    runner.register()
    asyncio.run(runner.run_due())
    assert _row(engine).failures == 1
    runner.run_now("test.job")
    [outcome] = asyncio.run(runner.run_due())
    assert outcome.summary == "attempt 2"
    row = _row(engine)
    assert (row.failures, row.last_status, row.last_error) == (0, "succeeded", None)


def test_a_run_whose_lease_was_taken_over_does_not_move_the_job(engine: Engine) -> None:
    async def handler(context: JobContext) -> str:
        # meanwhile another worker took the job over (this worker's lease had expired)
        with make_sessionmaker(engine).begin() as session:
            session.execute(update(ScheduledJob).values(lease_owner="other"))
        return "late"

    runner = JobRunner(engine, [_job(handler)], worker="w")
    runner.register()
    asyncio.run(runner.run_due())
    [run] = _runs(engine)
    assert run.status == "lease_lost"
    assert _row(engine).lease_owner == "other"


def test_operators_see_every_job_with_its_last_runs(engine: Engine) -> None:
    async def handler(context: JobContext) -> str:
        return "ok"

    runner = JobRunner(engine, [_job(handler)], worker="w")
    runner.register()
    for _ in range(3):
        runner.run_now("test.job")
        asyncio.run(runner.run_due())
    with make_sessionmaker(engine)() as session:
        [view] = job_views(session, recent=2)
    assert view.job.title_vi == "Việc thử"
    assert [run.summary for run in view.runs] == ["ok", "ok"]


def test_an_error_text_keeps_no_url_credentials() -> None:
    text = safe_error(ValueError("postgresql://tinhso:secret@db:5432/x unreachable"))
    assert text == "ValueError: postgresql://***@db:5432/x unreachable"


def test_a_job_made_due_after_commit_is_due_only_once_the_writer_committed(
    engine: Engine,
) -> None:
    async def handler(context: JobContext) -> str:
        return "done"

    runner = JobRunner(engine, [_job(handler)])
    runner.register()
    later = utcnow() + timedelta(days=1)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.execute(update(ScheduledJob).values(next_run_at=later))

    with sessions() as writer:
        writer.execute(update(JobRun).values(summary="x"))  # the writer's transaction is open
        make_due_after_commit(writer, "test.job")
        assert _row(engine).next_run_at == later  # the job's row is untouched meanwhile
        if engine.dialect.name == "postgresql":  # and not locked: the worker may claim it
            with engine.begin() as worker:
                worker.execute(select(ScheduledJob.name).with_for_update(nowait=True)).all()
        writer.rollback()
    assert _row(engine).next_run_at == later  # a rolled-back write makes nothing due

    with sessions.begin() as writer:
        make_due_after_commit(writer, "test.job")
        make_due_after_commit(writer, "test.job")
    assert _row(engine).next_run_at <= utcnow()
    assert "test.job" in runner.due(utcnow() + timedelta(seconds=1))
