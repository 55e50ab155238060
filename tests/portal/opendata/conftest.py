"""The open data fixtures (the catalogue served for real, its officials)."""

from tests.opendata.conftest import catalogue, served  # noqa: F401 - fixtures, used by name
