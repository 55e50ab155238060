"""The control plane's OpenAPI document, completed with what FastAPI cannot infer.

- Security schemes (bearer token, portal session cookie, the OAuth2 client's HTTP Basic)
  and, per operation, which of them it accepts: an operation whose dependencies include
  the official's identification (``current_principal``) requires one of them; every other
  operation says ``security: []`` (public).
- Errors are RFC 9457 problem+json: the ``Problem`` schema, the 422 FastAPI documents
  rewritten to it, and a ``4XX`` answer on every operation for the refusals a route
  does not list one by one (401, 403, 404, 409, 413, ...). A route that answers an error
  in another shape (the OAuth2 token endpoint's RFC 6749 errors) declares it itself and
  keeps it.
- The page-size maximum of paginated lists (``limit``), which is a setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from tinhso.core.errors import PROBLEM_JSON
from tinhso.core.pagination import PAGE_SIZE_DESCRIPTION
from tinhso.core.query_parameters import QUERY_VALUE_MAX_LENGTH

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.dependencies.models import Dependant

BEARER = "bearerToken"
SESSION = "sessionCookie"
CLIENT_BASIC = "clientSecretBasic"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "An official's API token (POST /api/v1/auth/tokens) / Mã truy cập API "
        "của cán bộ",
    },
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": "tinhso_session",
        "description": "The portal's session cookie; unsafe methods must also send the session's "
        "CSRF token in X-CSRF-Token / Cookie phiên của cổng thông tin; phương thức ghi phải kèm "
        "mã CSRF trong X-CSRF-Token",
    },
    CLIENT_BASIC: {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth2 client_secret_basic (client_id:client_secret); private_key_jwt "
        "sends a client_assertion in the form instead",
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, with the message in Vietnamese and English",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "message"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "message": {"$ref": "#/components/schemas/ProblemMessage"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"$ref": "#/components/schemas/ProblemMessage"},
                },
            },
        },
    },
}
MESSAGE_SCHEMA: dict[str, Any] = {
    "title": "ProblemMessage",
    "type": "object",
    "required": ["vi", "en"],
    "properties": {"vi": {"type": "string"}, "en": {"type": "string"}},
}
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _authenticated_operations(app: FastAPI, requires: Callable[..., Any]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if (
            isinstance(route.original_route, APIRoute)
            and route.include_in_schema
            and requires in set(_calls(route.dependant))
        ):
            path = route.path_format or ""
            found.update((path, method.lower()) for method in route.methods or ())
    return found


def describe_api(
    app: FastAPI,
    *,
    requires_official: Callable[..., Any],
    page_size_max: int,
    client_authenticated: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (built once and kept, as FastAPI does)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemMessage"] = MESSAGE_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    authenticated = _authenticated_operations(app, requires_official)
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if (path, method) in authenticated:
                operation["security"] = [{BEARER: []}, {SESSION: []}]
            elif path in client_authenticated:
                operation["security"] = [{CLIENT_BASIC: []}, {}]
            else:
                operation["security"] = []
            _document_errors(operation)
            _state_page_size(operation, page_size_max)
            _state_query_lengths(operation)
    app.openapi_schema = document
    return document


def _document_errors(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422")
    if validation is not None and _is_fastapi_validation(validation):
        validation["content"] = dict(_PROBLEM_CONTENT)
        validation["description"] = "The request is not valid: problem+json naming each field"
    for status, answer in responses.items():
        if status.startswith("4") and "content" not in answer:
            answer["content"] = dict(_PROBLEM_CONTENT)
    responses.setdefault(
        "4XX",
        {
            "description": "Refused: problem+json (RFC 9457) with a Vietnamese and an English "
            "message / Bị từ chối: problem+json có thông báo tiếng Việt và tiếng Anh",
            "content": dict(_PROBLEM_CONTENT),
        },
    )


def _is_fastapi_validation(answer: dict[str, Any]) -> bool:
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _state_page_size(operation: dict[str, Any], page_size_max: int) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("description") == PAGE_SIZE_DESCRIPTION:
            schema = parameter.setdefault("schema", {})
            target = schema
            if "anyOf" in schema:  # int | None
                target = next(s for s in schema["anyOf"] if s.get("type") == "integer")
            target["maximum"] = page_size_max
            parameter["description"] = f"{PAGE_SIZE_DESCRIPTION}: at most {page_size_max}"


def _string_schemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        yield schema
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield from _string_schemas(schema["items"])
    for alternative in schema.get("anyOf", []):
        yield from _string_schemas(alternative)


def _state_query_lengths(operation: dict[str, Any]) -> None:
    """What `check_query_parameters` refuses: empty and over-long query values."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        for schema in _string_schemas(parameter.get("schema", {})):
            schema.setdefault("minLength", 1)
            schema["maxLength"] = min(
                schema.get("maxLength", QUERY_VALUE_MAX_LENGTH), QUERY_VALUE_MAX_LENGTH
            )
