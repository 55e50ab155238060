"""Circuit breaker per service and provider origin, used by the gateway (one per worker process).

Only the provider's failures count: a refusal, a body the consumer sent too slowly or an
answer the consumer left are not (see :mod:`tinhso.exchange.gateway.forwarding`), so no consumer can
open a provider's breaker for the others.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class Breaker:
    """Per service and provider origin: open after ``threshold`` consecutive failures, one probe after
    ``cooldown`` seconds (half-open), closed again on the probe's success."""

    __slots__ = ("cooldown", "failures", "name", "opened_at", "probing", "threshold")

    def __init__(self, threshold: int, cooldown: float, name: str = "") -> None:
        self.threshold, self.cooldown, self.name = threshold, cooldown, name
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
        log.info("breaker half-open: one probe to %s", self.name, extra={"breaker": "half-open"})
        return True

    def retry_after(self, now: float) -> int:
        return max(1, int(self.cooldown - (now - self.opened_at)) + 1)

    def success(self) -> None:
        if self.failures >= self.threshold:
            log.info("breaker closed: %s answers again", self.name, extra={"breaker": "closed"})
        self.failures, self.probing = 0, False

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            if self.failures == self.threshold or self.probing:
                log.info(
                    "breaker open: %s failed %d times, %.0f s before a probe",
                    self.name,
                    self.failures,
                    self.cooldown,
                    extra={"breaker": "open"},
                )
            self.opened_at, self.probing = now, False
