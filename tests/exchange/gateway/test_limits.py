"""The in-process limiter: token bucket and daily quota of one grant."""

from __future__ import annotations

from tinhso.core.db import utcnow
from tinhso.exchange.gateway.limits import LocalLimiter
from tinhso.exchange.policy import GrantEntry


def _grant(quota: int | None, rate: int | None, burst: int | None) -> GrantEntry:
    return GrantEntry(
        id=7,
        consumer="so-tttt/lgsp",
        service="so-yte/his/ho-so/v1",
        methods=frozenset({"GET"}),
        paths=("/",),
        valid_from=utcnow(),
        valid_until=None,
        quota_per_day=quota,
        rate_per_second=rate,
        burst=burst,
    )


def test_quota_refusals_do_not_spend_rate_tokens() -> None:
    limiter = LocalLimiter()
    quota_then_rate = _grant(quota=1, rate=1, burst=2)
    assert limiter.check(quota_then_rate).allowed
    for _ in range(3):
        refused = limiter.check(quota_then_rate)
        assert (refused.allowed, refused.reason) == (False, "quota")
    # The bucket still holds the second token of the burst: with a larger quota it is usable.
    wider = _grant(quota=5, rate=1, burst=2)
    assert limiter.check(wider).allowed


def test_rate_limit_refuses_past_the_burst() -> None:
    limiter = LocalLimiter()
    grant = _grant(quota=None, rate=1, burst=2)
    assert limiter.check(grant).allowed
    assert limiter.check(grant).allowed
    refused = limiter.check(grant)
    assert (refused.allowed, refused.reason) == (False, "rate")
    assert refused.retry_after >= 1
