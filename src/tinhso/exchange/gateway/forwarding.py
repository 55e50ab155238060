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
from tinhso.exchange.gateway.admission import PathRejected, find_grant, split_path
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
    P_INVALID_TOKEN,
    P_MALFORMED_BODY,
    P_MALFORMED_REQUEST,
    P_METHOD_NOT_ALLOWED,
    P_NO_GRANT,
    P_NOT_FOUND,
    P_NOT_GRANTED,
    P_NOT_READY,
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
from tinhso.exchange.policy import InvalidAccessToken
from tinhso.exchange.standard import validate_body

if TYPE_CHECKING:
    from tinhso.exchange.gateway.app import Gateway
    from tinhso.exchange.gateway.http.server import Refused

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
        "at", "bytes_in", "bytes_out", "consumer", "grant_id", "lang_vi", "method", "path",
        "path_template", "request_id", "request_sha256", "response_sha256", "service", "started",
    )  # fmt: skip

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


# One flat function on purpose: the hot path, in the order of the checks (no call overhead).
async def handle(  # noqa: PLR0911, PLR0912, PLR0915
    gateway: Gateway, scope: Scope, receive: Receive, send: Send
) -> None:
    """Check and forward one exchange (an ASGI ``http`` scope) and write its audit record."""
    path: str = scope["path"]
    method: str = scope["method"]
    raw_path: bytes = scope.get("raw_path") or path.encode()
    # The audit record keeps the path as received (the server takes only ASCII request paths).
    exchange = _Exchange(method, raw_path[:PATH_MAX].decode("latin-1"))

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

    snapshot = gateway.registry.snapshot
    if snapshot is None:
        await _refuse(gateway, exchange, send, P_NOT_READY, headers=[(b"retry-after", b"2")])
        return
    try:
        routed = split_path(raw_path)
    except PathRejected:
        await _refuse(gateway, exchange, send, P_BAD_PATH)
        return

    # Who is calling: a bearer token, or a client certificate that a trusted TLS terminator
    # verified (mutual TLS), or both, naming the same system.
    by_certificate: str | None = None
    if certificate is not None and gateway.certificates.trusts(scope.get("client")):
        try:
            fingerprint = gateway.certificates.fingerprint(certificate)
        except ValueError:
            fingerprint = ""
        by_certificate = snapshot.certificates.get(fingerprint)
        if by_certificate is None:
            await _refuse(gateway, exchange, send, P_UNKNOWN_CERTIFICATE)
            return
    if authorization is None or authorization[:7].lower() != b"bearer ":
        if by_certificate is None:
            unauthenticated = [(b"www-authenticate", b"Bearer")]
            await _refuse(gateway, exchange, send, P_UNAUTHENTICATED, headers=unauthenticated)
            return
        consumer = by_certificate
    else:
        try:
            consumer = gateway.tokens.identify(
                authorization[7:].strip().decode(), snapshot
            ).consumer
        except (InvalidAccessToken, ValueError, UnicodeDecodeError):
            await _refuse(
                gateway,
                exchange,
                send,
                P_INVALID_TOKEN,
                headers=[(b"www-authenticate", b'Bearer error="invalid_token"')],
            )
            return
        if by_certificate is not None and by_certificate != consumer:
            exchange.consumer = consumer
            await _refuse(gateway, exchange, send, P_CERTIFICATE_MISMATCH)
            return
    exchange.consumer = consumer
    if reserved:
        await _refuse(gateway, exchange, send, P_RESERVED_HEADER)
        return

    # Which service, and may this consumer call it like this.
    service = snapshot.services.get(routed.route)
    if service is None:
        await _refuse(gateway, exchange, send, P_NOT_FOUND)
        return
    exchange.service = service.key
    if not service.callable:
        await _refuse(gateway, exchange, send, P_RETIRED)
        return
    grant, pattern, has_any = find_grant(
        snapshot, consumer, service, method, routed.rest, exchange.at
    )
    if grant is None:
        await _refuse(gateway, exchange, send, P_NOT_GRANTED if has_any else P_NO_GRANT)
        return
    exchange.grant_id, exchange.path_template = grant.id, pattern
    # Which operation of the service's OpenAPI document (if it has one).
    validator = gateway.registry.validators.get(service.id)
    body_required: bool | None = None
    operations = gateway.registry.validators.operations.get(service.id)
    if operations is not None:
        operation, path_item = operations.match(method, routed.rest)
        if operation is None:
            if path_item is None:
                await _refuse(gateway, exchange, send, P_UNKNOWN_OPERATION)
            else:
                allow = [(b"allow", path_item.allow)]
                await _refuse(gateway, exchange, send, P_METHOD_NOT_ALLOWED, headers=allow)
            return
        exchange.path_template = operation.template
        validator, body_required = operation.validator, operation.body_required
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            declared = -1
        if declared > service.max_request_bytes or declared < 0:
            await _refuse(gateway, exchange, send, P_TOO_LARGE)
            return

    # Rate limit and quota.
    if gateway.redis_limiter is not None:
        decision = await gateway.redis_limiter.check(grant)
    else:
        decision = gateway.local_limiter.check(grant)
    if not decision.allowed:
        problem = P_QUOTA if decision.reason == "quota" else P_RATE
        retry = [(b"retry-after", str(decision.retry_after).encode())]
        await _refuse(gateway, exchange, send, problem, headers=retry)
        return
    if grant.quota_per_day is not None:
        gateway.metrics.set_quota(service.key, consumer, decision.quota_used)

    # The body: buffered (and validated) unless it is large and unvalidated, then streamed;
    # while it arrives it counts among the consumer's uploads in progress (bounded in number
    # and in time).
    digest = hashlib.sha256()
    body: bytes | AsyncIterator[bytes]
    uploads = gateway.uploads
    uploading = False
    if (
        content_length is None
        and not chunked
        and method not in _BODY_METHODS
        and scope.get("http_version") in _HTTP1
    ):
        # HTTP/1.x without Content-Length or Transfer-Encoding: no body (RFC 9112 6.3).
        body = b""
        exchange.request_sha256 = _EMPTY_SHA256
    else:
        try:
            uploads.begin(consumer)
        except TooManyUploads:
            retry = [(b"retry-after", b"1")]
            await _refuse(gateway, exchange, send, P_TOO_MANY_UPLOADS, headers=retry)
            return
        uploading = True
        limit = service.max_request_bytes
        try:
            if (
                method in _BODY_METHODS
                and validator is None
                and (content_length is None or int(content_length) > _STREAM_REQUEST_OVER)
            ):
                body, more = await first_part(receive, limit)
                if more:  # the rest is streamed to the provider as it comes
                    deadline = time.monotonic() + uploads.left(exchange.started)
                    body = stream_body(receive, exchange, digest, limit, body, deadline)
            else:
                body = await read_body(receive, limit, uploads, exchange.started)
        except BodyTooLarge:
            uploads.end(consumer)
            await _refuse(gateway, exchange, send, P_TOO_LARGE)
            return
        except BodyTimeout:
            uploads.end(consumer)
            await _refuse(gateway, exchange, send, P_BODY_TIMEOUT)
            return
        except ConsumerGone:
            uploads.end(consumer)
            await _finish(gateway, exchange, CLIENT_GONE, "client_disconnected")
            return
        except RequestMalformed:
            uploads.end(consumer)
            await _refuse(gateway, exchange, send, P_MALFORMED_BODY)
            return
        except BaseException:  # cancelled: the count must not leak
            uploads.end(consumer)
            raise
        if isinstance(body, bytes):
            uploads.end(consumer)
            uploading = False
            exchange.bytes_in = len(body)
            digest.update(body)
            exchange.request_sha256 = digest.hexdigest() if body else _EMPTY_SHA256
            if validator is not None and method in _BODY_METHODS:
                problems = validate_body(validator, body, body_required)
                if problems:
                    errors = [
                        {
                            "field": p.field,
                            "message": {"vi": "Không đúng lược đồ: " + p.message, "en": p.message},
                        }
                        for p in problems
                    ]
                    await _refuse(gateway, exchange, send, P_SCHEMA, errors=errors)
                    return

    # The breaker is asked only now: a slow body does not hold the half-open probe.
    route = gateway.route(service)
    now = time.monotonic()
    if not route.breaker.allow(now):
        if uploading:
            uploads.end(consumer)
        retry = [(b"retry-after", str(route.breaker.retry_after(now)).encode())]
        await _refuse(gateway, exchange, send, P_CIRCUIT, headers=retry)
        return

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
            if uploading:
                uploads.end(consumer)
    except BodyTooLarge:
        route.breaker.probing = False
        await _refuse(gateway, exchange, send, P_TOO_LARGE)
        return
    except ConsumerGone:
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        await _finish(gateway, exchange, CLIENT_GONE, "client_disconnected")
        return
    except RequestMalformed:  # a streamed body: the provider saw it cut off
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        await _refuse(gateway, exchange, send, P_MALFORMED_BODY)
        return
    except BodyTimeout:
        route.breaker.probing = False
        exchange.request_sha256 = digest.hexdigest()
        await _refuse(gateway, exchange, send, P_BODY_TIMEOUT)
        return
    except UpstreamAddressRefused:
        route.breaker.probing = False  # the policy refused it: no provider was contacted
        await _refuse(gateway, exchange, send, P_ADDRESS_REFUSED)
        return
    except UpstreamTimeout:
        route.breaker.failure(time.monotonic())
        await _refuse(gateway, exchange, send, P_TIMEOUT)
        return
    except UpstreamResponseTooLarge:
        route.breaker.success()
        await _refuse(gateway, exchange, send, P_RESPONSE_TOO_LARGE)
        return
    except ValueError:  # CR, LF or space in the target or a header: the consumer's doing
        route.breaker.probing = False
        await _refuse(gateway, exchange, send, P_BAD_REQUEST)
        return
    except UpstreamError as error:
        if error.consumer_paced:
            # The provider stopped waiting for a body the consumer was sending too slowly: the
            # consumer's doing, not a provider failure.
            route.breaker.probing = False
            exchange.request_sha256 = digest.hexdigest()
            await _refuse(gateway, exchange, send, P_BODY_TIMEOUT)
            return
        route.breaker.failure(time.monotonic())
        await _refuse(gateway, exchange, send, P_BAD_GATEWAY)
        return
    if not isinstance(body, bytes):
        exchange.request_sha256 = digest.hexdigest()

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

    # Streamed: the record is made durable before the last chunk goes out. It counts what
    # was handed to the consumer's connection: if the consumer leaves, the record says so
    # (499, the bytes sent) and the provider's answer is not read any further.
    status, outcome = response.status, "ok"
    out_digest = hashlib.sha256()
    try:
        async for chunk in response.stream:
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
