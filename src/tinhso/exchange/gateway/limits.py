"""Per-grant rate limit (token bucket) and daily quota.

- :class:`LocalLimiter`: in this process's memory (one node; with N worker processes each one
  counts on its own, so the effective limit is up to N times the grant's figures).
- :class:`RedisLimiter`: one atomic Lua script per request in Redis, shared by every process
  and node (``settings.redis_url``). If Redis cannot be reached the local limiter answers, so
  the exchange keeps working (logged once).

The quota day is the Vietnamese calendar day (UTC+7).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinhso.exchange.policy import DAY_OFFSET_SECONDS, LIMIT_SCRIPT, refill, seconds_to_token

if TYPE_CHECKING:
    from tinhso.exchange.policy import GrantEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds, when refused
    reason: str = ""  # "rate" or "quota" when refused
    quota_used: int = 0  # today's count for the grant, when it has a quota


ALLOW = Decision(allowed=True)


def _day_and_reset(now: float) -> tuple[int, int]:
    local = now + DAY_OFFSET_SECONDS
    day = int(local // 86400)
    return day, max(1, math.ceil((day + 1) * 86400 - local))


class LocalLimiter:
    def __init__(self) -> None:
        self._buckets: dict[int, list[float]] = {}
        self._quota: dict[int, list[int]] = {}  # grant id -> [day, count]

    def check(self, grant: GrantEntry) -> Decision:
        if grant.rate_per_second is None and grant.quota_per_day is None:
            return ALLOW
        now = time.time()
        rate = grant.rate_per_second
        bucket: list[float] | None = None
        if rate is not None and rate > 0:
            capacity = float(grant.burst or rate)
            bucket = self._buckets.get(grant.id)
            if bucket is None:
                bucket = self._buckets[grant.id] = [capacity, now]
            tokens = refill(bucket, capacity, rate, now)
            if tokens < 1.0:
                return Decision(
                    allowed=False, retry_after=seconds_to_token(tokens, rate), reason="rate"
                )
        counter = None
        if grant.quota_per_day is not None:
            day = int((now + DAY_OFFSET_SECONDS) // 86400)
            counter = self._quota.get(grant.id)
            if counter is None or counter[0] != day:
                counter = self._quota[grant.id] = [day, 0]
            if counter[1] >= grant.quota_per_day:
                # Refused for quota: no rate token is spent (as in the Redis script).
                return Decision(
                    allowed=False,
                    retry_after=_day_and_reset(now)[1],
                    reason="quota",
                    quota_used=counter[1],
                )
        if bucket is not None:
            bucket[0] -= 1.0
        if counter is None:
            return Decision(allowed=True, quota_used=0)
        counter[1] += 1
        return Decision(allowed=True, quota_used=counter[1])


class RedisLimiter:
    """Shared limits in Redis; falls back to a :class:`LocalLimiter` while Redis is away."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis_asyncio  # noqa: PLC0415 - only when configured

        self._client: Any = redis_asyncio.Redis.from_url(url, socket_timeout=0.5)
        self._script: Any = self._client.register_script(LIMIT_SCRIPT)
        self._fallback = LocalLimiter()
        self._degraded = False

    async def check(self, grant: GrantEntry) -> Decision:
        if grant.rate_per_second is None and grant.quota_per_day is None:
            return ALLOW
        now = time.time()
        day, reset = _day_and_reset(now)
        rate = grant.rate_per_second or 0
        try:
            result = await self._script(
                keys=[f"tinhso:rl:{grant.id}", f"tinhso:quota:{grant.id}:{day}"],
                args=[
                    repr(now),
                    rate,
                    grant.burst or rate or 1,
                    -1 if grant.quota_per_day is None else grant.quota_per_day,
                    reset,
                ],
            )
        except Exception as error:
            if not self._degraded:
                log.warning("limits: Redis unavailable, counting locally: %s", error)
            self._degraded = True
            return self._fallback.check(grant)
        self._degraded = False
        allowed, retry_ms, reason, used = result
        if int(allowed):
            return Decision(allowed=True, quota_used=int(used))
        reason_text = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Decision(
            allowed=False,
            retry_after=max(1, math.ceil(int(retry_ms) / 1000)),
            reason=reason_text,
            quota_used=int(used),
        )

    async def close(self) -> None:
        await self._client.aclose()
