"""Attack cases against the gateway reuse the exchange scenario (real provider and gateway)."""

from tests.exchange.conftest import consumer_secret, exchange_world
from tests.exchange.gateway.gateway_harness import gateway_world, provider, settings

__all__ = ["consumer_secret", "exchange_world", "gateway_world", "provider", "settings"]
