"""The exchange fixtures (two systems, a published service, the officials of both sides)."""

from tests.exchange.conftest import exchange_world  # noqa: F401 - a fixture, used by name
