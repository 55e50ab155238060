"""The OAuth2 token endpoint (client credentials) and the platform's JWKS.

The token endpoint is rate limited per client IP address (:class:`AddressLimiter`, a token
bucket of ``settings.oauth_rate_per_minute`` in this process's memory) before any credential is
looked at; failed client authentications lock a client_id (see :mod:`tinhso.exchange.credentials`).
"""

from __future__ import annotations

import math
import threading
import time
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import JSONResponse

from tinhso.core.config import Settings
from tinhso.core.db import DbSession
from tinhso.exchange.credentials import OAuthError, token_service
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.schemas import TokenOut


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
            bucket[0] = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if bucket[0] < 1.0:
                return max(1, math.ceil((1.0 - bucket[0]) / self.rate))
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


_limiter_lock = threading.Lock()


def _address_limiter(request: Request, settings: Settings) -> AddressLimiter:
    """The app's limiter (one per app, made on first use with the app's settings)."""
    limiter: AddressLimiter | None = getattr(request.app.state, "oauth_limiter", None)
    if limiter is None:
        with _limiter_lock:
            limiter = getattr(request.app.state, "oauth_limiter", None)
            if limiter is None:
                limiter = AddressLimiter(settings.oauth_rate_per_minute)
                request.app.state.oauth_limiter = limiter
    return limiter


@router.post(
    "/oauth/token",
    tags=OAUTH,
    response_model=TokenOut,
    summary="OAuth2 client credentials grant: client_secret_basic or private_key_jwt (registered systems)",
    responses={
        400: {"description": "RFC 6749 error"},
        401: {"description": "invalid_client"},
        429: {"description": "Too many requests from this address, or the client_id is locked"},
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
    address = request.client.host if request.client else "-"
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
        issued = token_service.issue(session, settings, form, authorization)
    except OAuthError as error:
        session.rollback()  # a failed attempt writes nothing (but its count, on its own)
        if error.failed_client_id is not None:
            token_service.count_failure(session.get_bind(), error.failed_client_id, settings)
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
