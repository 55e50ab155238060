"""What the gateway checks before a request may reach a provider (no database access).

- :func:`split_path`: the raw request path, normalised and checked segment by segment so that
  ``..``, ``%2e%2e``, empty segments (``//``), encoded separators (``%2f``, ``%5c``), double
  encoding (``%25``) and control characters can never move a request to another service.
- :class:`TokenCache`: a verified access token's identity, keyed by the token's SHA-256 until
  it expires (bounded); the signature is checked once per token, not once per request.
- :func:`find_grant`: the consumer's grant that covers method and path now.
- :class:`Validators`: request-body JSON Schema validators compiled once per snapshot, and
  :class:`Operations`: the operations of each service's OpenAPI document (path templates,
  methods, request-body schemas with their local ``$ref``s), compiled at the same time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import jsonschema
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30Validator, OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from tinhso.exchange.keys import InvalidAccessToken, verify_access_token
from tinhso.exchange.snapshot import path_matches

if TYPE_CHECKING:
    from datetime import datetime

    from tinhso.exchange.snapshot import ExchangeSnapshot, GrantEntry, ServiceEntry

log = logging.getLogger(__name__)


class PathRejected(ValueError):
    """The path is not one the gateway forwards (traversal, encoded separators, ...)."""


_FORBIDDEN_DECODED = re.compile(rb"[\x00-\x1f\x7f/\\%]")


@dataclass(frozen=True, slots=True)
class RoutedPath:
    route: tuple[str, str, str, str]  # (organisation, system, service code, version)
    rest: str  # decoded, relative to the service, starts with "/": for grant checks
    raw_rest: bytes  # as received (each segment checked), what the provider gets


# Plain paths (no escapes, dots after a slash, backslashes, control characters or spaces) need
# no per-segment decoding: the common case takes this fast route.
_UNUSUAL = re.compile(rb"[%\\\x00-\x20\x7f-\xff]|/\.|//")
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
            decoded.append(value.decode())
        except UnicodeDecodeError:
            raise PathRejected("path is not UTF-8") from None
    if len(decoded) < 4:
        raise PathRejected("path names no service")
    org, system, code, version = decoded[:4]
    rest_segments = segments[4:]
    rest = "/" + "/".join(decoded[4:])
    raw_rest = b"/" + b"/".join(rest_segments)
    return RoutedPath((org, system, code, version), rest, raw_rest)


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


@dataclass(frozen=True, slots=True)
class SchemaError:
    field: str
    message: str


class Validators:
    """Request-body validators per service id, compiled when a snapshot is loaded; also the
    services' OpenAPI operations (:attr:`operations`)."""

    def __init__(self, services: list[ServiceEntry]) -> None:
        self._by_service: dict[int, Validator] = {}
        for service in services:
            schema = service.request_schema
            if not schema:
                continue
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(dict(schema))
            self._by_service[service.id] = cls(dict(schema))
        self.operations = Operations(services, self._by_service)

    def get(self, service_id: int) -> Validator | None:
        return self._by_service.get(service_id)


# -- operations of a service's OpenAPI document ----------------------------------------------------
_OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_DOCUMENT_URI = "urn:tinhso:openapi"
_PARAMETER = re.compile(r"\{[^{}/]+\}")


class UnusableDocument(ValueError):
    """The OpenAPI document cannot be compiled (a $ref that is not local or does not resolve)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path template of a service's OpenAPI document."""

    template: str  # as in the document, e.g. "/items/{id}": the audit record's path_template
    method: str  # upper case
    validator: Validator | None  # the operation's JSON body schema, else the service's schema
    # Whether the document says a body is required; None: the operation has no JSON
    # requestBody (the service's request_schema, if any, applies as it always did).
    body_required: bool | None


@dataclass(frozen=True, slots=True)
class PathItem:
    template: str
    methods: Mapping[str, Operation]  # upper-case method -> operation (HEAD falls back to GET)
    allow: bytes  # the Allow header when the method is not one of them


