"""What the gateway checks before a request may reach a provider (no database access).

- :func:`split_path`: the raw request path, normalised and checked segment by segment so that
  ``..``, ``%2e%2e``, empty segments (``//``), encoded separators (``%2f``, ``%5c``), double
  encoding (``%25``), path parameters (``;``, ``%3b``: Tomcat and other Java containers read
  ``/a/..;/b`` as ``/b``), non-ASCII look-alikes of ``.``, ``/`` or ``\\`` (full-width dot,
  division slash, ...: a provider that folds Unicode would see a separator) and control
  characters can never move a request to another service.
- :class:`TokenCache`: a verified access token's identity, keyed by the token's SHA-256 until
  it expires (bounded); the signature is checked once per token, not once per request.
- :func:`find_grant`: the consumer's grant that covers method and path now.

What the service's published data standard allows (OpenAPI operations, request-body schemas)
is in :mod:`tinhso.exchange.standard`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from tinhso.exchange.policy import (
    InvalidAccessToken,
    OrganisationDisabled,
    path_matches,
    verify_access_token,
)

if TYPE_CHECKING:
    from datetime import datetime

    from tinhso.exchange.policy import ExchangeSnapshot, GrantEntry, ServiceEntry


class PathRejected(ValueError):
    """The path is not one the gateway forwards (traversal, encoded separators, ...)."""


_FORBIDDEN_DECODED = re.compile(rb"[\x00-\x1f\x7f/\\%;]")
# Non-ASCII characters that look like, or that some stack folds (NFKC or by hand) into, a dot,
# a slash or a backslash. NFKC catches the compatibility forms (U+FF0E, U+2024, U+FE52,
# U+FF0F, U+FE68, U+FF3C, ...); these are the look-alikes it leaves alone.
_LOOK_ALIKES = frozenset(
    "\u3002\uff61\u2e3c\u0701\u0702\ua4f8\u00b7\u2027\u2022\u2219"  # dots
    "\u2215\u2044\u29f8\u2cfa\u30fb\u27cb\u2afb"  # slashes
    "\u2216\u29f5\u29f9\u27cd\u2cf9"  # backslashes
)
_FOLDED_SEPARATORS = frozenset("./\\;%")


@dataclass(frozen=True, slots=True)
class RoutedPath:
    route: tuple[str, str, str, str]  # (organisation, system, service code, version)
    rest: str  # decoded, relative to the service, starts with "/": for grant checks
    raw_rest: bytes  # as received (each segment checked), what the provider gets


# Plain paths (no escapes, dots after a slash, backslashes, control characters or spaces) need
# no per-segment decoding: the common case takes this fast route.
_UNUSUAL = re.compile(rb"[%\\;\x00-\x20\x7f-\xff]|/\.|//")
_CACHE: dict[bytes, RoutedPath] = {}
_CACHE_MAX = 4096


def split_path(raw_path: bytes) -> RoutedPath:
    """``/{org}/{system}/{service}/{version}/{rest...}`` -> route and the service-relative path."""
    routed = _CACHE.get(raw_path)
    if routed is not None:
        return routed
    if raw_path[:1] == b"/" and _UNUSUAL.search(raw_path) is None:
        parts = raw_path[1:].decode("ascii").split("/")
        if len(parts) >= 4 and all(parts[:4]):
            org, system, code, version = parts[:4]
            tail = raw_path[1:].split(b"/", 4)
            raw_rest = b"/" + (tail[4] if len(tail) > 4 else b"")
            routed = RoutedPath((org, system, code, version), raw_rest.decode("ascii"), raw_rest)
    if routed is None:
        routed = _split_checked(raw_path)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[raw_path] = routed
    return routed


def _split_checked(raw_path: bytes) -> RoutedPath:
    if not raw_path.startswith(b"/"):
        raise PathRejected("path must start with /")
    segments = raw_path[1:].split(b"/")
    decoded: list[str] = []
    for index, segment in enumerate(segments):
        if not segment:
            # Only a trailing slash may leave an empty segment (after the route).
            if index == len(segments) - 1 and index >= 4:
                decoded.append("")
                continue
            raise PathRejected("empty path segment")
        value = unquote_to_bytes(segment) if b"%" in segment else segment
        if _FORBIDDEN_DECODED.search(value) or value in (b".", b".."):
            raise PathRejected("forbidden path segment")
        try:
            text = value.decode()
        except UnicodeDecodeError:
            raise PathRejected("path is not UTF-8") from None
        if not text.isascii() and _looks_like_a_separator(text):
            raise PathRejected("look-alike of a dot or a separator")
        decoded.append(text)
    if len(decoded) < 4:
        raise PathRejected("path names no service")
    org, system, code, version = decoded[:4]
    rest_segments = segments[4:]
    rest = "/" + "/".join(decoded[4:])
    raw_rest = b"/" + b"/".join(rest_segments)
    return RoutedPath((org, system, code, version), rest, raw_rest)


def _looks_like_a_separator(segment: str) -> bool:
    """Whether a non-ASCII segment holds a character that passes for ``.``, ``/`` or ``\\``."""
    if not _LOOK_ALIKES.isdisjoint(segment):
        return True
    folded = unicodedata.normalize("NFKC", segment)
    return folded != segment and any(
        folded.count(mark) != segment.count(mark) for mark in _FOLDED_SEPARATORS
    )


@dataclass(frozen=True, slots=True)
class Identity:
    consumer: str  # "org/system"
    client_id: str
    kid: str
    expires: float  # epoch seconds


class TokenCache:
    """Verified tokens by SHA-256 (bounded). Entries are re-checked against the snapshot's keys
    and client ids on every use, so a removed key or revoked credential takes effect at once."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[bytes, Identity] = {}

    def identify(self, token: str, snapshot: ExchangeSnapshot) -> Identity:
        """The token's identity; raises :class:`InvalidAccessToken` if it is not acceptable."""
        digest = hashlib.sha256(token.encode()).digest()
        identity = self._entries.get(digest)
        now = time.time()
        if identity is None:
            claims = verify_access_token(token, snapshot.public_keys, snapshot.issuer)
            consumer = claims.get("tinhso_system")
            if not isinstance(consumer, str) or consumer.count("/") != 1:
                raise InvalidAccessToken("no system claim")
            kid = str(json.loads(_b64decode(token.split(".", 1)[0])).get("kid"))
            identity = Identity(consumer, str(claims["sub"]), kid, float(claims["exp"]))
            if len(self._entries) >= self.max_entries:
                self._evict(now)
            self._entries[digest] = identity
        if identity.expires <= now:
            self._entries.pop(digest, None)
            raise InvalidAccessToken("expired")
        if identity.consumer.partition("/")[0] in snapshot.disabled_organisations:
            raise OrganisationDisabled(identity.consumer)
        if (
            identity.kid not in snapshot.public_keys
            or identity.client_id not in snapshot.client_ids
        ):
            raise InvalidAccessToken("key or credential no longer valid")
        return identity

    def _evict(self, now: float) -> None:
        self._entries = {k: v for k, v in self._entries.items() if v.expires > now}
        if len(self._entries) >= self.max_entries:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _b64decode(part: str) -> bytes:
    import base64  # noqa: PLC0415 - only on the first use of a token

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def find_grant(
    snapshot: ExchangeSnapshot,
    consumer: str,
    service: ServiceEntry,
    method: str,
    rest: str,
    now: datetime,
) -> tuple[GrantEntry | None, str | None, bool]:
    """(grant, matching path pattern, whether the consumer has any grant on the service)."""
    grants = snapshot.grants_for(consumer, service.key)
    for grant in grants:
        if not grant.valid_at(now) or method not in grant.methods:
            continue
        for pattern in grant.paths:
            if path_matches(pattern, rest):
                return grant, pattern, True
    return None, None, bool(grants)
