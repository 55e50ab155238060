"""The rules both planes share, in one module that imports neither plane.

The control plane issues access tokens, publishes grants and counts the token endpoint's
callers; the data plane (the gateway) verifies those tokens, matches requests against those
grants and counts consumers. Both must read the same rules the same way, so they live here:

- the access token's audience and algorithm, and :func:`verify_access_token`;
- what the gateway admits by: :class:`ServiceEntry`, :class:`GrantEntry` (with
  :func:`path_matches`, a grant's path templates) and :class:`ExchangeSnapshot`, built from the
  database by ``tinhso.exchange.snapshot``;
- the token bucket (:func:`refill`, :func:`seconds_to_token`), the same arithmetic as the
  Redis limit script (token bucket and daily quota), and the quota day (UTC+7).

Only the standard library, PyJWT and the exchange's enums are imported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt

from tinhso.exchange.models import ServiceStatus

ALGORITHM = "EdDSA"
DAY_OFFSET_SECONDS = 7 * 3600  # Asia/Ho_Chi_Minh, no daylight saving


TOKEN_AUDIENCE = "tinhso-gateway"  # noqa: S105 - an audience, not a secret


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    id: int
    organisation: str
    system: str
    code: str
    version: str
    base_url: str  # no trailing slash; the request path relative to the service is appended
    timeout_ms: int
    max_request_bytes: int
    max_response_bytes: int
    request_schema: Mapping[str, Any] | None
    response_schema: Mapping[str, Any] | None
    classification: str
    status: ServiceStatus
    # "org/system/code/version": the service's name in grants and audit records (built once
    # when the snapshot loads, not on every request).
    key: str
    # The published OpenAPI 3 document: when present, the gateway forwards only its operations.
    openapi: Mapping[str, Any] | None = None

    @property
    def callable(self) -> bool:
        return self.status in (ServiceStatus.PUBLISHED, ServiceStatus.DEPRECATED)


@dataclass(frozen=True, slots=True)
class GrantEntry:
    id: int
    consumer: str  # "org/system"
    service: str  # "org/system/code/version"
    methods: frozenset[str]  # upper-case HTTP methods
    # Relative to the service: templates with {name} segments ("/citizens/{id}") match one
    # segment per placeholder and the exact number of segments; a path ending in "/" (or "/*")
    # is a prefix ("/" alone allows everything).
    paths: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    quota_per_day: int | None
    rate_per_second: int | None
    burst: int | None

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def allows(self, method: str, path: str) -> bool:
        """Whether this grant covers ``method`` on ``path`` (relative to the service)."""
        if method.upper() not in self.methods:
            return False
        return any(path_matches(pattern, path) for pattern in self.paths)


def path_matches(pattern: str, path: str) -> bool:
    """Match a request path against a grant's path prefix or template (see GrantEntry.paths)."""
    if pattern.endswith("/*"):
        pattern = pattern[:-1]
    if pattern.endswith("/") and "{" not in pattern:
        return path.startswith(pattern) or path == pattern.rstrip("/")
    want = pattern.strip("/").split("/")
    got = path.strip("/").split("/")
    if len(want) != len(got):
        return False
    for expected, actual in zip(want, got, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            if not actual or actual in {".", ".."}:
                return False
        elif expected != actual:
            return False
    return True


@dataclass(frozen=True, slots=True)
class ExchangeSnapshot:
    version: int
    loaded_at: datetime
    issuer: str | None
    audience: str
    services: Mapping[tuple[str, str, str, str], ServiceEntry]
    grants: Mapping[tuple[str, str], tuple[GrantEntry, ...]]
    public_keys: Mapping[str, Mapping[str, Any]]
    client_ids: frozenset[str]
    certificates: Mapping[str, str] = field(default_factory=dict)
    # Codes of disabled organisations: their systems neither consume nor provide (the gateway
    # says so in its own words rather than as an unknown credential or a retired service).
    disabled_organisations: frozenset[str] = frozenset()

    def service(
        self, organisation: str, system: str, code: str, version: str
    ) -> ServiceEntry | None:
        return self.services.get((organisation, system, code, version))

    def grants_for(self, consumer: str, service_key: str) -> tuple[GrantEntry, ...]:
        return self.grants.get((consumer, service_key), ())


class InvalidAccessToken(Exception):
    """An access token that is malformed, expired, not ours or signed by an unknown key."""


class OrganisationDisabled(InvalidAccessToken):
    """A valid access token of a system whose organisation is disabled."""


def verify_access_token(
    token: str,
    public_keys: Mapping[str, Mapping[str, Any]],
    issuer: str | None,
    audience: str = TOKEN_AUDIENCE,
    leeway_seconds: int = 5,
) -> dict[str, Any]:
    """Verify a platform access token against published keys (e.g. ``snapshot.public_keys``).

    Returns the claims; raises :class:`InvalidAccessToken` otherwise. Only EdDSA is accepted,
    whatever the token's header says.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidAccessToken(str(error)) from error
    if header.get("alg") != ALGORITHM:
        raise InvalidAccessToken("unexpected algorithm")
    jwk = public_keys.get(str(header.get("kid")))
    if jwk is None:
        raise InvalidAccessToken("unknown key id")
    try:
        key = jwt.PyJWK.from_dict(dict(jwk), algorithm=ALGORITHM)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidAccessToken(str(error)) from error
    return claims


# KEYS[1] bucket, KEYS[2] quota counter; ARGV: now, rate (0 = none), capacity, quota (-1 = none),
# quota ttl. Returns {allowed, retry_after_ms_or_seconds, reason, used}. Also the token endpoint's
# per-address bucket (tinhso.exchange.oauth.api.SharedAddressLimiter: no quota).
LIMIT_SCRIPT = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local quota = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
if rate > 0 then
  local b = redis.call('HMGET', KEYS[1], 't', 'ts')
  local tokens = tonumber(b[1]) or capacity
  local ts = tonumber(b[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
  if tokens < 1 then
    redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
    redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
    return {0, math.ceil((1 - tokens) / rate * 1000), 'rate', 0}
  end
  if quota >= 0 then
    local used = tonumber(redis.call('GET', KEYS[2]) or '0')
    if used >= quota then
      return {0, ttl * 1000, 'quota', used}
    end
  end
  redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'ts', tostring(now))
  redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
elseif quota >= 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= quota then
    return {0, ttl * 1000, 'quota', used}
  end
end
local used = 0
if quota >= 0 then
  used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('EXPIRE', KEYS[2], ttl + 60) end
end
return {1, 0, '', used}
"""


def refill(bucket: list[float], capacity: float, rate: float, now: float) -> float:
    """Bring a ``[tokens, updated at]`` bucket to ``now`` and return its tokens: ``rate`` tokens
    a second up to ``capacity``, as :data:`LIMIT_SCRIPT` does in Redis. A caller that admits a
    request then takes one token (``bucket[0] -= 1``)."""
    tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
    bucket[0] = tokens
    bucket[1] = now
    return tokens


def seconds_to_token(tokens: float, rate: float) -> int:
    """Whole seconds (at least 1) until a bucket holding ``tokens`` has one to give."""
    return max(1, math.ceil((1.0 - tokens) / rate))
