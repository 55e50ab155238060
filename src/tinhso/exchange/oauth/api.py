"""The OAuth2 token endpoint (client credentials) and the platform's JWKS.

The token endpoint is rate limited per client IP address before any credential is looked at: a
token bucket of ``settings.oauth_rate_per_minute`` requests, refilled continuously. Without
``settings.redis_url`` the buckets live in this process's memory (:class:`AddressLimiter`; with
N processes or nodes an address gets up to N times the budget). With Redis the buckets are one
atomic script per request in Redis (:class:`SharedAddressLimiter`, the gateway's limit script, keys
``tinhso:exchange:oauth:address:<address>``), shared by every process and node. If Redis cannot
be reached the endpoint neither fails nor refuses everyone: the process's own bucket answers
(one warning per outage, the URL without its password) and Redis is tried again every few
seconds. Failed client authentications make the address that sent them wait (see
:mod:`tinhso.exchange.oauth.tokens`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import JSONResponse

from tinhso.core.config import Settings
from tinhso.core.web import DbSession
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.notices import safe_url, without_password
from tinhso.exchange.oauth.credentials import ALGORITHMS_BY_KEY
from tinhso.exchange.oauth.tokens import OAuthError, token_endpoint_url, token_service
from tinhso.exchange.policy import LIMIT_SCRIPT, refill, seconds_to_token
from tinhso.exchange.schemas import OAuthErrorOut, TokenOut
from tinhso.registry.backoff import address_of

log = logging.getLogger(__name__)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]
router = APIRouter()
OAUTH: list[str | Enum] = ["exchange: OAuth2"]


class AddressLimiter:
    """Token buckets per client IP address: ``per_minute`` requests, refilled continuously
    (bounded: full buckets are dropped first when there are too many addresses)."""

    def __init__(self, per_minute: int, max_addresses: int = 100_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_addresses = max_addresses
        self._buckets: dict[str, list[float]] = {}  # address -> [tokens, last update]
        self._lock = threading.Lock()  # the endpoint runs in a thread pool

    def check(self, address: str, now: float | None = None) -> int:
        """0 if a request from ``address`` may go ahead (and count it), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                if len(self._buckets) >= self.max_addresses:
                    self._evict(now)
                bucket = self._buckets[address] = [self.capacity, now]
            tokens = refill(bucket, self.capacity, self.rate, now)
            if tokens < 1.0:
                return seconds_to_token(tokens, self.rate)
            bucket[0] -= 1.0
            return 0

    def _evict(self, now: float) -> None:
        self._buckets = {
            address: bucket
            for address, bucket in self._buckets.items()
            if bucket[0] + (now - bucket[1]) * self.rate < self.capacity
        }
        if len(self._buckets) >= self.max_addresses:
            self._buckets.clear()


# The Redis key of an address's bucket is this prefix + the address (IPv4 or IPv6 text).
ADDRESS_KEY_PREFIX = "tinhso:exchange:oauth:address:"

_CONNECT_TIMEOUT = 0.5
_TIMEOUT = 0.5


