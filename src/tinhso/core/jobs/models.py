"""The job tables: one row per job (schedule, next run, lease, last outcome) and its runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime


class ScheduledJob(TimestampMixin, Base):
    """A job every worker knows by name; the row is the only shared state between workers."""

    __tablename__ = "core_job"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(50))
    # What the job does, for operators (written by the worker that registers it).
    title_vi: Mapped[str] = mapped_column(String(200), default="")
    title_en: Mapped[str] = mapped_column(String(200), default="")
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Who runs it now, until when (an expired lease is a dead worker: the job is due again).
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Attempts that failed in a row (the next retry waits longer); 0 after a success.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_status: Mapped[str | None] = mapped_column(String(20), default=None)
    last_summary: Mapped[str | None] = mapped_column(String(500), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class JobRun(Base):
    """One attempt of a job: who ran it, when, and how it ended."""

    __tablename__ = "core_job_run"
    __table_args__ = (Index("ix_core_job_run_job_started", "job_name", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_name: Mapped[str] = mapped_column(
        String(100), ForeignKey("core_job.name", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))  # succeeded | failed | lease_lost
    summary: Mapped[str | None] = mapped_column(String(500), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