class ServiceOperations:
    """Path templates of one service: exact paths in a dict, templated ones in one regex whose
    alternatives are ordered so that literal segments win over templated ones."""

    def __init__(self, items: list[PathItem]) -> None:
        self._literal: dict[str, PathItem] = {}
        templated: list[tuple[tuple[int, ...], int, PathItem]] = []
        for index, item in enumerate(items):
            if "{" in item.template:
                templated.append((_specificity(item.template), index, item))
            else:
                self._literal[item.template] = item
        templated.sort(key=lambda entry: (entry[0], entry[1]))
        self._templated = [item for _, _, item in templated]
        self._pattern = (
            re.compile("|".join(f"({_template_regex(i.template)})" for i in self._templated))
            if self._templated
            else None
        )
        self._cache: dict[str, PathItem | None] = {}

    def path_item(self, path: str) -> PathItem | None:
        """The path item whose template matches ``path`` (decoded, service-relative)."""
        item = self._literal.get(path)
        if item is not None:
            return item
        try:
            return self._cache[path]
        except KeyError:
            pass
        if self._pattern is not None:
            match = self._pattern.fullmatch(path)
            item = self._templated[match.lastindex - 1] if match and match.lastindex else None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[path] = item
        return item

    def match(self, method: str, path: str) -> tuple[Operation | None, PathItem | None]:
        """(operation, path item): (None, None) when no path matches, (None, item) when the
        path matches but not the method."""
        item = self.path_item(path)
        if item is None:
            return None, None
        return item.methods.get(method), item


def _specificity(template: str) -> tuple[int, ...]:
    """Sort key: per segment, literal (0) before partly templated (1) before a bare {param} (2)."""
    key = []
    for segment in template.split("/"):
        if "{" not in segment:
            key.append(0)
        elif _PARAMETER.fullmatch(segment):
            key.append(2)
        else:
            key.append(1)
    return tuple(key)


def _template_regex(template: str) -> str:
    """``/items/{id}.json`` -> a regex where each parameter is one non-empty segment part."""
    parts: list[str] = []
    position = 0
    for found in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : found.start()]))
        parts.append("[^/]+")
        position = found.end()
    parts.append(re.escape(template[position:]))
    return "".join(parts)


class Operations:
    """The operations of every service that has an OpenAPI document (compiled per snapshot).

    A document that cannot be compiled leaves its service with no operations (every request is
    refused as an unknown operation, and a warning is logged): the gateway never forwards what
    it cannot check against the published standard.
    """

    def __init__(
        self, services: list[ServiceEntry], service_validators: Mapping[int, Validator]
    ) -> None:
        self._by_service: dict[int, ServiceOperations] = {}
        for service in services:
            document = service.openapi
            if not document:
                continue
            try:
                items = compile_document(document, service_validators.get(service.id))
            except Exception as error:  # a document we cannot compile: refuse, never forward
                log.warning("gateway: OpenAPI document of %s is not usable: %s", service.key, error)
                items = []
            self._by_service[service.id] = ServiceOperations(items)

    def get(self, service_id: int) -> ServiceOperations | None:
        return self._by_service.get(service_id)