class SharedAddressLimiter:
    """The same token buckets in Redis, shared by every process and node of the control plane.

    While Redis cannot be reached, an :class:`AddressLimiter` of this process answers (the
    endpoint neither fails nor refuses everyone): a warning is logged once per outage and Redis
    is tried again by one request every ``retry_seconds`` (so a Redis that is down costs at most
    one connection attempt per interval, not one per request).
    """

    def __init__(self, redis_url: str, per_minute: int, retry_seconds: float = 5.0) -> None:
        import redis  # noqa: PLC0415 - only when Redis is configured
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.retry import Retry  # noqa: PLC0415

        self.per_minute = per_minute
        self.retry_seconds = retry_seconds
        self.local = AddressLimiter(per_minute)  # the fallback while Redis is away
        self._redis_url = redis_url
        # One client (and its connection pool) for the app's life; it connects on first use.
        self._client: Any = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            socket_timeout=_TIMEOUT,
            retry=Retry(NoBackoff(), 1),  # a connection Redis dropped is replaced at once
        )
        self._script: Any = self._client.register_script(LIMIT_SCRIPT)
        self._lock = threading.Lock()
        self._retry_at: float | None = None  # set while degraded: when to try Redis again

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and this process counts on its own."""
        return self._retry_at is not None

    def check(self, address: str) -> int:
        """0 if a request from ``address`` may go ahead (and count it), else the seconds to wait."""
        if not self._try_redis():
            return self.local.check(address)
        try:
            allowed, retry_ms, _reason, _used = self._script(
                keys=[ADDRESS_KEY_PREFIX + address, ""],  # no quota counter
                args=[repr(time.time()), self.per_minute / 60, self.per_minute, -1, 0],
            )
        except Exception as error:  # any Redis failure: count locally, never fail the request
            self._went_away(error)
            return self.local.check(address)
        self._came_back()
        return 0 if int(allowed) else max(1, math.ceil(int(retry_ms) / 1000))

    def close(self) -> None:
        self._client.close()

    def _try_redis(self) -> bool:
        """Whether this request asks Redis: always while it answers, else one per interval."""
        if self._retry_at is None:
            return True
        with self._lock:
            now = time.monotonic()
            if self._retry_at is None or now < self._retry_at:
                return self._retry_at is None
            self._retry_at = now + self.retry_seconds  # this request probes; the others wait
            return True

    def _went_away(self, error: Exception) -> None:
        with self._lock:
            first = self._retry_at is None
            self._retry_at = time.monotonic() + self.retry_seconds
        if first:
            log.warning(
                "oauth: Redis at %s unreachable; token requests are limited per address in each "
                "process on its own until it answers again: %s",
                safe_url(self._redis_url),
                without_password(str(error), self._redis_url),
            )

    def _came_back(self) -> None:
        if self._retry_at is None:
            return
        with self._lock:
            back = self._retry_at is not None
            self._retry_at = None
        if back:
            log.info(
                "oauth: Redis at %s answers again; token request limits are shared again",
                safe_url(self._redis_url),
            )


_limiter_lock = threading.Lock()


def _address_limiter(request: Request, settings: Settings) -> AddressLimiter | SharedAddressLimiter:
    """The app's limiter, made on first use with the app's settings (one per app, never one
    per request): shared through Redis when ``settings.redis_url`` is set."""
    limiter: AddressLimiter | SharedAddressLimiter | None = getattr(
        request.app.state, "oauth_limiter", None
    )
    if limiter is None:
        with _limiter_lock:
            limiter = getattr(request.app.state, "oauth_limiter", None)
            if limiter is None:
                limiter = _new_limiter(settings)
                request.app.state.oauth_limiter = limiter
    return limiter


def close_address_limiter(state: Any) -> None:
    """At the app's shut-down: let the shared limiter's Redis connections go (if it has one)."""
    limiter = getattr(state, "oauth_limiter", None)
    if isinstance(limiter, SharedAddressLimiter):
        limiter.close()


def _new_limiter(settings: Settings) -> AddressLimiter | SharedAddressLimiter:
    if settings.redis_url:
        try:
            return SharedAddressLimiter(settings.redis_url, settings.oauth_rate_per_minute)
        except ValueError as error:  # a malformed URL: count per process rather than fail
            log.warning(
                "oauth: Redis URL %s not usable; token requests are limited per address in "
                "each process on its own: %s",
                safe_url(settings.redis_url),
                without_password(str(error), settings.redis_url),
            )
    return AddressLimiter(settings.oauth_rate_per_minute)


@router.post(
    "/oauth/token",
    tags=OAUTH,
    response_model=TokenOut,
    summary="OAuth2 client credentials grant: client_secret_basic or private_key_jwt (registered systems)",
    responses={
        400: {"description": "RFC 6749 error", "model": OAuthErrorOut},
        401: {"description": "invalid_client", "model": OAuthErrorOut},
        429: {
            "description": "Too many requests from this address, or the client_id is locked",
            "model": OAuthErrorOut,
        },
    },
)
def oauth_token(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    grant_type: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    address = address_of(request.client.host if request.client else None)
    wait = _address_limiter(request, settings).check(address)
    if wait:
        error = OAuthError(
            "slow_down",
            f"Quá nhiều yêu cầu cấp mã từ địa chỉ này; thử lại sau {wait} giây",
            f"Too many token requests from this address; try again in {wait} seconds",
            status=429,
            retry_after=wait,
        )
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers())
    form = {
        name: value
        for name, value in {
            "grant_type": grant_type,
            "scope": scope,
            "client_id": client_id,
            "client_secret": client_secret,
            "client_assertion_type": client_assertion_type,
            "client_assertion": client_assertion,
        }.items()
        if value is not None
    }
    try:
        issued = token_service.issue(session, settings, form, authorization, address)
    except OAuthError as error:
        session.rollback()  # a failed attempt writes nothing (but its count, on its own)
        if error.failed_authentication:
            token_service.count_failure(
                session.get_bind(), error.failed_client_id, settings, address
            )
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers())
    body = TokenOut(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.get(
    "/.well-known/jwks.json",
    tags=OAUTH,
    summary="The platform's public signing keys: active, next and recently retired (public)",
)
def jwks(session: DbSession) -> JSONResponse:
    return JSONResponse(
        signing_key_service.jwks(session),
        headers={"Cache-Control": "public, max-age=60"},
    )


# The client authentication methods the token endpoint accepts (RFC 8414 names).
TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "private_key_jwt")


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    """The token endpoint's RFC 8414 metadata: where it is, how clients authenticate, with
    which assertion algorithms, and where the platform's signing keys are."""
    issuer = settings.base_url.rstrip("/")
    algorithms = [algorithm for group in ALGORITHMS_BY_KEY.values() for algorithm in group]
    return {
        "issuer": settings.base_url,  # the ``iss`` of the access tokens, exactly
        "token_endpoint": token_endpoint_url(settings),
        "jwks_uri": issuer + "/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint: nothing is issued through a response type. RFC 8414 makes
        # the member required, so it is present and says so ("none").
        "response_types_supported": ["none"],
        "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": algorithms,
        "service_documentation": issuer + "/api/docs",
        "ui_locales_supported": ["vi", "en"],
    }


@router.get(
    "/.well-known/oauth-authorization-server",
    tags=OAUTH,
    summary="The token endpoint's OAuth 2.0 authorization server metadata, RFC 8414 (public)",
)
def oauth_metadata(settings: AppSettings) -> JSONResponse:
    return JSONResponse(
        authorization_server_metadata(settings),
        headers={"Cache-Control": "public, max-age=3600"},
    )
