from tests.reports.conftest import reports_world  # noqa: F401 - the reports world
