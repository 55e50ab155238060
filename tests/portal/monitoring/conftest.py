"""The current Bắc Ninh world of the reports tests, used by the reporting grid."""

from tests.reports.conftest import reports_world  # noqa: F401 - a fixture, used by name