def compile_document(
    document: Mapping[str, Any], fallback: Validator | None = None
) -> list[PathItem]:
    """The path items of an OpenAPI 3.x document, their operations and body validators.

    ``fallback``: the service's request_schema validator, used by operations without a JSON
    request body schema. The ``servers`` base paths are not used: the request path relative to
    the service is matched against ``paths`` as written.
    """
    oas31 = not str(document.get("openapi", "3.1")).startswith("3.0")
    resource: Resource[Any] = (DRAFT202012 if oas31 else DRAFT4).create_resource(dict(document))
    registry: Registry[Any] = Registry().with_resource(_DOCUMENT_URI, resource)
    items: list[PathItem] = []
    paths = document.get("paths") or {}
    for template, raw_item in paths.items():
        if not isinstance(template, str) or not template.startswith("/"):
            continue
        path_item = _resolve(document, raw_item)
        methods: dict[str, Operation] = {}
        for name in _OPENAPI_METHODS:
            operation = path_item.get(name)
            if not isinstance(operation, Mapping):
                continue
            method = name.upper()
            validator, required = fallback, None
            body = operation.get("requestBody")
            if isinstance(body, Mapping):
                pointer = f"/paths/{_escape(template)}/{name}/requestBody"
                if "$ref" in body:
                    pointer = _local_pointer(body["$ref"])
                    body = _resolve(document, body)
                media = _json_media_type(body.get("content") or {})
                if media is not None and "schema" in body["content"][media]:
                    schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
                    schema = _pointer(document, schema_pointer)
                    cls = OAS31Validator if oas31 else OAS30Validator
                    if _check_references(document, schema):
                        # Resolved inside the document, so "#/components/..." works.
                        wrapper = {"$ref": f"{_DOCUMENT_URI}#{schema_pointer}"}
                        validator = cls(wrapper, registry=registry)
                    else:
                        validator = cls(schema)
                    required = bool(body.get("required", False))
            methods[method] = Operation(template, method, validator, required)
        if "GET" in methods and "HEAD" not in methods:
            methods["HEAD"] = methods["GET"]
        if methods:
            allow = ", ".join(sorted(methods)).encode()
            items.append(PathItem(template, methods, allow))
    return items


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _local_pointer(reference: object) -> str:
    if not isinstance(reference, str) or not reference.startswith("#"):
        raise UnusableDocument(f"only local references are supported: {reference!r}")
    return reference[1:]


def _pointer(document: Mapping[str, Any], pointer: str) -> Any:
    node: Any = document
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise UnusableDocument(f"unresolvable reference #{pointer}")
    return node


def _resolve(document: Mapping[str, Any], node: Any, depth: int = 0) -> Mapping[str, Any]:
    """Follow a (chain of) local ``$ref`` of a path item or request body."""
    while isinstance(node, Mapping) and "$ref" in node:
        depth += 1
        if depth > 20:
            raise UnusableDocument("reference loop")
        node = _pointer(document, _local_pointer(node["$ref"]))
    if not isinstance(node, Mapping):
        raise UnusableDocument("a path item or request body is not an object")
    return node


def _check_references(document: Mapping[str, Any], schema: Any) -> bool:
    """Every $ref reachable from ``schema`` is local and resolves (checked once, at load time,
    so that validation never meets an unresolvable reference on the request path); whether
    there is any."""
    seen: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference not in seen:
                seen.add(reference)
                pending.append(_pointer(document, _local_pointer(reference)))
            pending.extend(value for key, value in node.items() if key != "$ref")
        elif isinstance(node, list):
            pending.extend(node)
    return bool(seen)


def _json_media_type(content: Mapping[str, Any]) -> str | None:
    """``application/json`` if listed, else the first JSON media type (``...+json``)."""
    if "application/json" in content:
        return "application/json"
    for media in content:
        base = media.split(";", 1)[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            return media
    return None


def validate_body(
    validator: Validator, body: bytes, required: bool | None = None
) -> list[SchemaError]:
    """Errors of a JSON body against the service's schema (at most 20), [] if it is valid.

    ``required``: from the operation's requestBody (False: an empty body is accepted; True: an
    empty body is refused); None: no operation says, the empty body is validated as ``null``.
    """
    if not body and required is not None:
        if required:
            return [SchemaError("", "a request body is required")]
        return []
    try:
        document: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError) as error:
        return [SchemaError("", f"invalid JSON: {error}")]
    if validator.is_valid(document):
        return []
    errors = []
    for problem in validator.iter_errors(document):
        field = ".".join(str(part) for part in problem.absolute_path)
        errors.append(SchemaError(field, problem.message))
        if len(errors) >= 20:
            break
    return errors
