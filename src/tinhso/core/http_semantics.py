"""HTTP semantics (RFC 9110) that several parts rely on: method classes and hop-by-hop headers.

One definition for the control plane (CSRF checks, HEAD/OPTIONS handling) and the gateway
(what is forwarded, what may be retried), as ``str`` for frameworks and as ``bytes`` for the
gateway's own HTTP server. No web framework is imported here.
"""

from __future__ import annotations

from typing import Final

# §9.2.1: methods that do not change the server's state.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# §9.2.2: methods whose repetition has the effect of one request (may be retried).
IDEMPOTENT_METHODS: Final = SAFE_METHODS | {"PUT", "DELETE"}
# Methods whose request carries content that a data standard describes.
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
# Operations an OpenAPI 3 path item may declare, in its order.
OPENAPI_OPERATIONS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

IDEMPOTENT_METHODS_BYTES: Final = frozenset(method.encode() for method in IDEMPOTENT_METHODS)
BODY_METHODS_BYTES: Final = frozenset(method.encode() for method in BODY_METHODS)

# §7.6.1: headers of one connection, never forwarded by an intermediary (lower-case).
HOP_BY_HOP_HEADERS: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer"}
    | {b"transfer-encoding", b"upgrade"}
)
