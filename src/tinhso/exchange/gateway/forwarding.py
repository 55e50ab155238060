"""One exchange through the gateway: the checks, in order, and the forwarding to the provider.

:func:`handle` takes an ASGI ``http`` request for ``/{org}/{system}/{service}/{version}/{rest...}``
and answers it with the provider's response or a problem+json refusal: path check, who calls
(token verified once, then cached; or a client certificate vouched for by a trusted TLS
terminator), grant, the operation of the service's OpenAPI document (if it has one), rate
limit and quota, request schema, then forwarding over pooled keep-alive connections with the
service's timeout and a circuit breaker per service and provider origin. Every exchange,
allowed or refused, gets its audit record, durable before the consumer gets the answer (for a
streamed response: before its last chunk).

Whose fault is it: only the provider's failures count on its breaker. A request body that is
late (its deadline, :class:`tinhso.exchange.gateway.http.body.Uploads`) or that the provider stopped
waiting for is the consumer's (408), and so is an answer it left before the end: the record
then says what was delivered (499, the bytes sent) and the provider's answer is no longer read.
The process's state (registry, caches, pools, audit log) is
:class:`tinhso.exchange.gateway.app.Gateway`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from tinhso.core.db import utcnow
from tinhso.core.http_semantics import BODY_METHODS, HOP_BY_HOP_HEADERS, IDEMPOTENT_METHODS
from tinhso.exchange.audit.chain import PATH_MAX, AuditEntry
from tinhso.exchange.gateway.admission import PathRejected, RoutedPath, find_grant, split_path
from tinhso.exchange.gateway.http.body import (
    BodyTimeout,
    BodyTooLarge,
    ConsumerGone,
    TooManyUploads,
    first_part,
    read_body,
    stream_body,
)
from tinhso.exchange.gateway.http.request import RequestMalformed
from tinhso.exchange.gateway.refusals import (
    HTTP_REFUSALS,
    P_ADDRESS_REFUSED,
    P_BAD_GATEWAY,
    P_BAD_PATH,
    P_BAD_REQUEST,
    P_BODY_TIMEOUT,
    P_CERTIFICATE_MISMATCH,
    P_CIRCUIT,
    P_CONSUMER_DISABLED,
    P_INVALID_TOKEN,
    P_MALFORMED_BODY,
    P_MALFORMED_REQUEST,
    P_METHOD_NOT_ALLOWED,
    P_NO_GRANT,
    P_NOT_FOUND,
    P_NOT_GRANTED,
    P_NOT_READY,
    P_PROVIDER_DISABLED,
    P_QUOTA,
    P_RATE,
    P_RESERVED_HEADER,
    P_RESPONSE_TOO_LARGE,
    P_RETIRED,
    P_SCHEMA,
    P_TIMEOUT,
    P_TOO_LARGE,
    P_TOO_MANY_UPLOADS,
    P_UNAUTHENTICATED,
    P_UNKNOWN_CERTIFICATE,
    P_UNKNOWN_OPERATION,
    Refusal,
)
from tinhso.exchange.gateway.upstream import (
    UpstreamAddressRefused,
    UpstreamConnectError,
    UpstreamError,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
)
from tinhso.exchange.policy import InvalidAccessToken, OrganisationDisabled
from tinhso.exchange.standard import validate_body

if TYPE_CHECKING:
    from tinhso.exchange.gateway.app import Gateway, _Route
    from tinhso.exchange.gateway.http.server import Refused
    from tinhso.exchange.gateway.limits import Decision
    from tinhso.exchange.gateway.upstream import UpstreamResponse
    from tinhso.exchange.policy import ExchangeSnapshot, GrantEntry, ServiceEntry
    from tinhso.exchange.standard import BodySchema

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PROBLEM_JSON = b"application/problem+json"
# Hop-by-hop (RFC 9110 7.6.1) and credentials: never forwarded to a provider. Then the headers
# that providers or their frameworks trust for routing or for who is calling (Spring, IIS and
# Symfony read X-Original-URL / X-Rewrite-URL as the path; X-Forwarded-*, X-Real-IP,
# X-Client-IP and Forwarded as the client; X-SSL-* as a TLS terminator's verdict): whatever a
# consumer sends there is dropped, the gateway sets its own.
_DROP_REQUEST = HOP_BY_HOP_HEADERS | frozenset(
    {
        b"host", b"content-length", b"expect",
        b"authorization", b"proxy-authorization", b"forwarded", b"x-real-ip",
        b"x-client-ip", b"x-original-url", b"x-rewrite-url", b"x-forwarded",
    }
)  # fmt: skip
_DROP_PREFIXES = (b"x-forwarded-", b"x-ssl-", b"x-tinhso-")
_FORWARDABLE: dict[bytes, bool] = {}  # header name -> forwarded? (bounded cache)


def _forwardable(name: bytes) -> bool:
    """Whether a consumer's header (lower-case name) may reach the provider.

    A name that is one of the dropped ones with ``_`` for ``-`` is dropped too: WSGI and CGI
    providers see ``X_Forwarded_For`` and ``X-Forwarded-For`` as the same ``HTTP_X_FORWARDED_FOR``.
    """
    dashed = name.replace(b"_", b"-")
    keep = dashed not in _DROP_REQUEST and not dashed.startswith(_DROP_PREFIXES)
    if len(_FORWARDABLE) < 4096:
        _FORWARDABLE[name] = keep
    return keep


_IDEMPOTENT = IDEMPOTENT_METHODS
_BODY_METHODS = BODY_METHODS
_HTTP1 = frozenset({"1.1", "1.0"})
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_STREAM_REQUEST_OVER = 256 * 1024
CLIENT_GONE = 499  # audit status of an exchange the consumer abandoned (nginx's)


_ids = [uuid.uuid4().hex[:16], itertools.count(1)]  # renewed in each process: new_request_ids()


def new_request_ids() -> None:
    """A new random prefix for this process's request ids (a forked worker gets its own)."""
    _ids[:] = [uuid.uuid4().hex[:16], itertools.count(1)]


