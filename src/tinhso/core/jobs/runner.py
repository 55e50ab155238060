"""The job runner: claims due jobs, runs them, records every attempt.

A domain declares its jobs as :class:`Job` values (name, schedule, an async handler); the
``tinhso worker`` command gathers every domain's jobs and runs a :class:`JobRunner` over them.

One attempt: claim (one conditional UPDATE: due, and no live lease), run the handler outside
any transaction with the lease as its time limit, then record the outcome and the next due
time in one transaction. A failure is retried with exponential back-off (``retry_base`` ×
2^(failures−1), never longer than the schedule's interval) up to ``max_attempts`` in a row;
then the job waits for its next scheduled time. Error texts are stored without the
credentials a URL may carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete, event, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tinhso.core.db import make_sessionmaker, utcnow
from tinhso.core.jobs.models import JobRun, ScheduledJob
from tinhso.core.jobs.schedule import Schedule

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

RUNS_KEPT = 200  # runs kept per job (older ones are deleted when a run is recorded)
_ERROR_CHARS = 2000
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(:[^/@\s]*)?@")


@dataclass(frozen=True)
class JobContext:
    """What a handler is told about its attempt."""

    name: str
    attempt: int  # 1 for the first attempt after a success or a scheduled run
    worker: str


JobHandler = Callable[[JobContext], Awaitable[str | None]]


@dataclass(frozen=True)
class Job:
    """A job a domain declares. The handler returns a short summary (shown to operators)."""

    name: str
    schedule: Schedule
    handler: JobHandler = field(repr=False)
    title_vi: str
    title_en: str
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class RunOutcome:
    job: str
    status: str  # succeeded | failed | lease_lost
    attempt: int
    summary: str | None = None
    error: str | None = None


def safe_error(error: BaseException) -> str:
    """An error's text for operators: type and message, URL credentials masked, bounded."""
    text = f"{type(error).__name__}: {error}"
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)[:_ERROR_CHARS]


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobRunner:
    def __init__(self, engine: Engine, jobs: Sequence[Job], worker: str | None = None) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            msg = f"duplicate job names: {names}"
            raise ValueError(msg)
        self.sessions = make_sessionmaker(engine)
        self.jobs = {job.name: job for job in jobs}
        self.worker = worker or worker_name()

    # -- the job table -------------------------------------------------------------------
    def register(self) -> None:
        """Make sure every job has its row (due now when new); a changed schedule is kept."""
        now = utcnow()
        for job in self.jobs.values():
            # Another worker registering the same job at the same moment is fine.
            with contextlib.suppress(IntegrityError), self.sessions.begin() as session:
                row = session.get(ScheduledJob, job.name)
                if row is None:
                    row = ScheduledJob(name=job.name, schedule=job.schedule.text(), next_run_at=now)
                    session.add(row)
                elif row.schedule != job.schedule.text():
                    row.schedule = job.schedule.text()
                    row.next_run_at = min(row.next_run_at, job.schedule.next_after(now))
                row.title_vi, row.title_en = job.title_vi, job.title_en

    def due(self, now: datetime) -> list[str]:
        with self.sessions() as session:
            names = session.scalars(
                select(ScheduledJob.name).where(
                    ScheduledJob.name.in_(list(self.jobs)),
                    ScheduledJob.next_run_at <= now,
                    (ScheduledJob.lease_until.is_(None)) | (ScheduledJob.lease_until < now),
                )
            ).all()
        return list(names)

    def claim(self, name: str, now: datetime) -> int | None:
        """Take the job's lease if it is still due and free: the attempt number, or None."""
        job = self.jobs[name]
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(ScheduledJob)
                .where(
                    ScheduledJob.name == name,
                    ScheduledJob.next_run_at <= now,
                    (ScheduledJob.lease_until.is_(None)) | (ScheduledJob.lease_until < now),
                )
                .values(
                    lease_owner=self.worker,
                    lease_until=now + job.lease,
                    last_started_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            failures = session.scalar(
                select(ScheduledJob.failures).where(ScheduledJob.name == name)
            )
        return (failures or 0) + 1

    def run_now(self, name: str) -> bool:
        with self.sessions.begin() as session:
            return make_due(session, name)

    def _record(self, outcome: RunOutcome, started: datetime) -> None:
        job = self.jobs[outcome.job]
        finished = utcnow()
        with self.sessions.begin() as session:
            row = session.get(ScheduledJob, job.name, with_for_update=True)
            lost = row is None or row.lease_owner != self.worker
            status = "lease_lost" if lost and outcome.status == "succeeded" else outcome.status
            session.add(
                JobRun(
                    job_name=job.name,
                    attempt=outcome.attempt,
                    worker=self.worker,
                    started_at=started,
                    finished_at=finished,
                    status=status,
                    summary=(outcome.summary or None) and outcome.summary[:500],
                    error=outcome.error,
                )
            )
            if row is not None and not lost:
                self._advance(row, job, outcome, finished)
            session.flush()
            _prune(session, job.name)

    @staticmethod
    def _advance(row: ScheduledJob, job: Job, outcome: RunOutcome, now: datetime) -> None:
        row.lease_owner = None
        row.lease_until = None
        row.last_finished_at = now
        row.last_status = outcome.status
        row.last_summary = (outcome.summary or None) and outcome.summary[:500]
        if outcome.status == "succeeded":
            row.failures = 0
            row.last_error = None
            row.next_run_at = job.schedule.next_after(now)
            return
        row.last_error = outcome.error
        if outcome.attempt < job.max_attempts:
            row.failures = outcome.attempt
            wait = min(job.retry_base * 2 ** (outcome.attempt - 1), job.schedule.interval())
            row.next_run_at = now + wait
        else:  # given up until the next scheduled time
            row.failures = 0
            row.next_run_at = job.schedule.next_after(now)

    # -- running -------------------------------------------------------------------------
    async def run_job(self, name: str, attempt: int) -> RunOutcome:
        job = self.jobs[name]
        started = utcnow()
        context = JobContext(name=name, attempt=attempt, worker=self.worker)
        try:
            summary = await asyncio.wait_for(job.handler(context), job.lease.total_seconds())
            outcome = RunOutcome(name, "succeeded", attempt, summary=summary)
            log.info("job succeeded", extra={"job": name, "attempt": attempt})
        except Exception as error:  # any failure of a handler is recorded, never fatal
            outcome = RunOutcome(name, "failed", attempt, error=safe_error(error))
            log.warning(
                "job failed", extra={"job": name, "attempt": attempt, "error": outcome.error}
            )
        await asyncio.to_thread(self._record, outcome, started)
        return outcome

    async def run_due(self) -> list[RunOutcome]:
        """Claim and run every due job (concurrently); the outcomes of those this worker ran."""
        now = utcnow()
        claimed: list[tuple[str, int]] = []
        for name in await asyncio.to_thread(self.due, now):
            attempt = await asyncio.to_thread(self.claim, name, now)
            if attempt is not None:
                claimed.append((name, attempt))
        return list(await asyncio.gather(*(self.run_job(n, a) for n, a in claimed)))

    async def run_forever(self, poll_seconds: float, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker": self.worker, "jobs": sorted(self.jobs)})
        while not stop.is_set():
            try:
                await self.run_due()
            except Exception:  # the database away: keep polling, the jobs wait
                log.exception("worker poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
        log.info("worker stopped", extra={"worker": self.worker})


def make_due(session: Session, name: str) -> bool:
    """Make a job due at once (the next worker poll runs it); False if no job has that name."""
    done = session.execute(
        update(ScheduledJob).where(ScheduledJob.name == name).values(next_run_at=utcnow())
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


_DUE_AFTER_COMMIT = "tinhso.jobs_due_after_commit"


def make_due_after_commit(session: Session, name: str) -> None:
    """Make a job due once the session's transaction has committed, in a short transaction of
    its own.

    For writers of the data a job reads (every value write makes the alerts job due): updating
    the job's row inside their own transaction would hold its lock until they commit, so
    concurrent writers would queue behind one another and behind the worker's claim. If the
    transaction rolls back, nothing is made due; if making it due fails, the job still runs on
    its schedule (the write itself is committed and must not be reported as failed).
    """
    pending: set[str] | None = session.info.get(_DUE_AFTER_COMMIT)
    if pending is None:
        pending = session.info[_DUE_AFTER_COMMIT] = set()
        event.listen(session, "after_commit", _make_pending_due)
        event.listen(session, "after_rollback", _forget_pending)
    pending.add(name)


def _make_pending_due(session: Session) -> None:
    names = sorted(session.info.get(_DUE_AFTER_COMMIT) or ())
    session.info[_DUE_AFTER_COMMIT] = set()
    if not names:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        with engine.begin() as connection:
            connection.execute(
                update(ScheduledJob)
                .where(ScheduledJob.name.in_(names))
                .values(next_run_at=utcnow())
            )
    except SQLAlchemyError:
        log.warning("jobs %s not made due; they run on their schedule", names, exc_info=True)


def _forget_pending(session: Session) -> None:
    session.info[_DUE_AFTER_COMMIT] = set()


def _prune(session: Session, name: str) -> None:
    keep = (
        select(JobRun.id)
        .where(JobRun.job_name == name)
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(RUNS_KEPT)
    )
    session.execute(
        delete(JobRun)
        .where(JobRun.job_name == name, JobRun.id.not_in(keep.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )


# -- what operators see ------------------------------------------------------------------
@dataclass(frozen=True)
class JobView:
    job: ScheduledJob
    schedule: Schedule
    runs: tuple[JobRun, ...]


def job_views(session: Session, recent: int = 5) -> list[JobView]:
    """Every job with its last ``recent`` runs, in two queries."""
    jobs = session.scalars(select(ScheduledJob).order_by(ScheduledJob.name)).all()
    runs: dict[str, list[JobRun]] = {job.name: [] for job in jobs}
    ranked = (
        select(JobRun)
        .order_by(JobRun.job_name, JobRun.started_at.desc(), JobRun.id.desc())
        .limit(max(1, len(jobs)) * RUNS_KEPT)
    )
    for run in session.scalars(ranked):
        bucket = runs.get(run.job_name)
        if bucket is not None and len(bucket) < recent:
            bucket.append(run)
    return [JobView(job, Schedule.parse(job.schedule), tuple(runs[job.name])) for job in jobs]


def recent_failures(session: Session, limit: int = 20) -> list[JobRun]:
    return list(
        session.scalars(
            select(JobRun)
            .where(JobRun.status != "succeeded")
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(limit)
        )
    )
