"""HEAD, OPTIONS and 405 as HTTP (RFC 9110) requires them, for every route of the control plane.

- HEAD is answered wherever GET is, with GET's status and headers (Content-Length
  included) and no body (§9.3.2). FastAPI routes only list the methods they declare.
- OPTIONS on a known path answers 204 with ``Allow`` listing its methods (§9.3.7);
  on an unknown path, the usual 404.
- A 405 carries ``Allow`` with every method of the path, HEAD and OPTIONS included
  (§15.5.6); its body is the usual error (problem+json for the API and for clients
  asking for JSON).

A plain ASGI middleware; the route table is only consulted for OPTIONS and 405.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Match, Mount

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """The methods some route of ``app`` answers on this path (empty: no such path)."""
    methods: set[str] = set()
    probe = {"type": "http", "method": "GET", "path": scope["path"]}
    probe["root_path"] = scope.get("root_path", "")
    for route in iter_route_contexts(app.routes):
        match, _ = route.matches(probe)
        if match is Match.NONE:
            continue
        if isinstance(route.original_route, Mount):
            methods |= {"GET"}  # static files
        else:
            methods |= set(getattr(route, "methods", None) or ())
    if not methods:
        return []
    if "GET" in methods:
        methods.add("HEAD")
    methods.add("OPTIONS")
    return sorted(methods, key=lambda m: _ORDER.index(m) if m in _ORDER else len(_ORDER))


class HttpMethodsMiddleware:
    def __init__(self, app: ASGIApp, routes_of: Any) -> None:
        self.app = app
        self.routes_of = routes_of  # the FastAPI app whose routes are consulted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            allowed = allowed_methods(self.routes_of, scope)
            if allowed:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(allowed).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        asked = {
            "path": scope["path"],
            "root_path": scope.get("root_path", ""),
        }  # routing rewrites scope

        async def send_answer(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = allowed_methods(self.routes_of, asked)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", ", ".join(allowed).encode()))
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_answer)