def _next_request_id() -> str:
    """32 hex digits like a UUID (random per process + counter), without a syscall each."""
    return f"{_ids[0]}{next(_ids[1]):016x}"  # type: ignore[call-overload]


class _Exchange:
    """What one request accumulates for its answer, its audit record and its metrics."""

    __slots__ = (
        "at",
        "authorization",
        "body_required",
        "bytes_in",
        "bytes_out",
        "certificate",
        "chunked",
        "consumer",
        "content_length",
        "grant_id",
        "lang_vi",
        "method",
        "path",
        "path_template",
        "request_id",
        "request_sha256",
        "reserved",
        "response_sha256",
        "service",
        "started",
        "validator",
    )  # fmt: skip
    # Set by the steps of handle(): read_head() (what the checks need of the request's
    # headers) and match_operation() (the request schema in force).
    authorization: bytes | None
    certificate: bytes | None
    content_length: bytes | None
    chunked: bool
    reserved: bool
    validator: BodySchema | None
    body_required: bool | None

    def __init__(self, method: str, path: str) -> None:
        self.started = time.perf_counter()
        self.at = utcnow()
        self.request_id = _next_request_id()
        self.method, self.path = method, path
        self.consumer: str | None = None
        self.service: str | None = None
        self.grant_id: int | None = None
        self.path_template: str | None = None
        self.request_sha256: str | None = None
        self.response_sha256: str | None = None
        self.bytes_in = self.bytes_out = 0
        self.lang_vi = True


async def _finish(gateway: Gateway, exchange: _Exchange, status: int, outcome: str) -> None:
    """Write the audit record (durable before the answer) and count the exchange."""
    elapsed = time.perf_counter() - exchange.started
    entry = AuditEntry(
        recorded_at=exchange.at,
        request_id=exchange.request_id,
        method=exchange.method[:16],
        status=status,
        outcome=outcome,
        latency_us=int(elapsed * 1_000_000),
        bytes_in=exchange.bytes_in,
        bytes_out=exchange.bytes_out,
        consumer=exchange.consumer,
        service=exchange.service,
        grant_id=exchange.grant_id,
        path_template=exchange.path_template,
        path=exchange.path,
        request_sha256=exchange.request_sha256,
        response_sha256=exchange.response_sha256,
    )
    await gateway.audit.record(entry)
    gateway.metrics.observe(exchange.service or "-", exchange.consumer or "-", status, elapsed)
    if outcome != "ok":
        gateway.metrics.errors.labels(
            exchange.service or "-", exchange.consumer or "-", outcome
        ).inc()


