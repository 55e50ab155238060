"""Durable jobs for every domain: a job table with claim and lease, retries with back-off,
schedules (every N minutes, daily at hh:mm, monthly), and one runner (`tinhso worker`).

- :mod:`.schedule` — when a job is due next (daily and monthly times are Vietnam time);
- :mod:`.models` — the job table (one row per job: its schedule, next run and lease) and the
  table of runs (each attempt, its outcome and error);
- :mod:`.runner` — :class:`~.runner.Job` (what a domain declares) and
  :class:`~.runner.JobRunner` (claims due jobs, runs them, records the outcome).

Two workers never run the same job at once: a job is claimed by one conditional UPDATE (due,
and not leased or its lease expired), which both SQLite and PostgreSQL apply atomically; a
worker that dies leaves a lease that expires, and the job is claimed again.
"""
