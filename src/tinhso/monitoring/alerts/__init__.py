"""Off-track alerts for the operations centre: rules kept in the database, evaluated by the
``monitoring.alerts`` job, one open alert per (rule, unit, period) with its history, and an
e-mail to the unit's responsible officials when an alert opens."""

# The job's name: value writes make it due at once (`core.jobs.runner.make_due`).
ALERTS_JOB = "monitoring.alerts"