async def _refuse(
    gateway: Gateway,
    exchange: _Exchange,
    send: Send,
    problem: Refusal,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body: dict[str, Any] = {
        "type": f"urn:tinhso:problem:{problem.code}",
        "title": problem.en,
        "status": problem.status,
        "detail": problem.vi if exchange.lang_vi else problem.en,
        "code": problem.code,
        "message": {"vi": problem.vi, "en": problem.en},
        "instance": exchange.path[:200],
        "request_id": exchange.request_id,
    }
    if errors:
        body["errors"] = errors
    data = json.dumps(body, ensure_ascii=False).encode()
    exchange.bytes_out = len(data)
    exchange.response_sha256 = hashlib.sha256(data).hexdigest()
    await _finish(gateway, exchange, problem.status, problem.code)
    out = [
        (b"content-type", PROBLEM_JSON),
        (b"content-length", b"%d" % len(data)),
        (b"x-tinhso-request-id", exchange.request_id.encode()),
        (b"cache-control", b"no-store"),
    ]
    if headers:
        out.extend(headers)
    await send({"type": "http.response.start", "status": problem.status, "headers": out})
    await send({"type": "http.response.body", "body": data})


async def refuse_unparsed(
    gateway: Gateway, refused: Refused
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A request the HTTP server refused itself (malformed, 414, 431, 505, head timeout):
    counted and audited like any refusal, with the consumer its token names if it carries a
    valid one; the problem+json answer (headers, body) for the server to send."""
    target = refused.target.partition(b"?")[0]
    exchange = _Exchange(refused.method or "-", target[:PATH_MAX].decode("latin-1"))
    snapshot = gateway.registry.snapshot
    for name, value in refused.headers:
        if name == b"accept-language":
            exchange.lang_vi = not value.lower().startswith(b"en")
        elif name == b"authorization" and value[:7].lower() == b"bearer " and snapshot:
            try:
                identity = gateway.tokens.identify(value[7:].strip().decode(), snapshot)
            except (InvalidAccessToken, ValueError, UnicodeDecodeError):
                continue
            exchange.consumer = identity.consumer
    answer: list[Message] = []

    async def keep(message: Message) -> None:
        answer.append(message)

    problem = HTTP_REFUSALS.get(refused.code, P_MALFORMED_REQUEST)
    await _refuse(gateway, exchange, keep, problem)
    return list(answer[0]["headers"]), bytes(answer[1]["body"])


class _Refuse(Exception):
    """A step's verdict: the exchange is refused with this problem (and these headers or
    field errors). Only the steps of :func:`handle` raise it, and only :func:`handle` answers
    it, so the refusals cost nothing on the way of an allowed exchange."""

    __slots__ = ("errors", "headers", "problem")

    def __init__(
        self,
        problem: Refusal,
        headers: list[tuple[bytes, bytes]] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(problem.code)
        self.problem, self.headers, self.errors = problem, headers, errors


# Headers of refusals that never vary (``_refuse`` copies them, never changes them).
_RETRY_NOT_READY = [(b"retry-after", b"2")]
_RETRY_UPLOADS = [(b"retry-after", b"1")]
_UNAUTHENTICATED = [(b"www-authenticate", b"Bearer")]
_INVALID_TOKEN = [(b"www-authenticate", b'Bearer error="invalid_token"')]


async def handle(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """Check and forward one exchange (an ASGI ``http`` scope) and write its audit record.

    The steps, in the order of the checks: the request head, the registry and the path, who
    calls, which service, the grant, the operation, the declared size, rate limit and quota,
    the body and its data standard, the provider's breaker, the call, the answer. A step that
    refuses raises :class:`_Refuse` (or :class:`ConsumerGone` when the consumer has left),
    answered and audited here; the answer's own failures are :func:`relay_answer`'s.
    """
    method: str = scope["method"]
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    # The audit record keeps the path as received (the server takes only ASCII request paths).
    exchange = _Exchange(method, raw_path[:PATH_MAX].decode("latin-1"))
    forwarded = read_head(gateway, scope, exchange)
    try:
        snapshot = gateway.registry.snapshot
        if snapshot is None:
            raise _Refuse(P_NOT_READY, _RETRY_NOT_READY)
        try:
            routed = split_path(raw_path)
        except PathRejected:
            raise _Refuse(P_BAD_PATH) from None
        consumer = identify_consumer(gateway, scope, snapshot, exchange)
        service = find_service(snapshot, routed, exchange)
        grant = admit_grant(snapshot, consumer, service, routed, exchange)
        match_operation(gateway, service, routed, exchange)
        check_declared_size(service, exchange)
        if gateway.redis_limiter is not None:
            decision = await gateway.redis_limiter.check(grant)
        else:
            decision = gateway.local_limiter.check(grant)
        apply_limits(gateway, decision, grant, service, consumer)
        digest = hashlib.sha256()
        body: bytes | AsyncIterator[bytes]
        if (
            exchange.content_length is None
            and not exchange.chunked
            and method not in _BODY_METHODS
            and scope.get("http_version") in _HTTP1
        ):
            # HTTP/1.x without Content-Length or Transfer-Encoding: no body (RFC 9112 6.3).
            body = b""
            exchange.request_sha256 = _EMPTY_SHA256
        else:
            body = await read_request_body(gateway, receive, service, consumer, digest, exchange)
        route = open_route(gateway, service, consumer, body)
        target = address_provider(scope, route, routed, consumer, grant, forwarded, exchange)
        response = await call_provider(
            gateway, route, target, forwarded, body, service, consumer, digest, exchange
        )
    except _Refuse as refusal:
        await _refuse(
            gateway, exchange, send, refusal.problem, headers=refusal.headers, errors=refusal.errors
        )
        return
    except ConsumerGone:
        await _finish(gateway, exchange, CLIENT_GONE, "client_disconnected")
        return
    await relay_answer(gateway, route, response, send, exchange)


def read_head(gateway: Gateway, scope: Scope, exchange: _Exchange) -> list[tuple[bytes, bytes]]:
    """What the checks need of the request's headers (kept on ``exchange``), and the headers
    that may reach the provider."""
    authorization = content_length = certificate = None
    reserved = chunked = False
    nominated: set[bytes] = set()
    forwarded: list[tuple[bytes, bytes]] = []
    certificate_header = gateway.certificates.header
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == certificate_header:  # from the TLS terminator; never forwarded
            certificate = value
            continue
        elif name == b"content-length":
            content_length = value
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"accept-language":
            exchange.lang_vi = not value.lower().startswith(b"en")
        elif name.startswith(b"x-tinhso-"):
            reserved = True
        elif name == b"connection" and value.lower() not in (b"keep-alive", b"close"):
            nominated = {part.strip().lower() for part in value.split(b",")}
        keep = _FORWARDABLE.get(name)
        if keep is None:
            keep = _forwardable(name)
        if keep:
            forwarded.append((name, value))
    if nominated:  # headers the Connection header names are hop-by-hop too (RFC 9110 7.6.1)
        forwarded = [(name, value) for name, value in forwarded if name not in nominated]
    exchange.authorization, exchange.certificate = authorization, certificate
    exchange.content_length, exchange.chunked, exchange.reserved = content_length, chunked, reserved
    return forwarded


def identify_consumer(
    gateway: Gateway, scope: Scope, snapshot: ExchangeSnapshot, exchange: _Exchange
) -> str:
    """Who is calling: a bearer token, or a client certificate that a trusted TLS terminator
    verified (mutual TLS), or both, naming the same system."""
    by_certificate: str | None = None
    certificate = exchange.certificate
    if certificate is not None and gateway.certificates.trusts(scope.get("client")):
        try:
            fingerprint = gateway.certificates.fingerprint(certificate)
        except ValueError:
            fingerprint = ""
        by_certificate = snapshot.certificates.get(fingerprint)
        if by_certificate is None:
            raise _Refuse(P_UNKNOWN_CERTIFICATE)
    authorization = exchange.authorization
    if authorization is None or authorization[:7].lower() != b"bearer ":
        if by_certificate is None:
            raise _Refuse(P_UNAUTHENTICATED, _UNAUTHENTICATED)
        consumer = by_certificate
    else:
        try:
            consumer = gateway.tokens.identify(
                authorization[7:].strip().decode(), snapshot
            ).consumer
        except OrganisationDisabled as disabled:
            exchange.consumer = str(disabled)
            raise _Refuse(P_CONSUMER_DISABLED) from None
        except (InvalidAccessToken, ValueError, UnicodeDecodeError):
            raise _Refuse(P_INVALID_TOKEN, _INVALID_TOKEN) from None
        if by_certificate is not None and by_certificate != consumer:
            exchange.consumer = consumer
            raise _Refuse(P_CERTIFICATE_MISMATCH)
    exchange.consumer = consumer
    if exchange.reserved:
        raise _Refuse(P_RESERVED_HEADER)
    return consumer


def find_service(
    snapshot: ExchangeSnapshot, routed: RoutedPath, exchange: _Exchange
) -> ServiceEntry:
    """Which service the path names, if it is still callable."""
    service = snapshot.services.get(routed.route)
    if service is None:
        raise _Refuse(P_NOT_FOUND)
    exchange.service = service.key
    if service.organisation in snapshot.disabled_organisations:
        raise _Refuse(P_PROVIDER_DISABLED)
    if not service.callable:
        raise _Refuse(P_RETIRED)
    return service


def admit_grant(
    snapshot: ExchangeSnapshot,
    consumer: str,
    service: ServiceEntry,
    routed: RoutedPath,
    exchange: _Exchange,
) -> GrantEntry:
    """The grant under which this consumer may call the service like this."""
    grant, pattern, has_any = find_grant(
        snapshot, consumer, service, exchange.method, routed.rest, exchange.at
    )
    if grant is None:
        raise _Refuse(P_NOT_GRANTED if has_any else P_NO_GRANT)
    exchange.grant_id, exchange.path_template = grant.id, pattern
    return grant


def match_operation(
    gateway: Gateway, service: ServiceEntry, routed: RoutedPath, exchange: _Exchange
) -> None:
    """Which operation of the service's OpenAPI document (if it has one) is called: its
    request schema (or the service's) and whether it requires a body, kept on ``exchange``."""
    validators = gateway.registry.validators
    exchange.validator = validators.get(service.id)
    exchange.body_required = None
    operations = validators.operations.get(service.id)
    if operations is not None:
        operation, path_item = operations.match(exchange.method, routed.rest)
        if operation is None:
            if path_item is None:
                raise _Refuse(P_UNKNOWN_OPERATION)
            raise _Refuse(P_METHOD_NOT_ALLOWED, [(b"allow", path_item.allow)])
        exchange.path_template = operation.template
        exchange.validator, exchange.body_required = operation.validator, operation.body_required


def check_declared_size(service: ServiceEntry, exchange: _Exchange) -> None:
    """A declared Content-Length the service would not take is refused before any byte."""
    if exchange.content_length is not None:
        try:
            declared = int(exchange.content_length)
        except ValueError:
            declared = -1
        if declared > service.max_request_bytes or declared < 0:
            raise _Refuse(P_TOO_LARGE)


def apply_limits(
    gateway: Gateway, decision: Decision, grant: GrantEntry, service: ServiceEntry, consumer: str
) -> None:
    """The grant's rate limit and daily quota (``decision`` of the limiter in use)."""
    if not decision.allowed:
        problem = P_QUOTA if decision.reason == "quota" else P_RATE
        raise _Refuse(problem, [(b"retry-after", str(decision.retry_after).encode())])
    if grant.quota_per_day is not None:
        gateway.metrics.set_quota(service.key, consumer, decision.quota_used)


async def read_request_body(
    gateway: Gateway,
    receive: Receive,
    service: ServiceEntry,
    consumer: str,
    digest: hashlib._Hash,
    exchange: _Exchange,
) -> bytes | AsyncIterator[bytes]:
    """The body: buffered (and validated) unless it is large and unvalidated, then streamed;
    while it arrives it counts among the consumer's uploads in progress (bounded in number and
    in time). A streamed body still counts when this returns: the call ends its upload."""
    uploads = gateway.uploads
    try:
        uploads.begin(consumer)
    except TooManyUploads:
        raise _Refuse(P_TOO_MANY_UPLOADS, _RETRY_UPLOADS) from None
    method, content_length, validator = exchange.method, exchange.content_length, exchange.validator
    limit = service.max_request_bytes
    body: bytes | AsyncIterator[bytes]
    try:
        if (
            method in _BODY_METHODS
            and validator is None
            and (content_length is None or int(content_length) > _STREAM_REQUEST_OVER)
        ):
            body, more = await first_part(receive, limit)
            if more:  # the rest is streamed to the provider as it comes
                deadline = time.monotonic() + uploads.left(exchange.started)
                return stream_body(receive, exchange, digest, limit, body, deadline)
        else:
            body = await read_body(receive, limit, uploads, exchange.started)
    except BodyTooLarge:
        uploads.end(consumer)
        raise _Refuse(P_TOO_LARGE) from None
    except BodyTimeout:
        uploads.end(consumer)
        raise _Refuse(P_BODY_TIMEOUT) from None
    except RequestMalformed:
        uploads.end(consumer)
        raise _Refuse(P_MALFORMED_BODY) from None
    except BaseException:  # the consumer gone, or cancelled: the count must not leak
        uploads.end(consumer)
        raise
    uploads.end(consumer)
    exchange.bytes_in = len(body)
    digest.update(body)
    exchange.request_sha256 = digest.hexdigest() if body else _EMPTY_SHA256
    if validator is not None and method in _BODY_METHODS:
        validate_request(validator, body, exchange.body_required)
    return body


def validate_request(validator: BodySchema, body: bytes, required: bool | None) -> None:
    """The body against the service's data standard (its request schema)."""
    problems = validate_body(validator, body, required)
    if problems:
        errors = [
            {
                "field": p.field,
                "message": {"vi": "Không đúng lược đồ: " + p.message, "en": p.message},
            }
            for p in problems
        ]
        raise _Refuse(P_SCHEMA, errors=errors)


def open_route(
    gateway: Gateway, service: ServiceEntry, consumer: str, body: bytes | AsyncIterator[bytes]
) -> _Route:
    """The way to the provider, if its breaker lets the call through. The breaker is asked
    only now: a slow body does not hold the half-open probe."""
    route = gateway.route(service)
    now = time.monotonic()
    if not route.breaker.allow(now):
        if not isinstance(body, bytes):  # a streamed body still uploading
            gateway.uploads.end(consumer)
        raise _Refuse(P_CIRCUIT, [(b"retry-after", str(route.breaker.retry_after(now)).encode())])
    return route


def address_provider(
    scope: Scope,
    route: _Route,
    routed: RoutedPath,
    consumer: str,
    grant: GrantEntry,
    forwarded: list[tuple[bytes, bytes]],
    exchange: _Exchange,
) -> bytes:
    """The provider's request target; the gateway's own headers join the forwarded ones."""
    forwarded.append((b"x-tinhso-consumer", consumer.encode()))
    forwarded.append((b"x-tinhso-request-id", exchange.request_id.encode()))
    forwarded.append((b"x-tinhso-grant", str(grant.id).encode()))
    client = scope.get("client")
    if client:
        forwarded.append((b"x-forwarded-for", str(client[0]).encode()))
    target = route.prefix + routed.raw_rest
    query: bytes = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    return target


async def call_provider(
    gateway: Gateway,
    route: _Route,
    target: bytes,
    forwarded: list[tuple[bytes, bytes]],
    body: bytes | AsyncIterator[bytes],
    service: ServiceEntry,
    consumer: str,
    digest: hashlib._Hash,
    exchange: _Exchange,
) -> UpstreamResponse:
    """The provider's answer (a failed connection retried once for an idempotent request
    with a buffered body); its failures counted on the breaker only when they are its own."""
    method = exchange.method
    timeout = service.timeout_ms / 1000
    try:
        try:
            response = await route.pool.request(method.encode(), target, forwarded, body, timeout)
        except UpstreamConnectError as error:
            if (
                method not in _IDEMPOTENT
                or not isinstance(body, bytes)
                or isinstance(error, UpstreamAddressRefused)
            ):
                raise
            response = await route.pool.request(method.encode(), target, forwarded, body, timeout)
        finally:
            if not isinstance(body, bytes):  # a streamed body: its upload ends with the call
                gateway.uploads.end(consumer)
    except (
        BodyTooLarge,
        ConsumerGone,
        RequestMalformed,
        BodyTimeout,
        UpstreamError,
        ValueError,
    ) as error:
        raise judge_failure(route, error, digest, exchange) from None
    if not isinstance(body, bytes):
        exchange.request_sha256 = digest.hexdigest()
    return response


def judge_failure(  # noqa: PLR0911 - one verdict per kind of failure
    route: _Route, error: Exception, digest: hashlib._Hash, exchange: _Exchange
) -> Exception:
    """Whose fault a failed call is (only the provider's count on its breaker) and what to
    raise for it: the refusal, or :class:`ConsumerGone` when the consumer has left."""
    if isinstance(error, BodyTooLarge):
        route.breaker.probing = False
        return _Refuse(P_TOO_LARGE)
    if isinstance(error, ConsumerGone):
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        return error
    if isinstance(error, RequestMalformed):  # a streamed body: the provider saw it cut off
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        return _Refuse(P_MALFORMED_BODY)
    if isinstance(error, BodyTimeout):
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        return _Refuse(P_BODY_TIMEOUT)
    if isinstance(error, UpstreamAddressRefused):
        route.breaker.probing = False  # the policy refused it: no provider was contacted
        return _Refuse(P_ADDRESS_REFUSED)
    if isinstance(error, UpstreamTimeout):
        route.breaker.failure(time.monotonic())
        return _Refuse(P_TIMEOUT)
    if isinstance(error, UpstreamResponseTooLarge):
        route.breaker.success()
        return _Refuse(P_RESPONSE_TOO_LARGE)
    if isinstance(
        error, ValueError
    ):  # CR, LF or space in the target or a header: the consumer's doing
        route.breaker.probing = False
        return _Refuse(P_BAD_REQUEST)
    if isinstance(error, UpstreamError) and error.consumer_paced:
        # The provider stopped waiting for a body the consumer was sending too slowly: the
        # consumer's doing, not a provider failure.
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        return _Refuse(P_BODY_TIMEOUT)
    route.breaker.failure(time.monotonic())
    return _Refuse(P_BAD_GATEWAY)


async def relay_answer(
    gateway: Gateway, route: _Route, response: UpstreamResponse, send: Send, exchange: _Exchange
) -> None:
    """The provider's answer to the consumer, its record durable before the last of it."""
    headers = response.headers
    headers.append((b"x-tinhso-request-id", exchange.request_id.encode()))
    try:
        # The gateway's server writes the head with the first body part, after the record;
        # it raises OSError when the consumer has already gone (ASGI spec 2.4).
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
    except OSError:
        await response.aclose()
        route.breaker.probing = False
        await _finish(gateway, exchange, CLIENT_GONE, "client_disconnected")
        return
    except ValueError:  # a provider's header the server will not pass on (response splitting)
        await response.aclose()
        route.breaker.failure(time.monotonic())
        await _refuse(gateway, exchange, send, P_BAD_GATEWAY)
        return
    if response.stream is None:
        route.breaker.success()
        data = response.body
        exchange.bytes_out = len(data)
        exchange.response_sha256 = hashlib.sha256(data).hexdigest()
        await _finish(gateway, exchange, response.status, "ok")
        await send({"type": "http.response.body", "body": data})
        return
    await relay_stream(gateway, route, response, response.stream, send, exchange)


async def relay_stream(
    gateway: Gateway,
    route: _Route,
    response: UpstreamResponse,
    stream: AsyncIterator[bytes],
    send: Send,
    exchange: _Exchange,
) -> None:
    """A streamed answer: the record is made durable before the last chunk goes out. It
    counts what was handed to the consumer's connection: if the consumer leaves, the record
    says so (499, the bytes sent) and the provider's answer is not read any further."""
    status, outcome = response.status, "ok"
    out_digest = hashlib.sha256()
    try:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            out_digest.update(chunk)
            exchange.bytes_out += len(chunk)
        route.breaker.success()
    except UpstreamError as error:
        outcome = "provider_timeout" if isinstance(error, UpstreamTimeout) else "provider_error"
        route.breaker.failure(time.monotonic())
    except OSError:
        status, outcome = CLIENT_GONE, "client_disconnected"
        route.breaker.probing = False
    finally:
        await response.aclose()
    exchange.response_sha256 = out_digest.hexdigest()
    await _finish(gateway, exchange, status, outcome)
    if outcome == "client_disconnected":
        return
    if outcome != "ok":
        # The status is already sent: cut the response so the consumer sees it incomplete.
        raise RuntimeError(f"provider failed mid-response ({outcome})")
    with contextlib.suppress(OSError):  # every byte was handed over; only the end is missing
        await send({"type": "http.response.body", "body": b"", "more_body": False})
