"""Circuit breaker per service and provider origin, used by the gateway (one per worker process).

Only the provider's failures count: a refusal, a body the consumer sent too slowly or an
answer the consumer left are not (see :mod:`tinhso.exchange.gateway.forwarding`), so no consumer can
open a provider's breaker for the others.
"""

from __future__ import annotations


class Breaker:
    """Per service and provider origin: open after ``threshold`` consecutive failures, one probe after
    ``cooldown`` seconds (half-open), closed again on the probe's success."""

    __slots__ = ("cooldown", "failures", "opened_at", "probing", "threshold")

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    def allow(self, now: float) -> bool:
        if self.failures < self.threshold:
            return True
        if self.probing or now - self.opened_at < self.cooldown:
            return False
        self.probing = True
        return True

    def retry_after(self, now: float) -> int:
        return max(1, int(self.cooldown - (now - self.opened_at)) + 1)

    def success(self) -> None:
        self.failures, self.probing = 0, False

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at, self.probing = now, False
